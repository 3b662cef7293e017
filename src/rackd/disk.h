/*
 * disk.h — the rack on a full disk. A reserve file under the rack's dir
 * holds some room back; the store frees it when a vital write finds the
 * disk full (disk_vital: one that frees space, apps delete and builds prune,
 * or marks the promotions a dead daemon left as failed), so that it can
 * still be recorded; other writes leave it alone and fail. While the disk
 * is full, or the reserve could not be made again, new deploys are refused
 * with one line saying so and what to do.
 */
#ifndef CX_DISK_H
#define CX_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rack;

/* Room the reserve holds, and the least free room a deploy needs. */
#define DISK_RESERVE_BYTES ((int64_t)4 << 20)
#define DISK_MIN_FREE_BYTES ((int64_t)8 << 20)

/* Makes the reserve (if there is room) and hands the store the handler that
 * frees it. */
void disk_init(struct rack *r);
/* Whether the store's writes from now on are vital ones (and so may spend
 * the reserve). Turned off, the reserve is made again if there is room. */
void disk_vital(struct rack *r, bool on);
/* 0 when there is room for a deploy (the reserve is made again first if it
 * was spent and now fits); -1 with err the one line to show, when not. */
int disk_check(struct rack *r, char *err, size_t errlen);
/* err: the one line a write refused for want of room shows. */
void disk_full_message(struct rack *r, char *err, size_t errlen);
/* Frees the reserve of the rack in dir (a daemon's or its keeper's last
 * room): 0 when there was one to free. */
int disk_reserve_free(const char *dir);
/* write_file_atomic (mode 0600) of text at path, tried once more after the
 * file there (a pid file a dead daemon left) is written over in place, and
 * then once more after the reserve of the rack in dir is freed. 0 or -1
 * with errno. */
int disk_write_file(const char *dir, const char *path, const char *text);
/* err: "what: why" after a store write failed; on a full disk why is
 * disk_full_message's line. */
void disk_store_error(struct rack *r, const char *what, char *err, size_t errlen);
/* Free bytes on the rack's file system (for the unprivileged), -1 unknown. */
int64_t disk_free_bytes(const char *dir);

#endif
