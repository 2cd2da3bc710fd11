/* json_text.c — compact JSON text, written straight into a growing buffer (json_text.h). */
#include "common/json_text.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define JSON_TEXT_FIRST_CAP 512

void json_text_init(struct json_text *t) {
  memset(t, 0, sizeof *t);
  t->first[0] = true;
}

void json_text_free(struct json_text *t) {
  free(t->buf);
  json_text_init(t);
}

/* Room for `more` bytes and the final NUL, the buffer grown as needed; false (and the text
 * failed) past JSON_TEXT_MAX_LEN or without memory. */
static bool grow(struct json_text *t, size_t more) {
  if (t->failed) return false;
  if (more > JSON_TEXT_MAX_LEN || t->len + more + 1 > JSON_TEXT_MAX_LEN) {
    t->failed = true;
    return false;
  }
  if (t->len + more + 1 <= t->cap) return true;
  size_t cap = t->cap ? t->cap : JSON_TEXT_FIRST_CAP;
  while (cap < t->len + more + 1) cap *= 2; /* bounded: cap stays below 2 * JSON_TEXT_MAX_LEN */
  char *buf = realloc(t->buf, cap);
  if (!buf) {
    t->failed = true;
    return false;
  }
  t->buf = buf;
  t->cap = cap;
  return true;
}

/* grow's test inline: almost every call fits (a failed text has cap 0 or stays failed, but
 * cap never exceeds what grow allowed, so only len + more needs checking against both). */
static inline bool reserve(struct json_text *t, size_t more) {
  if (!t->failed && more <= JSON_TEXT_MAX_LEN && t->len + more + 1 <= t->cap &&
      t->len + more + 1 <= JSON_TEXT_MAX_LEN)
    return true;
  return grow(t, more);
}

static void put(struct json_text *t, const char *s, size_t n) {
  if (!reserve(t, n)) return;
  memcpy(t->buf + t->len, s, n);
  t->len += n;
}

/* Valid UTF-8 as jansson judges it: it refuses the string otherwise (rare: only strings with a
 * byte above 0x7F get here, and ids, currencies and statuses are ASCII). */
static bool valid_utf8(const char *s, size_t n) {
  json_t *probe = json_stringn(s, n);
  bool ok = probe != NULL;
  json_decref(probe);
  return ok;
}

/* What a byte needs in a JSON string: 0 nothing, 1 an escape (below 0x20, '"' at 0x22, '\\' at
 * 0x5C), 2 a UTF-8 check (0x80 and above). A table: the scan runs over every string written. */
static const unsigned char BYTE_CLASS[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};
static unsigned char byte_class(unsigned char ch) { return BYTE_CLASS[ch]; }

static void put_string(struct json_text *t, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  unsigned char needs = 0;
  size_t n = 0;
  for (; s[n] && n < JSON_TEXT_MAX_LEN; n++) needs |= byte_class((unsigned char)s[n]);
  if (needs == 0) { /* the common case: ids, statuses, currencies, keys */
    if (!reserve(t, n + 2)) return;
    char *o = t->buf + t->len;
    o[0] = '"';
    memcpy(o + 1, s, n);
    o[n + 1] = '"';
    t->len += n + 2;
    return;
  }
  if ((needs & 2) && !valid_utf8(s, n)) {
    t->failed = true;
    return;
  }
  if (!reserve(t, 6 * n + 2)) return; /* the longest escape of one byte is \u00XX */
  char *o = t->buf + t->len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    char esc = 0;
    switch (ch) {
      case '"': esc = '"'; break;
      case '\\': esc = '\\'; break;
      case '\b': esc = 'b'; break;
      case '\f': esc = 'f'; break;
      case '\n': esc = 'n'; break;
      case '\r': esc = 'r'; break;
      case '\t': esc = 't'; break;
      default: break;
    }
    if (esc) {
      *o++ = '\\';
      *o++ = esc;
    } else if (ch < 0x20) {
      memcpy(o, "\\u00", 4);
      o[4] = hex[ch >> 4];
      o[5] = hex[ch & 15];
      o += 6;
    } else {
      *o++ = (char)ch;
    }
  }
  *o++ = '"';
  t->len = (size_t)(o - t->buf);
}

/* The separator and "key": of the next member (or element, when key is NULL), in one
 * write: a key is the program's own text, which needs no escape (one that did would take
 * put_string's way). */
static void member(struct json_text *t, const char *key) {
  if (t->failed) return;
  assert(t->depth >= 0 && t->depth < JSON_TEXT_MAX_DEPTH);
  assert((key != NULL) == (t->depth > 0 && t->closer[t->depth] == '}') && "keys inside objects only");
  const bool sep = !t->first[t->depth];
  t->first[t->depth] = false;
  unsigned char needs = 0;
  size_t n = 0;
  if (key)
    for (; key[n] && n < JSON_TEXT_MAX_LEN; n++) needs |= byte_class((unsigned char)key[n]);
  if (needs != 0) {
    if (sep) put(t, ",", 1);
    put_string(t, key);
    put(t, ":", 1);
    return;
  }
  if (!reserve(t, (sep ? 1 : 0) + (key ? n + 3 : 0))) return;
  char *o = t->buf + t->len;
  if (sep) *o++ = ',';
  if (key) {
    *o++ = '"';
    memcpy(o, key, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
  }
  t->len = (size_t)(o - t->buf);
}

static void open_container(struct json_text *t, const char *key, char opener, char closer) {
  member(t, key);
  if (t->failed) return;
  if (t->depth + 1 >= JSON_TEXT_MAX_DEPTH) {
    t->failed = true;
    return;
  }
  put(t, &opener, 1);
  t->depth++;
  t->first[t->depth] = true;
  t->closer[t->depth] = closer;
}

void json_text_open(struct json_text *t, const char *key) { open_container(t, key, '{', '}'); }

void json_text_array(struct json_text *t, const char *key) { open_container(t, key, '[', ']'); }

void json_text_close(struct json_text *t) {
  if (t->failed) return;
  assert(t->depth > 0);
  char closer = t->closer[t->depth--];
  put(t, &closer, 1);
}

void json_text_raw(struct json_text *t, const char *key, const char *json) {
  member(t, key);
  put(t, json, strlen(json));
}

void json_text_str(struct json_text *t, const char *key, const char *value) {
  member(t, key);
  if (value) put_string(t, value);
  else put(t, "null", 4);
}

void json_text_int(struct json_text *t, const char *key, int64_t value) {
  member(t, key);
  char digits[24];
  int n = 0;
  uint64_t u = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value; /* INT64_MIN too */
  do {
    digits[sizeof digits - 1 - (size_t)n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u && n < 20);
  if (value < 0) digits[sizeof digits - 1 - (size_t)n++] = '-';
  put(t, digits + sizeof digits - (size_t)n, (size_t)n);
}

char *json_text_finish(struct json_text *t, size_t *len) {
  if (t->failed || t->depth != 0 || !t->buf || !reserve(t, 0)) {
    json_text_free(t);
    return NULL;
  }
  t->buf[t->len] = '\0';
  char *out = t->buf;
  if (len) *len = t->len;
  t->buf = NULL;
  json_text_init(t);
  return out;
}
