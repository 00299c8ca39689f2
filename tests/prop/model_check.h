/* model_check: the model's own checks against known LXC and Proxmox
 * behaviour and docs/ownership.md's domain table. */
#ifndef PROP_MODEL_CHECK_H
#define PROP_MODEL_CHECK_H

#include "model.h"

/* How many checks fail; each failure is printed as a TAP comment. */
int model_check(void);

#endif
