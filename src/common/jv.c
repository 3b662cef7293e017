/*
 * jv.c — the JSON module over jansson, the one file that includes it; see
 * jv.h.
 */
#include "common/jv.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* A jv is a jansson json_t; the header calls it struct jv so that jansson's
 * names stay in this file. These two are the only casts between them. */
static json_t *
J(const jv *v)
{
	return (json_t *)v;
}

static jv *
V(json_t *j)
{
	return (jv *)j;
}

jv *
jv_parse(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v;

	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (v == NULL && errlen > 0)
		snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
	return V(v);
}

void
jv_free(jv *v)
{
	if (v != NULL)
		json_decref(J(v));
}

bool
jv_is_array(const jv *v)
{
	return v != NULL && json_is_array(J(v));
}

bool
jv_is_object(const jv *v)
{
	return v != NULL && json_is_object(J(v));
}

bool
jv_is_string(const jv *v)
{
	return v != NULL && json_is_string(J(v));
}

bool
jv_is_bool(const jv *v)
{
	return v != NULL && json_is_boolean(J(v));
}

bool
jv_is_int(const jv *v)
{
	return v != NULL && json_is_integer(J(v));
}

size_t
jv_len(const jv *arr)
{
	return json_is_array(J(arr)) ? json_array_size(J(arr)) : 0;
}

jv *
jv_at(const jv *arr, size_t i)
{
	return json_is_array(J(arr)) ? V(json_array_get(J(arr), i)) : NULL;
}

jv *
jv_get(const jv *obj, const char *key)
{
	return json_is_object(J(obj)) ? V(json_object_get(J(obj), key)) : NULL;
}

const char *
jv_str(const jv *obj, const char *key)
{
	static char ring[8][32];
	static unsigned next;
	json_t *v = J(jv_get(obj, key));
	char *out;

	if (v == NULL)
		return "";
	if (json_is_string(v))
		return json_string_value(v);
	out = ring[next++ % 8];
	if (json_is_integer(v))
		snprintf(out, sizeof(ring[0]), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, sizeof(ring[0]), "%g", json_real_value(v));
	else if (json_is_true(v))
		return "true";
	else if (json_is_false(v))
		return "false";
	else
		return "";
	return out;
}

const char *
jv_str_or(const jv *obj, const char *key, const char *def)
{
	json_t *v = J(jv_get(obj, key));

	return json_is_string(v) ? json_string_value(v) : def;
}

int64_t
jv_int(const jv *obj, const char *key)
{
	json_t *v = J(jv_get(obj, key));
	long n;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	if (json_is_string(v) && parse_long(json_string_value(v), 0, INT64_MAX, &n) == 0)
		return n;
	return 0;
}

bool
jv_bool(const jv *obj, const char *key)
{
	json_t *v = J(jv_get(obj, key));

	return json_is_true(v);
}

const char *
jv_string_value(const jv *v)
{
	return json_is_string(J(v)) ? json_string_value(J(v)) : "";
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **
jv_keys(const jv *obj, size_t *n)
{
	const char **keys;
	const char *k;
	json_t *v;
	size_t i = 0;

	*n = json_is_object(J(obj)) ? json_object_size(J(obj)) : 0;
	keys = xcalloc(*n + 1, sizeof(*keys));
	if (*n == 0)
		return keys;
	json_object_foreach(J(obj), k, v) {
		(void)v;
		keys[i++] = k;
	}
	return keys;
}

const char **
jv_keys_sorted(const jv *obj, size_t *n)
{
	const char **keys = jv_keys(obj, n);

	qsort(keys, *n, sizeof(*keys), key_cmp);
	return keys;
}

jv *
jv_object_new(void)
{
	return V(json_object());
}

jv *
jv_array_new(void)
{
	return V(json_array());
}

/* A JSON string of s; bytes that are not UTF-8 become '?' (jansson refuses
 * them, and a member that silently went missing would be worse). */
static json_t *
string_new(const char *s)
{
	json_t *v;
	char *copy;

	if (s == NULL)
		s = "";
	if ((v = json_string(s)) != NULL)
		return v;
	copy = xstrdup(s);
	utf8_sanitize(copy);
	v = json_string(copy);
	free(copy);
	return v;
}

/* Every setter ends here: jansson frees val when it cannot take it. */
static void
set_new(jv *obj, const char *key, json_t *val)
{
	if (json_is_object(J(obj)))
		json_object_set_new(J(obj), key, val);
	else
		json_decref(val);
}

void
jv_set_str(jv *obj, const char *key, const char *val)
{
	set_new(obj, key, string_new(val));
}

void
jv_set_int(jv *obj, const char *key, int64_t val)
{
	set_new(obj, key, json_integer(val));
}

void
jv_set_bool(jv *obj, const char *key, bool val)
{
	set_new(obj, key, json_boolean(val));
}

void
jv_set_null(jv *obj, const char *key)
{
	set_new(obj, key, json_null());
}

void
jv_copy_member(jv *dst, const char *to, const jv *obj, const char *from)
{
	json_t *v = J(jv_get(obj, from));

	if (v != NULL)
		set_new(dst, to, json_incref(v));
}

void
jv_set_take(jv *obj, const char *key, jv *val)
{
	set_new(obj, key, J(val));
}

void
jv_del(jv *obj, const char *key)
{
	if (json_is_object(J(obj)))
		json_object_del(J(obj), key);
}

jv *
jv_copy(const jv *v)
{
	return v == NULL ? NULL : (jv *)json_deep_copy(J(v));
}

void
jv_remove_at(jv *arr, size_t i)
{
	if (json_is_array(J(arr)))
		json_array_remove(J(arr), i);
}

void
jv_push_take(jv *arr, jv *val)
{
	if (json_is_array(J(arr)))
		json_array_append_new(J(arr), J(val));
	else
		json_decref(J(val));
}

jv *
jv_string_new(const char *s)
{
	return V(string_new(s));
}

void
jv_push_str(jv *arr, const char *s)
{
	jv_push_take(arr, V(string_new(s)));
}

char *
jv_dump(const jv *v)
{
	char *s = json_dumps(J(v), JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);

	if (s == NULL)
		return xstrdup("null");
	return s;
}

void
jv_print(const jv *v, FILE *f)
{
	char *s = jv_dump(v);

	fputs(s, f);
	fputc('\n', f);
	free(s);
}
