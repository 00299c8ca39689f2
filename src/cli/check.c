/* `lxgpu check CT`: the host against the container, from its config lines to
 * the driver inside (cli/checks.c, which doctor runs too). */
#include <stdio.h>

#include "cli/change.h"
#include "cli/checks.h"
#include "cli/cli.h"
#include "cli/cluster_view.h"
#include "cli/output.h"
#include "cluster/cluster.h"
#include "cli/output.h"
#include "config/idmap.h"

int cmd_check(struct cli *cli)
{
	struct change ch;
	if (cli->node && !cluster_node_valid(cli->node))
		return cli_error(EXIT_USAGE, "check --node %s: not a node name", cli->node);
	int r = change_open(cli, &ch, false);
	if (r >= 0)
		return r;
	if (cli->node) {
		/* another node, from what it published */
		r = cluster_check_node(cli, &ch, cli->node);
		change_free(&ch);
		return r;
	}
	struct verdicts v = { .list = json_array(), .color = cli->color, .json = cli->json };
	if (!cli->json)
		printf("%s %s (%s): %s, %s\n", ct_label(&ch.ct), ch.ct.id, ch.ct.path,
		       ct_privileged(&ch.conf) ? "privileged" : "unprivileged",
		       ch.running ? "running" : "stopped");
	check_container(cli, &ch, &v, false);
	int code = v.worst == PT_BAD ? EXIT_DRIFT : EXIT_OK;
	if (cli->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "schema", json_integer(1));
		json_object_set_new(doc, "ct", json_text(ch.ct.id));
		json_object_set_new(doc, "running", json_boolean(ch.running));
		json_object_set_new(doc, "host_driver",
				    json_str_or_null(lxgpu_nvidia_version(&ch.inv)));
		json_object_set_new(doc, "drift", json_boolean(code == EXIT_DRIFT));
		json_object_set_new(doc, "checks", v.list);
		print_json(doc);
	} else {
		json_decref(v.list);
	}
	change_free(&ch);
	return code;
}
