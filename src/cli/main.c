/*
 * cx — the command-line client of cx racks (Convox-compatible commands).
 * Everything lives in the cli library (commands.c holds the grammar), so
 * each part can be tested alone.
 */
#include "cli/cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
