/* devlist: whether LXC will fence the container's devices at all. LXC keeps
 * the lxc.cgroup2.devices.* settings as one ordered list (an empty value
 * drops the settings of its key before it, "a" resets the list) and at start
 * turns what follows the last "a" into a device program; when nothing
 * follows, it attaches no program and every device opens (lxc's
 * src/lxc/cgroups/cgfsng.c, cgfsng_devices_activate). Removing the last rule
 * can therefore open more than it closes. */
#ifndef LXGPU_DEVLIST_H
#define LXGPU_DEVLIST_H

#include <stdbool.h>

#include "config/config.h"

/* Whether the container, with edit e applied (NULL: as it is), starts with
 * every device open: no rule after the last reset, or a denylist that denies
 * nothing. */
bool devlist_opens_all(const struct conf *c, const struct conf_edit *e);

#endif
