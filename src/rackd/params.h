/*
 * params.h — the rack's parameters: names, types, defaults and checks.
 * `cx rack params set` goes through params_check before anything is stored.
 */
#ifndef CX_PARAMS_H
#define CX_PARAMS_H

#include <stddef.h>

enum param_type { PARAM_BOOL, PARAM_INT, PARAM_PORT, PARAM_CIDR_LIST, PARAM_DOMAIN, PARAM_GROUP,
	PARAM_ADDR, PARAM_URL, PARAM_FILE, PARAM_REGISTRY, PARAM_CLOUD };

struct param_def {
	const char *name;
	enum param_type type;
	long min, max;          /* PARAM_INT */
	const char *help;
};

/* The table of every param, in display order; n set to its length. */
const struct param_def *params_table(size_t *n);
const struct param_def *params_find(const char *name);
/* Checks one name=value pair. 0 ok; -1 with a one-line reason in err, naming
 * the closest known param for an unknown one. */
int params_check(const char *name, const char *value, char *err, size_t errlen);
/* Whether name is set at install only (`cx rack install local NAME k=v`)
 * and refused by `cx rack params set` afterwards. */
int params_install_only(const char *name);
/* The known param name closest to `name` (edit distance), or NULL if none is close. */
const char *params_suggest(const char *name);

#endif
