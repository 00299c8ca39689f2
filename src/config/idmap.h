/* idmap: the container's user namespace as its config says it: privileged
 * or not, and which host id an id inside it is. Pure: a parsed config in
 * (config.h), numbers out; sync, the hook and the CLI ask it. */
#ifndef LXGPU_IDMAP_H
#define LXGPU_IDMAP_H

#include <stdbool.h>

#include "config/config.h"

/* A user namespace: "unprivileged: 1" (Proxmox) or any lxc.idmap line. */
bool ct_privileged(const struct conf *c);
/* The host id that id `inside` of kind 'u' or 'g' is in the container: itself
 * when privileged, else through lxc.idmap (Proxmox's default map when there is
 * none); -1 when it is not mapped. */
long ct_host_id(const struct conf *c, char kind, unsigned long inside);
/* The reverse: the id inside the container that host id `host` is, -1 when
 * its user namespace has none for it. */
long ct_inside_id(const struct conf *c, char kind, unsigned long host);
/* Whether the container's root may create entries in a directory whose owner
 * on the host is uid:gid with `mode`, as the kernel decides in its user
 * namespace: CAP_DAC_OVERRIDE reaches only inodes whose uid and gid both have
 * an id inside it; others go by the mode bits of the class the root falls in.
 * Always true when privileged. */
bool ct_root_may_write(const struct conf *c, unsigned long uid, unsigned long gid, unsigned mode);

#endif
