/* cdi: the CDI spec of a plan (see cdi.h). Field names are those of
 * container-device-interface's specs-go/config.go. */
#include "plan/cdi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

/* Mounted read-only, without setuid or device files (nvidia-ctk's choice for
 * the driver's files). */
static const char *const mount_options[] = { "ro", "nosuid", "nodev", "bind" };

const char *cdi_kind(enum lxgpu_vendor v)
{
	switch (v) {
	case LXGPU_VENDOR_NVIDIA:
		return "nvidia.com/gpu";
	case LXGPU_VENDOR_AMD:
		return "amd.com/gpu";
	case LXGPU_VENDOR_INTEL:
		return "intel.com/gpu";
	default:
		return NULL;
	}
}

static const char *vendor_label(enum lxgpu_vendor v)
{
	return v == LXGPU_VENDOR_NVIDIA  ? "NVIDIA"
	       : v == LXGPU_VENDOR_AMD   ? "AMD"
	       : v == LXGPU_VENDOR_INTEL ? "Intel"
					 : "other";
}

int cdi_vendor(const struct lxgpu_inventory *inv, const struct lxgpu_plan *plan,
	       enum lxgpu_vendor *out, struct lxgpu_err *err)
{
	const struct lxgpu_gpu *first = NULL;
	for (size_t i = 0; i < plan->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[plan->gpus[i]];
		if (!cdi_kind(g->vendor))
			return lxgpu_failx(err, ENOTSUP, "GPU %d (%s): no CDI kind for its vendor",
					   g->index, g->pci);
		if (!first) {
			first = g;
		} else if (g->vendor != first->vendor) {
			return lxgpu_failx(err, EINVAL,
					   "GPU %d is %s and GPU %d is %s: a CDI spec has one kind "
					   "(vendor), pick the GPUs of one with --gpu",
					   first->index, vendor_label(first->vendor), g->index,
					   vendor_label(g->vendor));
		}
	}
	if (!first)
		return lxgpu_failx(err, ENODEV, "no GPU selected");
	*out = first->vendor;
	return 0;
}

static json_t *node_json(const struct lxgpu_node *n)
{
	json_t *o = json_object();
	/* the host's path is where attach binds it in the container too */
	json_object_set_new(o, "path", json_string(n->path));
	json_object_set_new(o, "type", json_string("c"));
	/* given, so that the runtime needs no stat; the host's live numbers */
	json_object_set_new(o, "major", json_integer(n->major));
	json_object_set_new(o, "minor", json_integer(n->minor));
	/* no mknod: the node is there, made by LXC's bind */
	json_object_set_new(o, "permissions", json_string("rw"));
	return o;
}

/* The nodes of GPU `index` in the plan (its own: /dev/nvidiaN and MIG
 * capabilities, or its DRM nodes), or those every GPU shares (index -1). */
static json_t *nodes_json(const struct lxgpu_plan *plan, int index, bool every_gpu)
{
	json_t *a = json_array();
	for (size_t i = 0; i < plan->nnodes; i++) {
		const struct lxgpu_node *n = plan->nodes[i].node;
		if (every_gpu ? n->gpu >= 0 : n->gpu == index)
			json_array_append_new(a, node_json(n));
	}
	return a;
}

static json_t *edits_with_nodes(json_t *nodes)
{
	json_t *edits = json_object();
	if (json_array_size(nodes) > 0)
		json_object_set_new(edits, "deviceNodes", nodes);
	else
		json_decref(nodes);
	return edits;
}

static void add_device(json_t *devices, const char *name, json_t *nodes)
{
	json_t *d = json_object();
	json_object_set_new(d, "name", json_string(name));
	json_object_set_new(d, "containerEdits", edits_with_nodes(nodes));
	json_array_append_new(devices, d);
}

