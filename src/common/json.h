/*
 * json.h — the JSON helpers: jansson, used through this header only, plus a
 * few shortcuts the daemon and CLI share.
 */
#ifndef CX_JSON_H
#define CX_JSON_H

#include <jansson.h>

/* Compact serialization; caller frees. */
char *json_compact(const json_t *v);
/* String member or def. */
const char *json_str(const json_t *obj, const char *key, const char *def);

#endif
