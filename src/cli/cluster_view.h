/* cluster_view: what the cluster's published facts (facts.h) say, read from
 * any node: every node's GPUs and every GPU container of the cluster with its
 * health there (status --cluster), and whether a node can run a container
 * (check --node). Read-only. */
#ifndef LXGPU_CLI_CLUSTER_VIEW_H
#define LXGPU_CLI_CLUSTER_VIEW_H

#include "cli/change.h"
#include "cli/cli.h"

/* status --cluster: prints the view (text or JSON); the exit code. */
int cluster_status(struct cli *cli);
/* check CT --node NODE, ch loaded: the checks, printed; the exit code (3
 * when NODE cannot run it). */
int cluster_check_node(struct cli *cli, struct change *ch, const char *node);

#endif
