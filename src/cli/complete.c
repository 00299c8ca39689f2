/* `lxgpu __complete -- CWORD WORD...`: the candidates for word CWORD of the
 * command line WORD... (bash's COMP_CWORD and COMP_WORDS), one a line, for
 * data/lxgpu.bash. Commands and options come from the command table; CTs
 * from the configs and GPUs from the inventory, beneath the --sysroot and
 * --lxcpath that the line itself names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cluster/cluster.h"
#include "cluster/mapping.h"
#include "container/container.h"
#include "util/fs.h"
#include "inventory/inventory.h"

struct line {
	char **words;
	int nwords, cword;
	const char *cur;
	const char *sysroot, *lxcpath;
	const struct cli_command *commands; /* the table */
	const struct cli_command *cmd;
	int npos; /* positional arguments after the command, before cword */
};

static void offer(const char *cur, const char *word)
{
	if (strncmp(word, cur, strlen(cur)) == 0)
		puts(word);
}

static const struct cli_option *long_option(const char *word)
{
	if (strncmp(word, "--", 2) != 0)
		return NULL;
	size_t n = strcspn(word + 2, "=");
	for (const struct cli_option *o = cli_options; o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, word + 2, n) == 0)
			return o;
	return NULL;
}

/* Word i's option value: "--opt VAL", "--opt=VAL" or bash's "--opt" "=" "VAL". */
static const char *value_of(const struct line *l, int i, int *used)
{
	const char *eq = strchr(l->words[i], '=');
	*used = 0;
	if (eq)
		return eq + 1;
	if (i + 2 < l->cword && strcmp(l->words[i + 1], "=") == 0) {
		*used = 2;
		return l->words[i + 2];
	}
	if (i + 1 < l->cword) {
		*used = 1;
		return l->words[i + 1];
	}
	return NULL;
}

