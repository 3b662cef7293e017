/*
 * dockerfile.h — what the rack reads of a Dockerfile itself: on a host
 * without the image builder, CMD, ENTRYPOINT, ENV, WORKDIR and EXPOSE (RUN
 * lines are counted so the deploy can say they were not run); for a build,
 * the names its ARG lines declare (the build args it gets, as Convox).
 */
#ifndef CX_DOCKERFILE_H
#define CX_DOCKERFILE_H

#include <stddef.h>

struct dockerfile {
	char *command;       /* ENTRYPOINT + CMD as one shell command line, or NULL */
	char **env;          /* "K=V", NULL-terminated */
	char *workdir;       /* relative WORKDIR, or NULL */
	int expose;          /* first EXPOSE port, 0 if none */
	int run_lines;       /* RUN instructions */
	char **args;         /* names its ARG lines declare, NULL-terminated (or NULL) */
};

/* Reads path; 0 on success, -1 with err (a missing file is not an error:
 * returns 0 with everything empty). */
int dockerfile_read(const char *path, struct dockerfile *df, char *err, size_t errlen);
void dockerfile_free(struct dockerfile *df);

#endif
