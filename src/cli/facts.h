/* facts: this node's GPUs as the other nodes of a Proxmox cluster see them,
 * published in /etc/pve/nodes/<node>/lxgpu.json (lxgpu(1), FILES): its GPUs
 * (index, vendor, model, UUID, PCI address, minor, memory, MIG, usable), its
 * drivers (version, kind, CUDA), the GPU drivers' character majors, its boot
 * id and time, and when it was written. Written by sync (the boot unit) and
 * every command that changes this node's GPUs; read by status --cluster and
 * check --node. */
#ifndef LXGPU_CLI_FACTS_H
#define LXGPU_CLI_FACTS_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "inventory/inventory.h"
#include "util/err.h"

/* This node's facts from its inventory. */
json_t *facts_build(struct cli *cli, const struct lxgpu_inventory *inv, const char *node);
/* Publishes them. 0 when written; 1 when there is nothing to publish to (not
 * a Proxmox node); -errno with err (EROFS: /etc/pve is read-only). */
int facts_publish(struct cli *cli, const struct lxgpu_inventory *inv, struct lxgpu_err *err);
/* A node's published facts; NULL with err when it has none or they cannot
 * be read (a newer schema, a broken file). */
json_t *facts_read(struct cli *cli, const char *node, struct lxgpu_err *err);

/* Whether the facts are from before the node's last boot: 1 yes, 0 no, -1
 * unknown (this node: its boot id; another: the boot time the cluster's
 * .rrd shows). *booted: that boot time, 0 when unknown. */
int facts_stale(struct cli *cli, const char *node, json_t *facts, long long *booted);
/* The inventory the facts describe (GPUs with their MIG instances, drivers,
 * majors; no nodes), to resolve a selection and judge a driver there. */
void facts_inventory(json_t *facts, struct lxgpu_inventory *inv);

#endif