/* The MIG part plan->devices records for its i-th GPU ("/2/0"), or "". */
static void mig_part(const struct lxgpu_plan *plan, size_t i, char *buf, size_t size)
{
	const char *p = plan->devices ? plan->devices : "";
	buf[0] = '\0';
	for (size_t k = 0; k < i && p; k++) {
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return;
	size_t len = strcspn(p, ",");
	const char *slash = memchr(p, '/', len);
	if (slash)
		snprintf(buf, size, "%.*s", (int)(len - (size_t)(slash - p)), slash);
}

static void add_mount(json_t *mounts, const char *path)
{
	/* no duplicates: a name can be both a file's link and the dlopen link */
	for (size_t i = 0; i < json_array_size(mounts); i++)
		if (strcmp(json_string_value(
				   json_object_get(json_array_get(mounts, i), "containerPath")),
			   path) == 0)
			return;
	json_t *m = json_object(), *opts = json_array();
	/* The LXC container's path and the nested container's are the same:
	 * /usr/lib/<triplet> is in the dynamic linker's default search path of
	 * Debian and Ubuntu images, so no ld.so.cache update is needed there. */
	json_object_set_new(m, "hostPath", json_string(path));
	json_object_set_new(m, "containerPath", json_string(path));
	for (size_t i = 0; i < ARRAY_SIZE(mount_options); i++)
		json_array_append_new(opts, json_string(mount_options[i]));
	json_object_set_new(m, "options", opts);
	json_array_append_new(mounts, m);
}

/* Every name inject gives a driver file: the file, its SONAME links and
 * libcuda.so. A link is mounted as a file of its own (the bind resolves it
 * to the library), so that the nested container needs no hook to make links. */
static json_t *mounts_json(const struct driver_files *d, const char *lib_dir)
{
	json_t *mounts = json_array();
	for (size_t i = 0; i < d->n; i++) {
		const struct driver_file *f = &d->files[i];
		const char *dir = f->lib ? lib_dir : "usr/bin";
		_cleanup_free_ char *path = xasprintf("/%s/%s", dir, f->name);
		add_mount(mounts, path);
		for (size_t k = 0; k < f->nlinks; k++) {
			_cleanup_free_ char *link = xasprintf("/%s/%s", dir, f->links[k]);
			add_mount(mounts, link);
		}
		if (f->lib && driver_version_of(f->name, "libcuda")) {
			_cleanup_free_ char *dev = xasprintf("/%s/libcuda.so", dir);
			add_mount(mounts, dev);
		}
	}
	return mounts;
}

json_t *cdi_build(const struct cdi_request *req, struct lxgpu_err *err)
{
	const struct lxgpu_inventory *inv = req->inv;
	const struct lxgpu_plan *plan = req->plan;
	enum lxgpu_vendor vendor;

	if (cdi_vendor(inv, plan, &vendor, err) < 0)
		return NULL;
	if (vendor == LXGPU_VENDOR_NVIDIA && !req->driver) {
		lxgpu_failx(err, EINVAL, "no NVIDIA driver files to mount");
		return NULL;
	}
	int asked = req->version ? cdi_version_index(req->version) : -1;
	if (req->version && asked < 0) {
		lxgpu_failx(err, EINVAL, "cdiVersion %s: no such CDI version (0.3.0 to 1.1.0)",
			    req->version);
		return NULL;
	}
	json_t *doc = json_object(), *devices = json_array();
	/* its place first; the value once the fields are known */
	json_object_set_new(doc, "cdiVersion", json_null());
	json_object_set_new(doc, "kind", json_string(cdi_kind(vendor)));
	/* only where asked for: a runtime older than 0.6.0 refuses the spec */
	if (vendor == LXGPU_VENDOR_NVIDIA && asked >= cdi_version_index("0.6.0")) {
		json_t *notes = json_object();
		json_object_set_new(notes, "lxgpu/driver-version",
				    json_string(req->driver->version));
		json_object_set_new(doc, "annotations", notes);
	}
	for (size_t i = 0; i < plan->ngpus; i++) {
		const struct lxgpu_gpu *g = &inv->gpus[plan->gpus[i]];
		char mig[32], suffix[32], name[96];
		mig_part(plan, i, mig, sizeof(mig));
		/* one MIG instance "/2/0" is named "0:2:0": CDI names have no '/' */
		snprintf(suffix, sizeof(suffix), "%s", mig);
		for (char *p = suffix; *p; p++)
			if (*p == '/')
				*p = ':';
		snprintf(name, sizeof(name), "%d%s", g->index, suffix);
		add_device(devices, name, nodes_json(plan, g->index, false));
		/* as nvidia-ctk names them: the UUID too; the PCI address without one */
		const char *id = g->uuid ? g->uuid : g->pci[0] ? g->pci : NULL;
		if (id) {
			snprintf(name, sizeof(name), "%s%s", id, suffix);
			add_device(devices, name, nodes_json(plan, g->index, false));
		}
	}
	add_device(devices, "all", nodes_json(plan, -1, true));
	json_object_set_new(doc, "devices", devices);

	json_t *common = edits_with_nodes(nodes_json(plan, -1, false));
	if (vendor == LXGPU_VENDOR_NVIDIA) {
		json_t *env = json_array();
		/* as nvidia-ctk's specs: an image's NVIDIA_VISIBLE_DEVICES must not
		 * make nvidia-container-runtime inject a second time */
		json_array_append_new(env, json_string("NVIDIA_VISIBLE_DEVICES=void"));
		json_object_set_new(common, "env", env);
		json_object_set_new(common, "mounts", mounts_json(req->driver, req->lib_dir));
	}
	json_object_set_new(doc, "containerEdits", common);

	const char *why, *need = cdi_min_version(doc, &why);
	if (req->version && asked < cdi_version_index(need)) {
		lxgpu_failx(err, EINVAL, "cdiVersion %s is too old for this spec: it has %s (%s)",
			    req->version, why, need);
		json_decref(doc);
		return NULL;
	}
	json_object_set_new(
		doc, "cdiVersion",
		json_string(req->version ? req->version + (req->version[0] == 'v') : need));
	return doc;
}
