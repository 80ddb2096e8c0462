/*
 * log — the one-line log format of r1flow's executables.
 *
 *   <iso-time> <role>[<pid>] <D|I|W|E> <message>
 *
 * Only executables log (libraries return errors). `log_init` names the role once in
 * main; the level is checked before anything is formatted. Writes go to stderr, one
 * write(2) per line so lines from threads and processes do not interleave.
 */
#ifndef R1_LOG_H
#define R1_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(const char *role, enum log_level min_level);

/* "debug", "info", "warn" or "error" into *level; -1 (level untouched) otherwise. */
int log_level_parse(const char *name, enum log_level *level);

/* The levels' names in enum order, NULL-terminated (an option's choices). */
extern const char *const log_level_names[];

int log_enabled(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_enabled(LOG_INFO))  log_write(LOG_INFO,  __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_enabled(LOG_WARN))  log_write(LOG_WARN,  __VA_ARGS__); } while (0)
#define log_error(...) do { if (log_enabled(LOG_ERROR)) log_write(LOG_ERROR, __VA_ARGS__); } while (0)

#endif
