/*
 * yaml.c — jv values as block YAML (see yaml.h). Numbers and booleans come
 * out as jv formats them; strings plain when safe, else double-quoted with
 * JSON's escapes, which YAML's double-quoted style shares.
 */
#include "k8s/yaml.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Words YAML 1.1 or 1.2 readers take for something other than a string. */
static const char *const special[] = {
	"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
	"True", "False", "Yes", "No", "On", "Off", "Y", "N", "Null", "NULL",
	"TRUE", "FALSE", "YES", "NO", "ON", "OFF",
};

bool
k8s_yaml_plain_ok(const char *s)
{
	bool digits_only = true;

	if (s[0] == '\0' || !(((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') || s[0] == '/' ||
	    (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < CX_ARRAY_LEN(special); i++)
		if (strcmp(s, special[i]) == 0)
			return false;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') &&
		    c != '-' && c != '.' && c != '_' && c != '/')
			return false;
		if (!(c >= '0' && c <= '9') && c != '.' && c != '-' && c != '_')
			digits_only = false;
	}
	/* 8080, 1.5, 1e3, 0x1f, 1_000: numbers to a reader. */
	return !digits_only && !(s[0] >= '0' && s[0] <= '9' && strpbrk(s, "eExX") != NULL &&
	    strspn(s, "0123456789eExXabcdefABCDEF.-_") == strlen(s));
}

static void
scalar(struct buf *b, const char *s)
{
	if (k8s_yaml_plain_ok(s)) {
		buf_adds(b, s);
		return;
	}
	buf_adds(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\t': buf_adds(b, "\\t"); break;
		case '\r': buf_adds(b, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_addf(b, "\\x%02x", *p);
			else
				buf_add(b, p, 1);
		}
	}
	buf_adds(b, "\"");
}

static void
indent(struct buf *b, int n)
{
	for (int i = 0; i < n; i++)
		buf_adds(b, "  ");
}

static size_t
members(const jv *v)
{
	size_t n = 0;
	const char **k;

	if (jv_is_array(v))
		return jv_len(v);
	if (!jv_is_object(v))
		return 0;
	k = jv_keys(v, &n);
	free(k);
	return n;
}

/* A scalar, an empty container or a list inside a list: on one line
 * (numbers, booleans and lists in JSON's notation, which YAML shares). */
static void
inline_write(struct buf *b, const jv *v)
{
	char *text;

	if (jv_is_string(v)) {
		scalar(b, jv_string_value(v));
		return;
	}
	if (jv_is_object(v) && members(v) == 0) {
		buf_adds(b, "{}");
		return;
	}
	text = jv_dump(v);
	buf_adds(b, text);
	free(text);
}

static void node(struct buf *b, const jv *v, int depth);

/* The members of object v at depth, each on its own line; the first on the
 * current line when first_inline (a list item's "- "). */
static void
mapping(struct buf *b, const jv *v, int depth, bool first_inline)
{
	size_t n;
	const char **keys = jv_keys(v, &n);

	for (size_t i = 0; i < n; i++) {
		if (i > 0 || !first_inline)
			indent(b, depth);
		scalar(b, keys[i]);
		buf_adds(b, ":");
		node(b, jv_get(v, keys[i]), depth + 1);
	}
	free(keys);
}

/* Writes v after "key:", starting on that line. */
static void
node(struct buf *b, const jv *v, int depth)
{
	if (members(v) == 0) {
		buf_adds(b, " ");
		inline_write(b, v);
		buf_adds(b, "\n");
		return;
	}
	buf_adds(b, "\n");
	if (jv_is_object(v)) {
		mapping(b, v, depth, false);
		return;
	}
	for (size_t i = 0; i < jv_len(v); i++) {
		const jv *e = jv_at(v, i);

		indent(b, depth - 1);
		buf_adds(b, "- ");
		if (jv_is_object(e) && members(e) > 0) {
			mapping(b, e, depth, true);
		} else {
			inline_write(b, e);
			buf_adds(b, "\n");
		}
	}
}

char *
k8s_yaml_stream(const jv *docs)
{
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < jv_len(docs); i++) {
		buf_adds(&b, "---\n");
		mapping(&b, jv_at(docs, i), 0, false);
	}
	return buf_cstr(&b);
}
