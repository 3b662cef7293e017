/*
 * jv.h — the JSON module the daemon and the CLI share, over jansson. jansson
 * stays inside jv.c: everyone else holds `jv *` as an opaque handle, reads it
 * through the getters and makes it with the builders below.
 *
 * Ownership: jv_parse and the *_new builders return a value the caller owns
 * and frees with jv_free (or hands on with a *_take call). Every other
 * function that returns a jv returns a borrowed pointer that lives as long
 * as its container. A *_take call owns its val from then on, even when it
 * fails, so the caller never frees what it handed over.
 *
 * Reading is forgiving: a getter given NULL, or a value of the wrong type,
 * answers as for a missing member (NULL, "", 0, false or the default), so a
 * chain like jv_str(jv_get(o, "a"), "b") needs no checks in between.
 *
 * Objects keep their members in insertion order, and jv_dump writes them in
 * that order: the API's answers rely on it (docs/api.md).
 */
#ifndef CX_JV_H
#define CX_JV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct jv jv;

/*
 * Parses len bytes of text: an object or an array at the top. Duplicate keys in an
 * object are refused: which one would count is the kind of doubt a parser
 * should not leave. Returns an owned value, or NULL with a one-line reason
 * ("line L column C: what") in err.
 */
jv *jv_parse(const char *text, size_t len, char *err, size_t errlen);
/* Frees an owned value and everything in it; NULL is fine. */
void jv_free(jv *v);

/* Type tests; false for NULL. jv_is_int: a whole number in the JSON text
 * (1, not 1.0 or "1"). */
bool jv_is_array(const jv *v);
bool jv_is_object(const jv *v);
bool jv_is_string(const jv *v);
bool jv_is_bool(const jv *v);
bool jv_is_int(const jv *v);

/* Elements of an array: how many (0 if not an array), and element i
 * (borrowed; NULL past the end or if not an array). */
size_t jv_len(const jv *arr);
jv *jv_at(const jv *arr, size_t i);
/* Member key of an object, borrowed; NULL if missing or not an object. */
jv *jv_get(const jv *obj, const char *key);

/* Member as text, for showing: strings as they are, numbers and booleans
 * formatted, "" when missing or null. The pointer is valid until the next call
 * with the same obj and key (numbers use a small ring of buffers). */
const char *jv_str(const jv *obj, const char *key);
/* Member that is a string, borrowed; def when missing or of another type
 * (a number is not taken for a string here: input from a client). */
const char *jv_str_or(const jv *obj, const char *key, const char *def);
/* Member as a number: integers, reals (truncated) and strings of digits;
 * 0 otherwise. Test jv_is_int(jv_get(...)) first where only a whole number
 * will do. */
int64_t jv_int(const jv *obj, const char *key);
/* Member is true (false when missing or not a boolean). */
bool jv_bool(const jv *obj, const char *key);
/* Text of a string value itself (not a member); "" if not a string. */
const char *jv_string_value(const jv *v);

/* Keys of an object in its order (jv_keys) or sorted (jv_keys_sorted); *n
 * set, 0 if not an object. The array ends with NULL; free it (not the
 * strings, which the object owns) with free(). Changing the object makes the
 * strings invalid. */
const char **jv_keys(const jv *obj, size_t *n);
const char **jv_keys_sorted(const jv *obj, size_t *n);

/* Empty containers, owned. */
jv *jv_object_new(void);
jv *jv_array_new(void);
/* A string, owned (as jv_set_str stores it). */
jv *jv_string_new(const char *s);

/*
 * Setters: member key of obj becomes val, replacing one of the same name
 * (which keeps its place), or added last. A NULL string is set as ""; text
 * that is not UTF-8 is set with '?' for each bad byte (JSON holds UTF-8 only).
 * Nothing happens when obj is not an object.
 */
void jv_set_str(jv *obj, const char *key, const char *val);
void jv_set_int(jv *obj, const char *key, int64_t val);
void jv_set_bool(jv *obj, const char *key, bool val);
/* Member key of obj becomes null. */
void jv_set_null(jv *obj, const char *key);
/* Takes ownership of val (freed if obj is not an object). */
void jv_set_take(jv *obj, const char *key, jv *val);
/* Copies obj's member `from` into dst as `to` (nothing if missing). */
void jv_copy_member(jv *dst, const char *to, const jv *obj, const char *from);
/* Removes member key of obj, freeing it; nothing if missing. */
void jv_del(jv *obj, const char *key);

/* A deep copy of v, owned (NULL for NULL). */
jv *jv_copy(const jv *v);
/* Removes element i of an array, freeing it; nothing past the end. */
void jv_remove_at(jv *arr, size_t i);

/* Appends to an array, as the setters do for members. */
void jv_push_str(jv *arr, const char *s);
/* Takes ownership of val (freed if arr is not an array). */
void jv_push_take(jv *arr, jv *val);

/* Compact text of v, members in order, owned by the caller (free()).
 * "null" for NULL. */
char *jv_dump(const jv *v);
/* Prints v compact with a newline. */
void jv_print(const jv *v, FILE *f);

#endif
