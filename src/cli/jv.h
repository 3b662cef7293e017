/*
 * jv.h — the few JSON operations the CLI needs, over jansson. jansson stays
 * inside jv.c: the rest of the CLI holds `struct json_t *` as an opaque
 * handle ("jv") and reads it through these helpers.
 *
 * Ownership: a function named *_new or jv_parse returns a value the caller
 * frees with jv_free; everything else returns a borrowed pointer that lives
 * as long as its container.
 */
#ifndef CX_JV_H
#define CX_JV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_t;
typedef struct json_t jv;

/* Parses text (len bytes). NULL with a one-line reason in err. */
jv *jv_parse(const char *text, size_t len, char *err, size_t errlen);
void jv_free(jv *v);

bool jv_is_array(const jv *v);
bool jv_is_object(const jv *v);
size_t jv_len(const jv *arr);
jv *jv_at(const jv *arr, size_t i);
jv *jv_get(const jv *obj, const char *key);
/* Member as text: strings as they are, numbers and booleans formatted,
 * "" when missing or null. The pointer is valid until the next call with
 * the same obj and key (numbers use a small ring of buffers). */
const char *jv_str(const jv *obj, const char *key);
int64_t jv_int(const jv *obj, const char *key);
bool jv_bool(const jv *obj, const char *key);
/* Text of a string value itself (not a member); "" if not a string. */
const char *jv_string_value(const jv *v);

/* Keys of an object, sorted; *n set. Free the array (not the strings, which
 * the object owns) with free(). */
const char **jv_keys_sorted(const jv *obj, size_t *n);

/* Builders. */
jv *jv_object_new(void);
jv *jv_array_new(void);
void jv_set_str(jv *obj, const char *key, const char *val);
void jv_set_int(jv *obj, const char *key, int64_t val);
/* Copies obj's member `from` into dst as `to` (nothing if missing). */
void jv_copy_member(jv *dst, const char *to, const jv *obj, const char *from);
/* Takes ownership of val. */
void jv_set_take(jv *obj, const char *key, jv *val);
void jv_push_take(jv *arr, jv *val);
void jv_push_str(jv *arr, const char *s);

/* Compact text, caller frees. */
char *jv_dump(const jv *v);
/* Prints v compact with a newline. */
void jv_print(const jv *v, FILE *f);

#endif
