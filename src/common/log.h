/* log.h — JSON-lines logging on stderr: one object per line, written with one write(2)
 * so lines from different threads never interleave.
 *
 *   struct log_line l;
 *   log_begin(&l, LOG_INFO, "request");
 *   log_str(&l, "method", "GET");
 *   log_int(&l, "status", 200);
 *   log_end(&l);
 *
 * Fields that do not fit the 4 KiB line are dropped and "truncated":true is added. */
#ifndef MPS_COMMON_LOG_H
#define MPS_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

#define LOG_LINE_MAX 4096

struct log_line {
  char buf[LOG_LINE_MAX];
  size_t len;
  bool truncated;
  bool active; /* false when the level is filtered out: every call is then a no-op */
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug|info|warn|error"; returns -1 for anything else. */
int log_level_parse(const char *s, enum log_level *out);

void log_begin(struct log_line *l, enum log_level level, const char *msg);
void log_str(struct log_line *l, const char *key, const char *value);
void log_int(struct log_line *l, const char *key, int64_t value);
void log_bool(struct log_line *l, const char *key, bool value);
void log_end(struct log_line *l);

/* One-liners: {"ts":..,"level":..,"msg":<formatted>} */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* JSON string escaping into a bounded buffer (adds the quotes). Returns bytes written,
 * or 0 when it does not fit (out is then left NUL-terminated at out[0]). */
size_t json_escape(const char *s, char *out, size_t out_len);

#endif
