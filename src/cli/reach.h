/*
 * reach.h — `cx services reach SERVICE -a APP --from WHERE`.
 */
#ifndef CX_REACH_H
#define CX_REACH_H

struct cli;

int cmd_services_reach(struct cli *c);

#endif
