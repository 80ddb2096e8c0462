#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_role[32] = "r1flow";
static enum log_level log_min = LOG_INFO;

void log_init(const char *role, enum log_level min_level)
{
	snprintf(log_role, sizeof log_role, "%s", role);
	log_min = min_level;
}

const char *const log_level_names[] = { "debug", "info", "warn", "error", NULL };

int log_level_parse(const char *name, enum log_level *level)
{
	for (int i = 0; log_level_names[i]; i++)
		if (strcmp(name, log_level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	return -1;
}

int log_enabled(enum log_level level)
{
	return level >= log_min;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	static const char letters[] = "DIWE";
	char line[2048];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof line - (size_t)n, ".%03dZ %s[%d] %c ",
		(int)(tv.tv_usec / 1000), log_role, (int)getpid(), letters[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	n = (m < 0 || (size_t)(n + m) >= sizeof line - 1) ? (int)sizeof line - 2 : n + m;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
