/* log.c — the JSON-lines logger (see log.h). The level is the only global state. */
#include "common/log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

static atomic_int current_level = LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level) {
  assert(level >= LOG_DEBUG && level <= LOG_ERROR);
  atomic_store(&current_level, (int)level);
}

enum log_level log_get_level(void) { return (enum log_level)atomic_load(&current_level); }

int log_level_parse(const char *s, enum log_level *out) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (enum log_level)i;
      return 0;
    }
  }
  return -1;
}

size_t json_escape(const char *s, char *out, size_t out_len) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  if (out_len < 3) goto overflow;
  out[n++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc = 0;
    switch (*p) {
      case '"': esc = '"'; break;
      case '\\': esc = '\\'; break;
      case '\n': esc = 'n'; break;
      case '\r': esc = 'r'; break;
      case '\t': esc = 't'; break;
      default: break;
    }
    if (esc) {
      if (n + 2 >= out_len) goto overflow;
      out[n++] = '\\';
      out[n++] = esc;
    } else if (*p < 0x20 || *p == 0x7f) {
      if (n + 6 >= out_len) goto overflow;
      out[n++] = '\\'; out[n++] = 'u'; out[n++] = '0'; out[n++] = '0';
      out[n++] = hex[*p >> 4];
      out[n++] = hex[*p & 15];
    } else {
      if (n + 1 >= out_len) goto overflow;
      out[n++] = (char)*p;
    }
  }
  if (n + 2 > out_len) goto overflow;
  out[n++] = '"';
  out[n] = '\0';
  return n;
overflow:
  if (out_len) out[0] = '\0';
  return 0;
}

static void append_raw(struct log_line *l, const char *s, size_t n) {
  /* keep room for the closing "}\n" and a possible ,"truncated":true */
  if (l->len + n + 24 > sizeof l->buf) {
    l->truncated = true;
    return;
  }
  memcpy(l->buf + l->len, s, n);
  l->len += n;
}

static void append_key(struct log_line *l, const char *key) {
  char tmp[128];
  size_t n = json_escape(key, tmp, sizeof tmp - 1);
  assert(n > 0);
  tmp[n++] = ':';
  append_raw(l, ",", 1);
  append_raw(l, tmp, n);
}

void log_begin(struct log_line *l, enum log_level level, const char *msg) {
  l->len = 0;
  l->truncated = false;
  l->active = (int)level >= atomic_load(&current_level);
  if (!l->active) return;
  char ts[32];
  clock_rfc3339(clock_now_ms(), ts, sizeof ts);
  int n = snprintf(l->buf, sizeof l->buf, "{\"ts\":\"%s\",\"level\":\"%s\"", ts, level_names[level]);
  assert(n > 0 && (size_t)n < sizeof l->buf);
  l->len = (size_t)n;
  log_str(l, "msg", msg);
}

/* Values longer than LOG_VALUE_MAX bytes are cut (on a UTF-8 boundary) and the line
 * is marked "truncated": the field itself is never dropped. */
#define LOG_VALUE_MAX 1024

void log_str(struct log_line *l, const char *key, const char *value) {
  if (!l->active) return;
  char cut[LOG_VALUE_MAX + 1];
  const char *v = value ? value : "";
  if (strlen(v) > LOG_VALUE_MAX) {
    size_t n = LOG_VALUE_MAX;
    while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80) n--; /* no half characters */
    memcpy(cut, v, n);
    cut[n] = '\0';
    v = cut;
    l->truncated = true;
  }
  char tmp[LOG_VALUE_MAX * 6 + 3];
  size_t n = json_escape(v, tmp, sizeof tmp);
  assert(n > 0); /* 6 bytes per input byte is the worst case of escaping */
  append_key(l, key);
  append_raw(l, tmp, n);
}

void log_int(struct log_line *l, const char *key, int64_t value) {
  if (!l->active) return;
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%lld", (long long)value);
  append_key(l, key);
  append_raw(l, tmp, (size_t)n);
}

void log_bool(struct log_line *l, const char *key, bool value) {
  if (!l->active) return;
  append_key(l, key);
  append_raw(l, value ? "true" : "false", value ? 4 : 5);
}

void log_end(struct log_line *l) {
  if (!l->active) return;
  if (l->truncated) {
    static const char t[] = ",\"truncated\":true";
    memcpy(l->buf + l->len, t, sizeof t - 1);
    l->len += sizeof t - 1;
  }
  l->buf[l->len++] = '}';
  l->buf[l->len++] = '\n';
  assert(l->len <= sizeof l->buf);
  size_t off = 0;
  for (int tries = 0; off < l->len && tries < 8; tries++) { /* bounded: stderr may be a pipe */
    ssize_t w = write(STDERR_FILENO, l->buf + off, l->len - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  l->active = false;
}

static void log_fmt(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void log_fmt(enum log_level level, const char *fmt, va_list ap) {
  if ((int)level < atomic_load(&current_level)) return;
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  struct log_line l;
  log_begin(&l, level, msg);
  log_end(&l);
}

void log_info(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_fmt(LOG_INFO, fmt, ap);
  va_end(ap);
}

void log_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_fmt(LOG_WARN, fmt, ap);
  va_end(ap);
}

void log_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_fmt(LOG_ERROR, fmt, ap);
  va_end(ap);
}
