/*
 * log.h — the one logging interface shared by every cx program.
 *
 * Three levels as in relayd: log_warn appends strerror(errno), log_warnx does
 * not, fatal/fatalx log and exit(1). log_info and log_debug are for progress.
 * Lines go to stderr with the program name; daemons redirect stderr to a file.
 */
#ifndef CX_LOG_H
#define CX_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* Sets the name printed before each line and whether debug lines show. */
void log_init(const char *progname, bool verbose);
/* From now on lines are appended to path (the file stderr already writes,
 * for a daemon), which rotates at max bytes as logfile.h says; stderr (and
 * stdout if it is the same file) is moved to each new live file, so what
 * else writes there follows. Called again, it changes the cap. 0. */
int log_to_file(const char *path, int64_t max);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
