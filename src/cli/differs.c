/*
 * differs.c — where a cx command differs from Convox's on purpose, one
 * paragraph per command, shown by `cx help COMMAND` and in cx(1). A command
 * not listed here behaves as Convox's (its flags and output are Convox's, or
 * Convox has no such command and its help says what it is for).
 */
#include <string.h>

#include "cli/cli.h"

static const struct {
	const char *words;
	const char *text;
} differs[] = {
	{ "login",
	  "Convox's login asks a console or a rack for a token; cx talks to the rack's\n"
	  "own API and pins its CA (--ca, --fingerprint, or trust on first use), so a\n"
	  "certificate issued by anyone else is refused." },
	{ "rack install",
	  "Convox installs into a cloud (aws, gcp, azure, do) with terraform; cx installs\n"
	  "the provider local only, on this machine, in seconds. --vpc and the *_address\n"
	  "params are cx's." },
	{ "rack params set",
	  "Convox hands any param to terraform; cx refuses an unknown param, a value out\n"
	  "of range or a param set at install only, naming it, and changes nothing." },
	{ "scale",
	  "Convox also takes --cpu and --memory; cx runs processes without per-process\n"
	  "limits yet, so it takes neither, and its CPU and MEMORY columns show what\n"
	  "convox.yml declares, not a reservation the rack holds." },
	{ "apps import",
	  "Convox's archive carries the build's images; cx's names them, so the host must\n"
	  "have them (racks of one host share them). cx keeps the release and build ids,\n"
	  "so an archive cannot go back onto the rack it came from while its app is\n"
	  "there, and it checks the archive as it checks a deploy's source." },
	{ "run",
	  "Convox runs COMMAND in a new container of the service's image; cx runs it as\n"
	  "a new process of the service, inside the same walls as its other processes." },
	{ "deploy",
	  "Convox's deploy returns once the release is promoted only with --wait; cx's\n"
	  "always waits, so a script's next command sees the new release serving." },
};

const char *
cli_convox_differs_stale(void)
{
	size_t n;
	const struct cli_cmd *cmds = cli_cmd_table(&n);

	for (size_t i = 0; i < sizeof(differs) / sizeof(differs[0]); i++) {
		size_t k = 0;

		while (k < n && strcmp(cmds[k].words, differs[i].words) != 0)
			k++;
		if (k == n)
			return differs[i].words;
	}
	return NULL;
}

const char *
cli_convox_differs(const char *words)
{
	for (size_t i = 0; i < sizeof(differs) / sizeof(differs[0]); i++) {
		if (strcmp(differs[i].words, words) == 0)
			return differs[i].text;
	}
	return NULL;
}
