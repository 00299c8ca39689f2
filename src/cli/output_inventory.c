/* output_inventory: the host as the inventory sees it, as text or JSON
 * (output.h): discover prints all of it, the status view its drivers and GPUs. */
#include <stdio.h>
#include <string.h>

#include "cli/output.h"
#include "inventory/inventory.h"
#include "util/xalloc.h"

static const char *kind_text(const char *kind)
{
	if (strcmp(kind, "open") == 0)
		return "open kernel module";
	if (strcmp(kind, "proprietary") == 0)
		return "proprietary kernel module";
	if (strcmp(kind, "in-kernel") == 0)
		return "the kernel's own driver";
	if (strcmp(kind, "dkms") == 0)
		return "DKMS module";
	return "kernel module of unknown kind";
}

void print_drivers(FILE *f, const struct lxgpu_inventory *inv, bool color)
{
	for (size_t i = 0; i < inv->ndrivers; i++) {
		const struct lxgpu_driver *d = &inv->drivers[i];
		fprintf(f, "%s%s %s%s (%s)", color_of(color, C_BOLD), d->name, d->version,
			color_of(color, C_RESET), kind_text(d->kind));
		if (d->cuda)
			fprintf(f, ", supports CUDA %s", d->cuda);
		fputc('\n', f);
	}
	if (inv->ndrivers == 0)
		fputs("no GPU driver loaded\n", f);
}

static char *gpu_model(const struct lxgpu_gpu *g)
{
	if (g->model)
		return xstrdup(g->model);
	static const char *const names[] = { "GPU", "NVIDIA GPU", "AMD GPU", "Intel GPU" };
	return xasprintf("%s [%04x:%04x]", names[g->vendor], g->vendor_id, g->device_id);
}

static char *gpu_node_list(const struct lxgpu_inventory *inv, int index)
{
	const struct lxgpu_node *nodes[16];
	size_t n = lxgpu_gpu_nodes(inv, index, nodes, 16);
	char *s = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *t = xasprintf("%s%s%s", s, i ? " " : "", nodes[i]->path);
		free(s);
		s = t;
	}
	return s;
}

void print_gpus(FILE *f, const struct lxgpu_inventory *inv, bool color, bool uuid)
{
	static const char *const header[] = { "GPU", "PCI", "MODEL", "DRIVER", "NODES", "UUID" };
	struct table t;

	if (inv->ngpus == 0) {
		fputs("no GPU\n", f);
		return;
	}
	/* the UUID is the last cell: without it, the table takes the first five */
	table_init(&t, uuid ? 6 : 5, header);
	for (size_t i = 0; i < inv->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[i];
		char index[16];
		snprintf(index, sizeof(index), "%d", g->index);
		char *model = gpu_model(g), *nodes = gpu_node_list(inv, g->index);
		const char *row[] = { index,
				      g->pci[0] ? g->pci : NULL,
				      model,
				      g->kernel_driver,
				      nodes[0] ? nodes : NULL,
				      g->uuid };
		table_add(&t, row);
		free(model);
		free(nodes);
	}
	table_print(&t, f, color, "");
	table_free(&t);
	for (size_t i = 0; i < inv->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[i];
		if (!g->usable)
			fprintf(f, "%sGPU %d cannot be given to a container: %s%s\n",
				color_of(color, C_YELLOW), g->index, g->reason,
				color_of(color, C_RESET));
		for (size_t k = 0; k < g->nmig; k++)
			if (g->mig[k].ci < 0) {
				fprintf(f, "GPU %d MIG gi%d: nvidia-cap%u", g->index, g->mig[k].gi,
					g->mig[k].minor);
				for (size_t c = 0; c < g->nmig; c++)
					if (g->mig[c].gi == g->mig[k].gi && g->mig[c].ci >= 0)
						fprintf(f, ", ci%d: nvidia-cap%u (--gpu %d/%d/%d)",
							g->mig[c].ci, g->mig[c].minor, g->index,
							g->mig[k].gi, g->mig[c].ci);
				fputc('\n', f);
			}
	}
}

