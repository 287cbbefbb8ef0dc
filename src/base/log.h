/*
 * log.h - the server log: one line per event, Redis-style prefix
 * ("pid:role dd Mon yyyy hh:mm:ss.mmm * message"), to stderr or `logfile`.
 * Thread-safe (one write(2) per line).  Levels follow redis.conf's loglevel.
 */
#ifndef KV_LOG_H
#define KV_LOG_H

enum { LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3 };

/* Open the log file ("" or NULL: stderr).  Returns 0 or -errno. */
int log_open(const char *path);
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)

#endif
