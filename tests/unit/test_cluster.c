/* Node-independent selections and the cluster's GPU mappings: the selector
 * grammar and model= rule of lxgpu(1) (DESCRIPTION, SEL), the mappings
 * file's format (CLUSTERS, Mappings), the record items of docs/ownership.md,
 * and which GPU each selector takes on a hand-made inventory. Expectations
 * from the documentation, not from the program. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/mapping.h"
#include "config/config.h"
#include "config/devlines.h"
#include "config/record.h"
#include "inventory/inventory.h"
#include "plan/plan.h"
#include "util/xalloc.h"

static void test_selectors(void **state)
{
	(void)state;
	assert_true(plan_selector_valid("model=NVIDIA H100"));
	assert_true(plan_selector_floating("model=NVIDIA H100"));
	assert_true(plan_selector_floating("any"));
	assert_true(plan_selector_floating("map:ml"));
	assert_true(plan_selector_floating("map:gpu-pool_1.a"));
	assert_false(plan_selector_floating("GPU-14d254be-3087-0aa8-a7aa-03759525cf2f"));
	assert_false(plan_selector_floating("0"));
	assert_false(plan_selector_floating("all"));
	/* a record item: no ',' in NAME, no empty or padded NAME */
	assert_false(plan_selector_valid("model="));
	assert_false(plan_selector_valid("model=A,B"));
	assert_false(plan_selector_valid("model= H100"));
	assert_false(plan_selector_valid("map:"));
	assert_false(plan_selector_valid("map:-x"));
	assert_false(plan_selector_valid("map:a/b"));
	assert_false(plan_selector_valid("any/1/0"));
	/* the model rule: equal, or a prefix ending at a space; no case */
	assert_true(plan_model_matches("NVIDIA H100 80GB HBM3", "NVIDIA H100"));
	assert_true(plan_model_matches("NVIDIA H100 80GB HBM3", "nvidia h100 80gb hbm3"));
	assert_true(plan_model_matches("NVIDIA H100 PCIe", "NVIDIA H100"));
	assert_false(plan_model_matches("NVIDIA H100X", "NVIDIA H100"));
	assert_false(plan_model_matches("NVIDIA H1", "NVIDIA H100"));
	assert_false(plan_model_matches(NULL, "NVIDIA"));
}

static void test_mappings(void **state)
{
	(void)state;
	struct gpu_maps m;
	struct lxgpu_err err = { 0 };
	const char *text = "# comment\n\n"
			   "ml node=pve1,gpu=GPU-14d254be-3087-0aa8-a7aa-03759525cf2f "
			   "node=pve2,gpu=0000:41:00.0\n"
			   "mig gpu=GPU-fa4e0000-0000-4000-8000-000000000000/2/0,node=pve3\n";
	assert_int_equal(maps_parse(text, strlen(text), &m, &err), 0);
	assert_int_equal(m.n, 2);
	const struct gpu_map *ml = maps_find(&m, "ml");
	assert_non_null(ml);
	assert_int_equal(ml->n, 2);
	assert_string_equal(ml->entries[1].node, "pve2");
	assert_string_equal(ml->entries[1].gpu, "0000:41:00.0");
	assert_string_equal(maps_find(&m, "mig")->entries[0].gpu,
			    "GPU-fa4e0000-0000-4000-8000-000000000000/2/0");
	/* format and parse again: the same */
	char *again = maps_format(&m);
	struct gpu_maps m2;
	assert_int_equal(maps_parse(again, strlen(again), &m2, &err), 0);
	char *third = maps_format(&m2);
	assert_string_equal(again, third);
	assert_non_null(strstr(again, "\nml node=pve1,gpu=GPU-14d254be-3087-0aa8-a7aa-03759525cf2f "
				      "node=pve2,gpu=0000:41:00.0\n"));
	free(again);
	free(third);
	assert_true(maps_remove(&m2, "ml"));
	assert_false(maps_remove(&m2, "ml"));
	assert_int_equal(m2.n, 1);
	maps_free(&m2);
	maps_free(&m);

	struct gpu_map_entry e;
	assert_int_equal(map_entry_parse("gpu=0000:41:00.0,node=b", &e, &err), 0);
	assert_string_equal(e.node, "b");
	map_entry_free(&e);
	assert_true(map_entry_parse("node=b,node=c,gpu=0000:41:00.0", &e, &err) < 0);
	assert_true(map_name_valid("ml"));
	assert_false(map_name_valid("0123456789012345678901234567890123"));
}

/* What the file must not say: each refused, naming its line. */
static void test_mapping_refusals(void **state)
{
	struct gpu_maps m;
	struct lxgpu_err err = { 0 };
	(void)state;
	static const char *const bad[] = {
		"ml node=pve1\n",                                         /* no gpu= */
		"ml node=pve1,gpu=GPU-1234\n",                            /* not a UUID */
		"ml node=pve1,gpu=0000:41:00.0,x=1\n",                    /* unknown key */
		"ml node=pve_1,gpu=0000:41:00.0\n",                       /* not a node name */
		"ml\n",                                                   /* no GPU */
		"-x node=pve1,gpu=0000:41:00.0\n",                        /* not a name */
		"a node=a,gpu=0000:41:00.0\na node=b,gpu=0000:41:00.0\n", /* twice */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lxgpu_err_clear(&err);
		assert_true(maps_parse(bad[i], strlen(bad[i]), &m, &err) < 0);
		assert_non_null(strstr(err.msg, "mappings.cfg line"));
	}
}

