/*
 * version.h — the rack's version and the features it offers, so that a CLI
 * can tell an older rack apart and say what it lacks.
 */
#ifndef CX_VERSION_H
#define CX_VERSION_H

#define CX_VERSION "cx-0.2.0"
/* The router image's tag, REGISTRY/cx-router:TAG: this version, "cx-0.2.0" as "0.2.0". */
#define CX_VERSION_TAG (CX_VERSION + 3)

static const char *const cx_features[] = {
	"apps", "deploy", "internal_router", "vpc", "peering", "reach", "reach-peer", "run", "certs", NULL,
};

#endif
