/* `lxgpu __man`: the COMMANDS and OPTIONS sections of lxgpu(1) in roff, from
 * the same tables as --help, so that the page and the program cannot drift.
 * docs/gen-man.sh puts them into the hand-written rest (docs/lxgpu.1.in). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* Text as roff shows it: '-' is a hyphen-minus, '\' is itself, and a line
 * never starts a request. */
static void roff(const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", stdout);
	for (; *s; s++) {
		if (*s == '-')
			fputs("\\-", stdout);
		else if (*s == '\\')
			fputs("\\e", stdout);
		else
			putchar(*s);
	}
}

static void option_item(const struct cli_option *o)
{
	fputs(".TP\n", stdout);
	if (o->key < 256 && isalpha(o->key))
		printf("\\fB\\-%c\\fR, ", o->key);
	fputs("\\fB\\-\\-", stdout);
	roff(o->name);
	fputs("\\fR", stdout);
	if (o->arg) {
		fputs(" \\fI", stdout);
		roff(o->arg);
		fputs("\\fR", stdout);
	}
	putchar('\n');
	roff(o->help);
	puts(".");
}

/* Command names beginning "__" are the build's and the shell's, not people's. */
static bool documented(const struct cli_command *c)
{
	return strncmp(c->name, "__", 2) != 0;
}

int cmd_man(struct cli *cli)
{
	puts(".SH COMMANDS");
	for (const struct cli_command *c = cli->commands; c->name; c++) {
		if (!documented(c))
			continue;
		fputs(".SS \"", stdout);
		roff(c->name);
		puts("\"");
		fputs(".B lxgpu\n.RI [ GLOBAL ]\n.B ", stdout);
		roff(c->name);
		putchar('\n');
		if (c->synopsis[0]) {
			roff(c->synopsis);
			putchar('\n');
		}
		puts(".PP");
		if (c->hidden)
			puts("Not for people: LXC runs it.");
		roff(c->summary);
		puts(".");
		for (const int *k = c->options; *k; k++) {
			const struct cli_option *o = cli_option_by_key(*k);
			if (o)
				option_item(o);
		}
	}
	puts(".SH OPTIONS");
	puts("Global options are accepted before or after \\fICOMMAND\\fR.");
	for (const struct cli_option *o = cli_options; o->name; o++)
		if (cli_option_is_global(o->key))
			option_item(o);
	return EXIT_OK;
}
