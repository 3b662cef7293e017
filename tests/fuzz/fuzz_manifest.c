/*
 * fuzz_manifest.c — libFuzzer target for the convox.yml parser: any input
 * either parses or fails with one line "convox.yml:LINE:COL: ..."; a parsed
 * manifest's service environments can be computed and everything freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rackd/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
lookup(const char *name, void *ctx)
{
	(void)ctx;
	return name[0] == 'A' ? "3000" : name[0] == 'B' ? "https:80" : NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *app_env[] = { "A=1", "DATABASE_URL=x", NULL };
	char err[512];
	struct manifest *m;

	m = manifest_parse((const char *)data, size, "convox.yml", lookup, NULL, err, sizeof(err));
	if (m == NULL) {
		if (strncmp(err, "convox.yml:", 11) != 0 || strchr(err, '\n') != NULL)
			abort();   /* every refusal is one line naming its place */
		return 0;
	}
	for (size_t i = 0; i < m->nservices; i++)
		manifest_env_free(manifest_service_env(m, &m->services[i], app_env, err, sizeof(err)));
	manifest_free(m);
	return 0;
}
