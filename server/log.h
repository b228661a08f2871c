/* Structured JSON logging to stderr, one object per line. */
#ifndef ALLIED_LOG_H
#define ALLIED_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* "debug".."off" -> level, or -1. */
int log_level_parse(const char *s);

/* Logs `msg` (printf format) at `level`; `where` is file:line for bugs, NULL otherwise. */
void log_msg(int level, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes one pre-built JSON object (without newline) as a log line, if `level` is enabled. */
void log_json_line(int level, const char *json);

int log_enabled(int level);
/* The current UTC time as the log lines carry it: "2026-01-31T12:34:56.789Z" (`out` >= 32 bytes). */
void log_timestamp(char *out);
/* Lines below `level` are dropped (set from ALLIED_LOG by config_load; LOG_INFO until then). */
void log_set_level(int level);

#define LOG_STR2(x) #x
#define LOG_STR(x) LOG_STR2(x)
/* A bug in our code: logged with its location. */
#define LOG_BUG(...) log_msg(LOG_ERROR, __FILE__ ":" LOG_STR(__LINE__), __VA_ARGS__)
/* A bug noticed while serving a request: logged with its location and the request id. */
#define LOG_BUG_RQ(rq, msg) LOG_BUG("%s (request_id=%s)", msg, (rq)->request_id)
#endif