static const struct cli_command *command_named(const struct line *l, const char *name)
{
	for (const struct cli_command *c = l->commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* The words before the cursor: the command, its positional arguments, and
 * the options that say where the host is. */
static void scan(struct line *l)
{
	for (int i = 1; i < l->cword; i++) {
		const char *w = l->words[i];
		if (w[0] == '-' && w[1]) {
			const struct cli_option *o = long_option(w);
			if (!o || o->has_arg == 0)
				continue;
			int used;
			const char *v = value_of(l, i, &used);
			if (v && o->key == KEY_SYSROOT)
				l->sysroot = v;
			if (v && o->key == KEY_LXCPATH)
				l->lxcpath = v;
			i += used;
		} else if (!l->cmd) {
			l->cmd = command_named(l, w);
		} else {
			l->npos++;
		}
	}
}

static bool command_takes(const struct cli_command *c, int key)
{
	for (const int *k = c->options; *k; k++)
		if (*k == key)
			return true;
	return false;
}

static void offer_options(const struct line *l)
{
	for (const struct cli_option *o = cli_options; o->name; o++) {
		if (!cli_option_is_global(o->key) && !(l->cmd && command_takes(l->cmd, o->key)))
			continue;
		char word[64];
		snprintf(word, sizeof(word), "--%s", o->name);
		offer(l->cur, word);
	}
}

static int open_root(const struct line *l)
{
	struct lxgpu_err err = { 0 };
	const char *root = l->sysroot;
	if (!root) {
		root = getenv("LXGPU_SYSROOT");
		if (!root || !root[0])
			root = "/";
	}
	return fs_open_root(root, &err);
}

static void offer_cts(const struct line *l)
{
	struct ct_ids ids;
	char buf[CT_ID_BUF];
	int rootfd = open_root(l);
	if (rootfd < 0)
		return;
	const char *lxcpath = l->lxcpath && l->lxcpath[0] == '/' ? l->lxcpath : "/var/lib/lxc";
	size_t n = ct_list(rootfd, lxcpath, &ids);
	for (size_t i = 0; i < n; i++)
		offer(l->cur, ct_id(&ids, i, buf));
	ct_ids_free(&ids);
	close(rootfd);
}

static void offer_gpus(const struct line *l)
{
	struct lxgpu_inventory inv;
	char word[96];
	int rootfd = open_root(l);
	offer(l->cur, "all");
	offer(l->cur, "any");
	if (rootfd < 0)
		return;
	/* the cluster's mappings: map:NAME */
	struct gpu_maps maps;
	struct lxgpu_err err = { 0 };
	if (maps_read(rootfd, &maps, &err) == 0) {
		for (size_t i = 0; i < maps.n; i++) {
			snprintf(word, sizeof(word), "map:%s", maps.maps[i].name);
			offer(l->cur, word);
		}
		maps_free(&maps);
	}
	lxgpu_inventory_scan(rootfd, &inv);
	for (size_t i = 0; i < inv.ngpus; i++) {
		const struct lxgpu_gpu *g = &inv.gpus[i];
		snprintf(word, sizeof(word), "%d", g->index);
		offer(l->cur, word);
		if (g->uuid)
			offer(l->cur, g->uuid);
		if (g->pci[0])
			offer(l->cur, g->pci);
		for (size_t k = 0; k < g->nmig; k++)
			if (g->mig[k].ci >= 0) {
				snprintf(word, sizeof(word), "%d/%d/%d", g->index, g->mig[k].gi,
					 g->mig[k].ci);
				offer(l->cur, word);
			}
	}
	lxgpu_inventory_free(&inv);
	close(rootfd);
}

static void offer_nodes(const struct line *l)
{
	char **names;
	int rootfd = open_root(l);
	if (rootfd < 0)
		return;
	size_t n = cluster_nodes(rootfd, &names);
	for (size_t i = 0; i < n; i++)
		offer(l->cur, names[i]);
	cluster_names_free(names);
	close(rootfd);
}

static void offer_words(const char *cur, const char *const *words)
{
	for (; *words; words++)
		offer(cur, *words);
}

/* An option's value: the choices the option's help names. */
static bool offer_value(const struct line *l, const struct cli_option *o)
{
	static const char *const styles[] = { "auto", "raw", "dev", NULL };
	static const char *const modes[] = { "bind", "copy", "install", NULL };
	if (o->has_arg == 0)
		return false;
	switch (o->key) {
	case KEY_GPU:
		offer_gpus(l);
		break;
	case KEY_STYLE:
		offer_words(l->cur, styles);
		break;
	case KEY_MODE:
		offer_words(l->cur, modes);
		break;
	case KEY_CT:
		offer_cts(l);
		break;
	case KEY_NODE:
		offer_nodes(l);
		break;
	default:
		break; /* a path (the shell's own completion) or a free value */
	}
	return true;
}

/* The command's positional argument from its synopsis: "CT", "[CT...|--all]",
 * "[CT]", or a choice of words, "status | prepare [--undo] | install-driver"
 * (the first word of each alternative outside brackets). */
static void offer_argument(const struct line *l)
{
	const char *syn = l->cmd->synopsis;
	const char *t = syn + (syn[0] == '[');
	if (strncmp(t, "CT", 2) == 0) {
		if (l->npos == 0 || strncmp(t, "CT...", 5) == 0)
			offer_cts(l);
		return;
	}
	if (l->npos > 0 || syn[0] == '[')
		return;
	int depth = 0;
	bool start = true;
	for (const char *p = syn; *p; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		else if (depth == 0 && *p == '|')
			start = true;
		else if (start && *p != ' ') {
			size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz-");
			char word[64];
			start = false;
			if (n == 0 || n >= sizeof(word) || (p[n] && p[n] != ' ' && p[n] != '|'))
				continue;
			snprintf(word, sizeof(word), "%.*s", (int)n, p);
			offer(l->cur, word);
			p += n - 1;
		}
	}
}

int cmd_complete(struct cli *cli)
{
	struct line l = { .commands = cli->commands };
	char *end;
	if (cli->nargs < 2)
		return EXIT_USAGE;
	l.cword = (int)strtol(cli->args[0], &end, 10);
	l.words = cli->args + 1;
	l.nwords = cli->nargs - 1;
	if (*end || l.cword < 1 || l.cword > l.nwords)
		return EXIT_USAGE;
	l.cur = l.cword < l.nwords ? l.words[l.cword] : "";
	scan(&l);

	const char *prev = l.words[l.cword - 1];
	int at = l.cword - 1;
	if (strcmp(prev, "=") == 0 && at > 1)
		prev = l.words[--at];
	if (strcmp(l.cur, "=") == 0) {
		/* bash made "--style=" into "--style" "=": the value is to come */
		l.cur = "";
		prev = l.words[l.cword - 1];
	}
	const struct cli_option *o = long_option(prev);
	if (o && !strchr(prev, '=') && offer_value(&l, o))
		return EXIT_OK;
	if (l.cur[0] == '-') {
		offer_options(&l);
	} else if (!l.cmd) {
		for (const struct cli_command *c = l.commands; c->name; c++)
			if (!c->hidden)
				offer(l.cur, c->name);
	} else {
		offer_argument(&l);
	}
	return EXIT_OK;
}