/* A record's items as given: model=, any, map: round-trip. */
static void test_record_items(void **state)
{
	(void)state;
	const char *text = "lxc.environment = LXGPU_DEVICES=model=NVIDIA H100,any,map:ml\n"
			   "lxc.environment = LXGPU_REQUEST=v2,style=raw,rules=exact,guard=no\n"
			   "lxc.environment = LXGPU_WROTE=c195:0,/dev/nvidia0\n";
	struct conf c;
	struct dl_scan s;
	struct lxgpu_record r;
	struct lxgpu_err err = { 0 };
	assert_int_equal(conf_parse(text, strlen(text), CONF_LXC, &c, &err), 0);
	dl_scan(&c, &s);
	assert_int_equal(record_read(&c, &s, &r, &err), 0);
	assert_int_equal(r.ndevices, 3);
	assert_string_equal(r.devices[0], "model=NVIDIA H100");
	assert_string_equal(r.devices[1], "any");
	assert_string_equal(r.devices[2], "map:ml");
	char *v = record_devices_value(&r);
	assert_string_equal(v, "LXGPU_DEVICES=model=NVIDIA H100,any,map:ml");
	free(v);
	record_free(&r);
	dl_free(&s);
	conf_free(&c);
	/* Proxmox's include of lxgpu's start-host.conf is lxgpu's hook line */
	const char *pve = "arch: amd64\nlxc.include: /usr/share/lxgpu/start-host.conf\n"
			  "lxc.include: /usr/share/lxc/config/common.conf\n";
	assert_int_equal(conf_parse(pve, strlen(pve), CONF_PVE, &c, &err), 0);
	dl_scan(&c, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.entries[0].kind, DL_HOOK);
	assert_string_equal(dl_hook_name(&c, &s.entries[0]), "start-host");
	dl_free(&s);
	conf_free(&c);
}

/* Which GPU each takes: on three GPUs, two of one model. */
static void test_select(void **state)
{
	struct plan_pick picks[3];
	struct lxgpu_inventory inv = { 0 };
	struct lxgpu_err err = { 0 };
	(void)state;
	static const char *const models[] = { "NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3",
					      "NVIDIA H100 80GB HBM3" };
	static const char *const uuids[] = { "GPU-00000000-0000-4000-8000-000000000000",
					     "GPU-00000000-0000-4000-8000-000000000001",
					     "GPU-00000000-0000-4000-8000-000000000002" };
	for (int i = 0; i < 3; i++) {
		struct lxgpu_gpu *g = inv_add_gpu(&inv);
		g->index = i;
		g->vendor = LXGPU_VENDOR_NVIDIA;
		g->model = xstrdup(models[i]);
		g->uuid = xstrdup(uuids[i]);
		snprintf(g->pci, sizeof(g->pci), "0000:0%d:00.0", i + 1);
		g->usable = true;
	}
	const char *two[] = { "model=NVIDIA H100", "model=NVIDIA H100" };
	assert_int_equal(plan_select(&inv, two, 2, NULL, picks, &err), 0);
	assert_true(!picks[0].selected && picks[1].selected && picks[2].selected);
	assert_true(picks[1].floating && picks[2].floating);
	lxgpu_err_clear(&err);
	const char *three[] = { "model=NVIDIA H100", "model=NVIDIA H100", "model=NVIDIA H100" };
	assert_true(plan_select(&inv, three, 3, NULL, picks, &err) < 0);
	assert_non_null(strstr(err.msg, "no other GPU of that model"));
	/* a concrete selector picks first: any takes what it left */
	const char *mixed[] = { "any", "0" };
	assert_int_equal(plan_select(&inv, mixed, 2, NULL, picks, &err), 0);
	assert_true(picks[0].selected && !picks[0].floating && picks[1].selected &&
		    picks[1].floating && !picks[2].selected);
	lxgpu_err_clear(&err);
	inv.gpus[1].usable = false;
	const char *one[] = { "model=NVIDIA H100" };
	assert_int_equal(plan_select(&inv, one, 1, NULL, picks, &err), 0);
	assert_true(picks[2].selected && !picks[1].selected);
	/* map: this node's entries, the first that is here and usable */
	const char *ids[] = { "GPU-ffffffff-0000-4000-8000-000000000000", uuids[1], uuids[2] };
	struct plan_map m = { "ml", ids, 3, "pve1, pve2" };
	struct plan_where w = { "pve1", &m, 1, true };
	const char *mapped[] = { "map:ml" };
	assert_int_equal(plan_select(&inv, mapped, 1, &w, picks, &err), 0);
	assert_true(picks[2].selected && !picks[0].selected && !picks[1].selected);
	m.nids = 0;
	lxgpu_err_clear(&err);
	assert_true(plan_select(&inv, mapped, 1, &w, picks, &err) < 0);
	assert_string_equal(
		err.msg,
		"--gpu map:ml: the mapping has no GPU of node pve1 (its nodes: pve1, pve2)");
	const char *unknown[] = { "map:other" };
	lxgpu_err_clear(&err);
	assert_true(plan_select(&inv, unknown, 1, &w, picks, &err) < 0);
	assert_string_equal(err.msg, "--gpu map:other: no such mapping (lxgpu map list)");
	lxgpu_inventory_free(&inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selectors),        cmocka_unit_test(test_mappings),
		cmocka_unit_test(test_mapping_refusals), cmocka_unit_test(test_record_items),
		cmocka_unit_test(test_select),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
