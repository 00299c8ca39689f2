/* props_check: the invariants on hand-written outputs (see props_check.c). */
#ifndef PROP_PROPS_CHECK_H
#define PROP_PROPS_CHECK_H

/* How many checks fail; each failure is printed as a TAP comment. */
int props_check(void);

#endif
