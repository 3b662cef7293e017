/*
 * ca.h — the rack's own certificate authority: made at the daemon's first
 * start, kept for the rack's life in its directory (ca.pem 0644, ca.key
 * 0600, the owner's alone). It is what signs the rack's certificates and
 * what other racks and clients are given to trust it (GET /system/ca).
 */
#ifndef CX_RACK_CA_H
#define CX_RACK_CA_H

#include <stdbool.h>
#include <stddef.h>

/* Loads dir/ca.pem and dir/ca.key, or makes them for rack `rack` when
 * neither exists (*made set). Never writes over either: a CA only half there
 * (one file without the other), unreadable, corrupt, not a CA, another
 * rack's, or with the wrong key is refused with err, one line naming the
 * file. Returns the certificate as PEM text, malloc'd (caller frees). */
char *ca_ensure(const char *dir, const char *rack, bool *made, char *err, size_t errlen);

#endif
