/*
 * docgen.c — what is generated from the command table (commands.c), so it
 * can never disagree with what cx accepts: `cx completion bash|zsh` (a
 * completion script for the shell) and `cx man` (the cx(1) page, roff).
 * `make install` writes them where Debian's packages put theirs.
 *
 * Both completions work the same way: the command words typed so far (flags
 * and the values of flags that take one left out) select the next word among
 * the commands that start with them; a word that starts with "-" completes
 * the flags of the longest command those words name.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "common/version.h"

static bool
cmd_takes(const struct cli_cmd *cmd, const struct cli_opt *o)
{
	return o->id == OPT_HELP || (cmd->opts & (1u << o->id)) != 0;
}

/* The flags of cmd as words: "--app -a --rack -r ...". */
static void
flag_words(const struct cli_cmd *cmd, struct buf *b)
{
	size_t nopts;
	const struct cli_opt *opts = cli_opt_table(&nopts);

	for (size_t i = 0; i < nopts; i++) {
		if (!cmd_takes(cmd, &opts[i]))
			continue;
		buf_addf(b, "%s--%s", b->len ? " " : "", opts[i].long_name);
		if (opts[i].short_name != 0)
			buf_addf(b, " -%c", opts[i].short_name);
	}
}

/* Every flag that takes a value, as words: the next word is its value. */
static void
value_flag_words(struct buf *b)
{
	size_t nopts;
	const struct cli_opt *opts = cli_opt_table(&nopts);

	for (size_t i = 0; i < nopts; i++) {
		if (opts[i].value == NULL)
			continue;
		buf_addf(b, "%s--%s", b->len ? " " : "", opts[i].long_name);
		if (opts[i].short_name != 0)
			buf_addf(b, " -%c", opts[i].short_name);
	}
}

static void
print_bash(void)
{
	size_t ncmds;
	const struct cli_cmd *cmds = cli_cmd_table(&ncmds);
	struct buf b;

	buf_init(&b, 0);
	value_flag_words(&b);
	printf("# bash completion for cx, made by `cx completion bash` (%s) from its command "
	    "table.\n", CX_VERSION);
	printf("_cx_commands='");
	for (size_t i = 0; i < ncmds; i++)
		printf("%s%s", i ? "\n" : "", cmds[i].words);
	printf("'\n_cx_value_flags=' %s '\n", buf_cstr(&b));
	printf("_cx_flags() {\n\tcase $1 in\n");
	for (size_t i = 0; i < ncmds; i++) {
		buf_reset(&b);
		flag_words(&cmds[i], &b);
		printf("\t'%s') echo '%s' ;;\n", cmds[i].words, buf_cstr(&b));
	}
	printf("\tesac\n}\n");
	printf("%s",
	    "_cx() {\n"
	    "\tlocal cur=${COMP_WORDS[COMP_CWORD]} typed='' w c rest best='' next='' i\n"
	    "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	    "\t\tw=${COMP_WORDS[i]}\n"
	    "\t\tif [[ $w == -* ]]; then\n"
	    "\t\t\t[[ $_cx_value_flags == *\" $w \"* ]] && ((i++))\n"
	    "\t\t\tcontinue\n"
	    "\t\tfi\n"
	    "\t\ttyped=${typed:+$typed }$w\n"
	    "\tdone\n"
	    "\tif [[ $cur == -* ]]; then\n"
	    "\t\twhile IFS= read -r c; do\n"
	    "\t\t\t[[ \"$typed \" == \"$c \"* && ${#c} -gt ${#best} ]] && best=$c\n"
	    "\t\tdone <<< \"$_cx_commands\"\n"
	    "\t\tCOMPREPLY=($(compgen -W \"$(_cx_flags \"$best\")\" -- \"$cur\"))\n"
	    "\t\treturn\n"
	    "\tfi\n"
	    "\twhile IFS= read -r c; do\n"
	    "\t\tif [[ -z $typed ]]; then rest=$c\n"
	    "\t\telif [[ $c == \"$typed \"* ]]; then rest=${c#\"$typed \"}\n"
	    "\t\telse continue; fi\n"
	    "\t\t[[ \" $next \" == *\" ${rest%% *} \"* ]] || next=\"$next ${rest%% *}\"\n"
	    "\tdone <<< \"$_cx_commands\"\n"
	    "\tCOMPREPLY=($(compgen -W \"$next\" -- \"$cur\"))\n"
	    "}\n"
	    "complete -F _cx cx\n");
	buf_free(&b);
}

