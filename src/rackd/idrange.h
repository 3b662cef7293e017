/*
 * idrange.h — the host's ledger of user/group id ranges for apps. Each app of
 * a rack run as root holds one range of IDRANGE_SIZE ids (its processes run
 * as the first id of it; a user namespace can later map an image's users
 * onto the whole range). Ranges are handed out under one host-wide lock, so
 * two racks on one kernel, whatever their $CX_HOME, never share ids. Nothing
 * is written to /etc: the ledger is a file of ours, "BASE OWNER" lines, where
 * OWNER is the app's directory; an entry whose directory is gone is free
 * again (a rack removed by hand, a test's temporary home).
 */
#ifndef CX_IDRANGE_H
#define CX_IDRANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDRANGE_SIZE 65536u
/* Above systemd's container range (524288..1879048191), below 2^31 so that
 * tools that print ids as signed numbers show them right. */
#define IDRANGE_FIRST 0x70000000u
#define IDRANGE_COUNT 4095u
/* Where the ledger and its lock live on a host. */
#define IDRANGE_DIR "/var/lib/cx"

/*
 * Gives owner (an absolute path that exists) a range. If owner already
 * holds want (non-zero), keeps it; if want is free, takes it; otherwise
 * (want is 0, or another owner holds it) takes the lowest free range.
 * *base gets the first id. 0, or -1 with err (no free range, I/O error).
 */
int idrange_claim(const char *dir, const char *owner, uint32_t want, uint32_t *base,
    char *err, size_t errlen);
/* Frees owner's range base, if owner holds it and no process runs as one of
 * its ids (else it stays held, and is freed by a later look at the ledger
 * once they are gone and owner's directory too). 0, or -1 with err. */
int idrange_release(const char *dir, const char *owner, uint32_t base, char *err,
    size_t errlen);

/* Whether a process of this machine runs as an id of the range at base
 * (such a range stays held after its owner goes). */
bool idrange_in_use(uint32_t base);

#endif
