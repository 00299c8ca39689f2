/* `lxgpu discover`: the host as the inventory sees it, as text or JSON
 * (cli/output_inventory.c), with its device nodes. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "inventory/inventory.h"

static void print_nodes(FILE *f, const struct lxgpu_inventory *inv, bool color)
{
	static const char *const header[] = { "NODE", "DEVICE", "MODE", "OWNER", "FOR" };
	struct table t;

	if (inv->nnodes == 0) {
		fputs("no device nodes\n", f);
		return;
	}
	table_init(&t, 5, header);
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct lxgpu_node *n = &inv->nodes[i];
		char dev[32], mode[8], owner[32], gpu[96];
		if (n->type == 'c')
			snprintf(dev, sizeof(dev), "c %u:%u", n->major, n->minor);
		else
			snprintf(dev, sizeof(dev), "not a device");
		snprintf(mode, sizeof(mode), "%04o", n->mode);
		snprintf(owner, sizeof(owner), "%u:%u", n->uid, n->gid);
		if (n->capability)
			snprintf(gpu, sizeof(gpu), "%s", n->capability);
		else if (n->gpu >= 0)
			snprintf(gpu, sizeof(gpu), "GPU %d", n->gpu);
		else if (n->role == LXGPU_NODE_GPU || n->role == LXGPU_NODE_DRI_CARD ||
			 n->role == LXGPU_NODE_DRI_RENDER)
			snprintf(gpu, sizeof(gpu), "no listed GPU");
		else
			snprintf(gpu, sizeof(gpu), "all GPUs");
		const char *row[] = { n->path, dev, mode, owner, gpu };
		table_add(&t, row);
	}
	table_print(&t, f, color, "");
	table_free(&t);
}

int cmd_discover(struct cli *cli)
{
	struct lxgpu_inventory inv;
	lxgpu_inventory_scan(cli->rootfd, &inv);
	if (cli->json) {
		json_t *doc = inventory_json(&inv);
		lxgpu_inventory_free(&inv);
		return print_json(doc);
	}
	if (strcmp(cli->sysroot, "/") != 0)
		printf("%shost root: %s%s\n", color_of(cli->color, C_DIM), cli->sysroot,
		       color_of(cli->color, C_RESET));
	print_drivers(stdout, &inv, cli->color);
	fputc('\n', stdout);
	print_gpus(stdout, &inv, cli->color, true);
	fputc('\n', stdout);
	print_nodes(stdout, &inv, cli->color);
	fputc('\n', stdout);
	print_findings(stdout, inv.findings, inv.nfindings, cli->color);
	lxgpu_inventory_free(&inv);
	return EXIT_OK;
}