json_t *inventory_json(const struct lxgpu_inventory *inv)
{
	json_t *doc = json_object(), *drivers = json_array(), *gpus = json_array(),
	       *nodes = json_array();

	json_object_set_new(doc, "schema", json_integer(1));
	for (size_t i = 0; i < inv->ndrivers; i++) {
		const struct lxgpu_driver *d = &inv->drivers[i];
		json_t *o = json_object();
		json_object_set_new(o, "vendor", json_text(lxgpu_vendor_name(d->vendor)));
		json_object_set_new(o, "name", json_text(d->name));
		json_object_set_new(o, "version", json_text(d->version));
		json_object_set_new(o, "kind", json_text(d->kind));
		json_object_set_new(o, "cuda", json_str_or_null(d->cuda));
		json_array_append_new(drivers, o);
	}
	for (size_t i = 0; i < inv->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[i];
		const struct lxgpu_node *gn[16];
		size_t n = lxgpu_gpu_nodes(inv, g->index, gn, 16);
		json_t *o = json_object(), *paths = json_array();
		char id[8];
		for (size_t k = 0; k < n; k++)
			json_array_append_new(paths, json_text(gn[k]->path));
		json_object_set_new(o, "index", json_integer(g->index));
		json_object_set_new(o, "vendor", json_text(lxgpu_vendor_name(g->vendor)));
		json_object_set_new(o, "model", json_str_or_null(g->model));
		json_object_set_new(o, "uuid", json_str_or_null(g->uuid));
		json_object_set_new(o, "pci", g->pci[0] ? json_text(g->pci) : json_null());
		json_object_set_new(o, "minor",
				    g->minor >= 0 ? json_integer(g->minor) : json_null());
		json_object_set_new(o, "kernel_driver", json_str_or_null(g->kernel_driver));
		json_object_set_new(o, "nodes", paths);
		snprintf(id, sizeof(id), "%04x", g->vendor_id);
		json_object_set_new(o, "vendor_id", json_text(id));
		snprintf(id, sizeof(id), "%04x", g->device_id);
		json_object_set_new(o, "device_id", g->device_id ? json_text(id) : json_null());
		json_object_set_new(o, "excluded", json_boolean(g->excluded));
		json_t *drm = json_object();
		json_object_set_new(drm, "card", json_str_or_null(g->drm_card));
		json_object_set_new(drm, "render", json_str_or_null(g->drm_render));
		json_object_set_new(drm, "by_path", json_str_or_null(g->drm_by_path));
		json_object_set_new(o, "drm", drm);
		json_object_set_new(o, "usable", json_boolean(g->usable));
		json_object_set_new(o, "reason", json_str_or_null(g->usable ? NULL : g->reason));
		json_t *mig = json_array();
		for (size_t k = 0; k < g->nmig; k++) {
			const struct lxgpu_mig *m = &g->mig[k];
			json_t *mo = json_object();
			char node[64];
			snprintf(node, sizeof(node), "/dev/nvidia-caps/nvidia-cap%u", m->minor);
			json_object_set_new(mo, "gi", json_integer(m->gi));
			json_object_set_new(mo, "ci",
					    m->ci >= 0 ? json_integer(m->ci) : json_null());
			json_object_set_new(mo, "minor", json_integer(m->minor));
			json_object_set_new(mo, "node", json_text(node));
			json_object_set_new(mo, "node_present", json_boolean(m->node_present));
			json_object_set_new(mo, "access", json_text(m->access));
			json_array_append_new(mig, mo);
		}
		json_object_set_new(o, "mig", mig);
		json_array_append_new(gpus, o);
	}
	for (size_t i = 0; i < inv->nnodes; i++) {
		const struct lxgpu_node *n = &inv->nodes[i];
		json_t *o = json_object();
		char mode[8], type[2] = { n->type, '\0' };
		snprintf(mode, sizeof(mode), "%04o", n->mode);
		json_object_set_new(o, "path", json_text(n->path));
		json_object_set_new(o, "type", json_text(type));
		json_object_set_new(o, "major", json_integer(n->major));
		json_object_set_new(o, "minor", json_integer(n->minor));
		json_object_set_new(o, "mode", json_text(mode));
		json_object_set_new(o, "uid", json_integer(n->uid));
		json_object_set_new(o, "gid", json_integer(n->gid));
		json_object_set_new(o, "role", json_text(lxgpu_node_role_name(n->role)));
		json_object_set_new(o, "gpu", n->gpu >= 0 ? json_integer(n->gpu) : json_null());
		json_object_set_new(o, "capability", json_str_or_null(n->capability));
		json_array_append_new(nodes, o);
	}
	json_object_set_new(doc, "drivers", drivers);
	json_object_set_new(doc, "gpus", gpus);
	json_object_set_new(doc, "nodes", nodes);
	json_object_set_new(doc, "findings", findings_json(inv->findings, inv->nfindings));
	return doc;
}