static void
print_zsh(void)
{
	size_t ncmds;
	const struct cli_cmd *cmds = cli_cmd_table(&ncmds);
	struct buf b;

	buf_init(&b, 0);
	printf("#compdef cx\n# zsh completion for cx, made by `cx completion zsh` (%s) from its "
	    "command table.\n", CX_VERSION);
	printf("local -a commands\ncommands=(\n");
	for (size_t i = 0; i < ncmds; i++)
		printf("\t'%s'\n", cmds[i].words);
	printf(")\nlocal -A flags\nflags=(\n");
	for (size_t i = 0; i < ncmds; i++) {
		buf_reset(&b);
		flag_words(&cmds[i], &b);
		printf("\t'%s' '%s'\n", cmds[i].words, buf_cstr(&b));
	}
	buf_reset(&b);
	value_flag_words(&b);
	printf(")\nlocal value_flags=' %s '\n", buf_cstr(&b));
	printf("%s",
	    "local typed='' w c rest best='' i\n"
	    "local -a next\n"
	    "for (( i = 2; i < CURRENT; i++ )); do\n"
	    "\tw=${words[i]}\n"
	    "\tif [[ $w == -* ]]; then\n"
	    "\t\t[[ $value_flags == *\" $w \"* ]] && (( i++ ))\n"
	    "\t\tcontinue\n"
	    "\tfi\n"
	    "\ttyped=${typed:+$typed }$w\n"
	    "done\n"
	    "if [[ ${words[CURRENT]} == -* ]]; then\n"
	    "\tfor c in $commands; do\n"
	    "\t\t[[ \"$typed \" == \"$c \"* && ${#c} -gt ${#best} ]] && best=$c\n"
	    "\tdone\n"
	    "\t[[ -n $best ]] && compadd -- ${=flags[$best]}\n"
	    "\treturn\n"
	    "fi\n"
	    "for c in $commands; do\n"
	    "\tif [[ -z $typed ]]; then rest=$c\n"
	    "\telif [[ $c == \"$typed \"* ]]; then rest=${c#\"$typed \"}\n"
	    "\telse continue; fi\n"
	    "\tnext+=(${rest%% *})\n"
	    "done\n"
	    "compadd -- ${(u)next}\n");
	buf_free(&b);
}

int
cmd_completion(struct cli *c)
{
	if (strcmp(c->argv[0], "bash") == 0)
		print_bash();
	else if (strcmp(c->argv[0], "zsh") == 0)
		print_zsh();
	else
		return out_error("no completion for shell \"%s\": give bash or zsh", c->argv[0]);
	return 0;
}

/* Text for roff: backslashes and dashes escaped, no line starting with a
 * control character. */
static void
roff(const char *s)
{
	bool bol = true;

	for (; *s != '\0'; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", stdout);
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
		bol = *s == '\n';
	}
}

/* "--NAME VALUE" of a flag, bold and italic. */
static void
man_flag(const struct cli_opt *o)
{
	printf("\\fB\\-\\-");
	roff(o->long_name);
	printf("\\fR");
	if (o->value != NULL) {
		printf(" \\fI");
		roff(o->value);
		printf("\\fR");
	}
}

int
cmd_man(struct cli *c)
{
	size_t ncmds, nopts;
	const struct cli_cmd *cmds = cli_cmd_table(&ncmds);
	const struct cli_opt *opts = cli_opt_table(&nopts);

	(void)c;
	printf(".\\\" cx(1), made by `cx man` from cx's command table.\n");
	printf(".TH CX 1 \"\" \"%s\" \"User Commands\"\n", CX_VERSION);
	printf(".SH NAME\ncx \\- run apps on racks, with Convox's commands\n");
	printf(".SH SYNOPSIS\n.B cx\n.I COMMAND\n[\\fIARGUMENTS\\fR] [\\fIflags\\fR]\n");
	printf(".SH DESCRIPTION\n");
	roff("cx installs racks (on this machine's loopback, in network namespaces, or on a "
	    "host's addresses), deploys apps from their convox.yml onto them, and lets the "
	    "services of one rack reach the internal services of a peered rack, privately.\n");
	printf(".SH COMMANDS\n");
	for (size_t i = 0; i < ncmds; i++) {
		printf(".TP\n.B cx ");
		roff(cmds[i].words);
		if (cmds[i].args[0] != '\0') {
			printf(" ");
			roff(cmds[i].args);
		}
		printf("\n");
		roff(cmds[i].help);
		if (cli_convox_differs(cmds[i].words) != NULL) {
			printf("\n.br\nWhere cx differs from Convox: ");
			roff(cli_convox_differs(cmds[i].words));
		}
		printf("\n.br\nFlags: ");
		for (size_t k = 0; k < nopts; k++) {
			if (opts[k].id == OPT_HELP || !cmd_takes(&cmds[i], &opts[k]))
				continue;
			man_flag(&opts[k]);
			printf(", ");
		}
		printf("\\fB\\-\\-help\\fR\n");
	}
	printf(".SH FLAGS\n");
	for (size_t k = 0; k < nopts; k++) {
		printf(".TP\n");
		if (opts[k].short_name != 0)
			printf("\\fB\\-%c\\fR, ", opts[k].short_name);
		man_flag(&opts[k]);
		printf("\n");
		roff(opts[k].help);
		printf("\n");
	}
	printf(".SH ENVIRONMENT\n");
	printf(".TP\n.B CX_HOME\n");
	roff("Where racks and logins live (default ~/.cx).\n");
	printf(".TP\n.B CX_RACK\n");
	roff("The rack to use when -r does not say.\n");
	printf(".TP\n.B RACK_URL\n");
	roff("https://convox:PASSWORD@HOST:PORT: a remote rack for one command, as Convox's.\n");
	printf(".TP\n.B EDITOR\n");
	roff("The editor of cx env edit (default vi).\n");
	printf(".SH FILES\n.TP\n.I $CX_HOME/racks/NAME\n");
	roff("A rack installed here: its state (state.db), password, CA and logs.\n");
	printf(".TP\n.I $CX_HOME/remotes/NAME\n");
	roff("A rack logged in to (cx login).\n");
	return 0;
}
