/*
 * test_appexport.c — app.json, what `cx apps export` writes and `cx apps
 * import` reads: what the dump writes reads back the same, each malformed
 * or hostile field is refused with its one line, and the release an import
 * promotes is the one that served.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "rackd/appexport.h"

static const char good[] =
	"{\"format\":\"cx-app-export/1\",\"app\":\"shop\",\"rack\":\"a\",\"exported\":5,"
	"\"active\":\"R00000002\","
	"\"releases\":["
	"{\"id\":\"R00000001\",\"build\":\"B00000001\",\"env\":\"\",\"status\":\"replaced\","
	"\"description\":\"first\",\"error\":\"\",\"created\":1},"
	"{\"id\":\"R00000002\",\"build\":\"B00000001\",\"env\":\"A=1\\nSECRET=s=3\\n\","
	"\"status\":\"active\",\"description\":\"env change\",\"error\":\"\",\"created\":2},"
	"{\"id\":\"R00000003\",\"build\":\"\",\"env\":\"A=2\\n\",\"status\":\"created\","
	"\"description\":\"\",\"error\":\"\",\"created\":3}],"
	"\"builds\":[{\"id\":\"B00000001\",\"manifest\":\"services:\\n  web:\\n\","
	"\"warnings\":\"\",\"created\":1,\"elapsed_ms\":7,"
	"\"images\":{\"web\":{\"ref\":\"localhost/cx-a-shop-web:b00000001\",\"config\":{}}}}],"
	"\"scale\":{\"web\":3}}";

static struct appexport_meta *
must_parse(const char *text)
{
	char err[512] = "";
	struct appexport_meta *m = appexport_meta_parse(text, strlen(text), err, sizeof(err));

	if (m == NULL)
		fail_msg("refused: %s", err);
	return m;
}

static void
test_reads_and_round_trips(void **state)
{
	struct appexport_meta *m = must_parse(good), *again;
	char *text;

	(void)state;
	assert_string_equal(m->app, "shop");
	assert_string_equal(m->rack, "a");
	assert_string_equal(m->active, "R00000002");
	assert_int_equal(m->nreleases, 3);
	assert_string_equal(m->releases[1].env, "A=1\nSECRET=s=3\n");
	assert_string_equal(m->releases[1].app, "shop");
	assert_int_equal(m->nbuilds, 1);
	assert_string_equal(m->builds[0].dir, "");
	assert_string_equal(m->builds[0].status, "complete");
	assert_non_null(strstr(m->builds[0].images, "localhost/cx-a-shop-web:b00000001"));
	assert_int_equal(m->nscale, 1);
	assert_string_equal(m->scale_services[0], "web");
	assert_int_equal(m->scale_counts[0], 3);

	text = appexport_meta_dump(m, 9);
	again = must_parse(text);
	assert_int_equal(again->nreleases, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(again->releases[i].id, m->releases[i].id);
		assert_string_equal(again->releases[i].env, m->releases[i].env);
		assert_string_equal(again->releases[i].description, m->releases[i].description);
		assert_int_equal(again->releases[i].created, m->releases[i].created);
	}
	assert_string_equal(again->builds[0].manifest, m->builds[0].manifest);
	assert_string_equal(again->builds[0].images, m->builds[0].images);
	assert_int_equal(again->builds[0].elapsed_ms, 7);
	assert_int_equal(again->scale_counts[0], 3);
	assert_non_null(strstr(text, "\"exported\":9"));
	free(text);
	appexport_meta_free(again);
	appexport_meta_free(m);
}

/* good with the first occurrence of from replaced by to */
static char *
edit(const char *from, const char *to)
{
	const char *at = strstr(good, from);

	assert_non_null(at);
	return xasprintf("%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *from, *to, *want;
	} cases[] = {
		{ "cx-app-export/1", "cx-app-export/9",
		  "format \"cx-app-export/9\" is not cx-app-export/1, the one this rack reads" },
		{ "\"app\":\"shop\"", "\"app\":\"../etc\"", "\"app\" \"../etc\" is not an app name" },
		{ "\"id\":\"R00000001\"", "\"id\":\"r1; rm\"",
		  "release 1: id \"r1; rm\" is not a release id (R and 8 letters or digits)" },
		{ "\"id\":\"R00000003\"", "\"id\":\"R00000001\"", "release R00000001 is there twice" },
		{ "\"build\":\"B00000001\"", "\"build\":\"B99999999\"",
		  "release R00000001 runs build B99999999, which the archive lacks" },
		{ "\"env\":\"A=2\\n\"", "\"env\":\"=oops\\n\"",
		  "release R00000003: env line \"=oops\" is not KEY=VALUE" },
		{ "\"env\":\"A=2\\n\"", "\"env\":\"A B=1\"",
		  "release R00000003: env line \"A B=1\" is not KEY=VALUE" },
		{ "\"status\":\"created\"", "\"status\":\"running\"",
		  "release R00000003: status \"running\" is none of created, promoting, active, failed,"
		  " replaced" },
		{ "\"manifest\":\"services:\\n  web:\\n\"", "\"manifest\":\"\"",
		  "build B00000001 has no manifest (its convox.yml)" },
		{ "\"manifest\":\"services:\\n  web:\\n\"", "\"manifest\":7",
		  "B00000001: \"manifest\" must be a string of at most 1048576 bytes" },
		{ "localhost/cx-a-shop-web:b00000001", "--privileged",
		  "build B00000001: service web's image \"--privileged\" is not an image name" },
		{ "localhost/cx-a-shop-web:b00000001", "x y",
		  "build B00000001: service web's image \"x y\" is not an image name" },
		{ "\"web\":3", "\"web\":101",
		  "scale of web: give a service (at most 31 characters) a whole number from 0 to 100" },
		{ "\"active\":\"R00000002\"", "\"active\":\"R00000009\"",
		  "\"active\" names release R00000009, which is not among the releases" },
		{ "\"exported\":5,", "\"exported\":5,,", "not JSON: line 1 column 66: *" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = edit(cases[i].from, cases[i].to), err[512] = "";
		struct appexport_meta *m = appexport_meta_parse(text, strlen(text), err, sizeof(err));

		if (m != NULL)
			fail_msg("case %zu: accepted", i);
		/* a trailing '*': the parser's own words follow */
		if (strcmp(err, cases[i].want) != 0 && !(cases[i].want[strlen(cases[i].want) - 1] ==
		    '*' && strncmp(err, cases[i].want, strlen(cases[i].want) - 1) == 0))
			fail_msg("case %zu:\n got:  %s\n want: %s", i, err, cases[i].want);
		free(text);
	}
}

static void
test_target(void **state)
{
	struct appexport_meta *m = must_parse(good);
	char *text;

	(void)state;
	/* the one that served, though a newer env-only release exists */
	assert_string_equal(appexport_target(m)->id, "R00000002");
	appexport_meta_free(m);

	/* none served: the newest with a build */
	text = edit("\"active\":\"R00000002\"", "\"active\":\"\"");
	m = must_parse(text);
	assert_string_equal(appexport_target(m)->id, "R00000002");
	appexport_meta_free(m);
	free(text);

	/* the active one has no build: the newest with one */
	text = edit("\"active\":\"R00000002\"", "\"active\":\"R00000003\"");
	m = must_parse(text);
	assert_string_equal(appexport_target(m)->id, "R00000002");
	appexport_meta_free(m);
	free(text);

	/* no build at all: nothing to promote */
	m = must_parse("{\"format\":\"cx-app-export/1\",\"app\":\"e\",\"active\":\"\","
	    "\"releases\":[{\"id\":\"R1\",\"build\":\"\",\"env\":\"A=1\\n\",\"status\":\"created\","
	    "\"description\":\"\",\"error\":\"\",\"created\":1}],\"builds\":[]}");
	assert_null(appexport_target(m));
	appexport_meta_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_and_round_trips),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
