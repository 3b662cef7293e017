/*
 * log.c — stderr logging with a timestamp and the program's name.
 */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/logfile.h"

static const char *log_name = "cx";
static bool log_verbose;
/* With log_to_file: lines go through a rotating log (threads take turns). */
static bool log_rotating;
static struct logfile log_file;
static unsigned log_file_opens;     /* log_file.opens when stderr was pointed at it */
static bool log_stdout_too;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

int
log_to_file(const char *path, int64_t max)
{
	struct stat out, err;

	pthread_mutex_lock(&log_mutex);
	if (log_rotating)
		logfile_close(&log_file);
	log_stdout_too = fstat(1, &out) == 0 && fstat(2, &err) == 0 && out.st_ino == err.st_ino &&
	    out.st_dev == err.st_dev;
	logfile_init(&log_file, path, max, 0600, -1);
	log_file_opens = 0;
	log_rotating = true;
	pthread_mutex_unlock(&log_mutex);
	return 0;
}

/* One whole line through the rotating log; stderr (and stdout, when it was
 * the log too) follows it to a new live file. */
static void
log_write_rotating(const char *line, size_t n)
{
	int fd;

	pthread_mutex_lock(&log_mutex);
	if (logfile_write(&log_file, line, n) == -1) {
		pthread_mutex_unlock(&log_mutex);
		fputs(line, stderr);
		return;
	}
	if (log_file.opens != log_file_opens && (fd = logfile_fd(&log_file)) != -1) {
		dup2(fd, 2);
		if (log_stdout_too)
			dup2(fd, 1);
		log_file_opens = log_file.opens;
	}
	pthread_mutex_unlock(&log_mutex);
}

void
log_init(const char *progname, bool verbose)
{
	log_name = progname;
	log_verbose = verbose;
}

static void
log_line(const char *level, const char *fmt, va_list ap, int errnum)
{
	char msg[2048];
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_rotating) {
		char line[2400];
		int n;

		if (errnum != 0)
			n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: %s: %s\n", stamp,
			    ts.tv_nsec / 1000000, log_name, level, msg, strerror(errnum));
		else
			n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: %s\n", stamp,
			    ts.tv_nsec / 1000000, log_name, level, msg);
		if (n > 0 && (size_t)n >= sizeof(line)) {
			line[sizeof(line) - 2] = '\n';
			n = (int)sizeof(line) - 1;
		}
		if (n > 0)
			log_write_rotating(line, (size_t)n);
		return;
	}
	if (errnum != 0)
		fprintf(stderr, "%s.%03ldZ %s %s: %s: %s\n", stamp, ts.tv_nsec / 1000000,
		    log_name, level, msg, strerror(errnum));
	else
		fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000,
		    log_name, level, msg);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_line("warn", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("warn", fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("info", fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_line("debug", fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_line("fatal", fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("fatal", fmt, ap, 0);
	va_end(ap);
	exit(1);
}
