/* db_pg_set.c — the set form of a statement (D63) and the array literals it is sent with. */
#include "store/db_pg_set.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SET_SQL_MAX (64 * 1024) /* a set form longer than this is not made */
#define SET_PARAMS_MAX 100      /* DB_MAX_PARAMS */

const char *pg_set_type_name(unsigned oid) {
  switch (oid) { /* pg_type's OIDs, fixed since PostgreSQL 8 */
  case 16: return "bool";
  case 20: return "int8";
  case 21: return "int2";
  case 23: return "int4";
  case 25: return "text";
  case 701: return "float8";
  case 1043: return "varchar";
  case 1700: return "numeric";
  default: return NULL;
  }
}

/* A growing text, at most SET_SQL_MAX; ok turns false for good once it would not fit. */
struct text {
  char *s;
  size_t len, cap;
  bool ok;
};

static void put(struct text *t, const char *s, size_t len) {
  if (!t->ok) return;
  if (t->len + len + 1 > SET_SQL_MAX) {
    t->ok = false;
    return;
  }
  if (t->len + len + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + len + 1) cap *= 2;
    char *grown = realloc(t->s, cap);
    if (grown == NULL) {
      t->ok = false;
      return;
    }
    t->s = grown;
    t->cap = cap;
  }
  memcpy(t->s + t->len, s, len);
  t->len += len;
  t->s[t->len] = '\0';
}

#define PUT(t, lit) put((t), (lit), sizeof(lit) - 1) /* a string literal */

static void putf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct text *t, const char *fmt, ...) {
  char buf[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof buf) {
    t->ok = false;
    return;
  }
  put(t, buf, (size_t)n);
}

/* s at a string literal ('...', '' inside): the character after it, or NULL when unclosed. */
static const char *skip_literal(const char *s) {
  assert(*s == '\'');
  for (s++; *s != '\0'; s++)
    if (*s == '\'') {
      if (s[1] != '\'') return s + 1;
      s++;
    }
  return NULL;
}

static bool word_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '$'; }

/* The first occurrence in [s, end) of keyword kw as a word, outside literals and at
 * parenthesis depth 0 when top_only; NULL when none (or the text is malformed). */
static const char *find_word(const char *s, const char *end, const char *kw, bool top_only) {
  size_t klen = strlen(kw);
  int depth = 0;
  for (const char *p = s; p < end && *p != '\0'; p++) {
    if (*p == '\'') {
      p = skip_literal(p);
      if (p == NULL) return NULL;
      p--;
      continue;
    }
    if (*p == '(') depth++;
    if (*p == ')') depth--;
    if (depth < 0) return NULL;
    if ((top_only && depth > 0) || (size_t)(end - p) < klen || strncasecmp(p, kw, klen) != 0) continue;
    if ((p > s && word_char(p[-1])) || word_char(p[klen])) continue;
    return p;
  }
  return NULL;
}

/* [s, end) with each $k outside literals written as mps_u.mps_k. False on a $k past n. */
static bool put_params(struct text *t, const char *s, const char *end, int n) {
  const char *from = s;
  for (const char *p = s; p < end; p++) {
    if (*p == '\'') {
      const char *after = skip_literal(p);
      if (after == NULL || after > end) return false;
      p = after - 1;
      continue;
    }
    if (*p != '$' || !isdigit((unsigned char)p[1])) continue;
    put(t, from, (size_t)(p - from));
    int k = 0;
    const char *q = p + 1;
    while (q < end && isdigit((unsigned char)*q) && k <= SET_PARAMS_MAX) k = k * 10 + (*q++ - '0');
    if (k < 1 || k > n) return false;
    putf(t, "mps_u.mps_%d", k);
    from = q;
    p = q - 1;
  }
  put(t, from, (size_t)(end - from));
  return true;
}

/* with_i: WITH ORDINALITY, the element's number in mps_u.mps_i */
static void put_unnest(struct text *t, int n, const char *const *types, bool with_i) {
  PUT(t, " FROM unnest(");
  for (int k = 1; k <= n; k++) putf(t, "%s$%d::%s[]", k > 1 ? ", " : "", k, types[k - 1]);
  if (with_i) PUT(t, ") WITH ORDINALITY AS mps_u(");
  else PUT(t, ") AS mps_u(");
  for (int k = 1; k <= n; k++) putf(t, "%smps_%d", k > 1 ? ", " : "", k);
  if (with_i) PUT(t, ", mps_i");
  PUT(t, ")");
}

/* VALUES' rows from rows to end: how many top-level (...) tuples, or -1 when it is anything
 * but tuples separated by commas. */
static int count_rows(const char *rows, const char *end) {
  int count = 0, depth = 0;
  bool want_tuple = true;
  for (const char *p = rows; p < end; p++) {
    if (*p == ' ' || *p == '\n' || *p == '\t') continue;
    if (depth == 0) {
      if (want_tuple && *p == '(') {
        count++;
        want_tuple = false;
      } else if (!want_tuple && *p == ',') {
        want_tuple = true;
        continue;
      } else {
        return -1;
      }
    }
    if (*p == '\'') {
      p = skip_literal(p);
      if (p == NULL || p > end) return -1;
      p--;
      continue;
    }
    if (*p == '(') depth++;
    if (*p == ')') depth--;
    if (depth < 0) return -1;
  }
  return depth == 0 && !want_tuple ? count : -1;
}

static bool insert_form(struct text *t, const char *sql, const char *end, int n, const char *const *types) {
  static const char *const refused[] = {"CONFLICT", "RETURNING", "SELECT", "WITH", "DEFAULT"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    if (find_word(sql, end, refused[i], false) != NULL) return false;
  const char *values = find_word(sql, end, "VALUES", true);
  if (values == NULL) return false;
  const char *rows = values + 6;
  int nrows = count_rows(rows, end);
  if (nrows < 1) return false;
  put(t, sql, (size_t)(values - sql)); /* INSERT INTO t (cols) */
  if (nrows == 1) {
    const char *open = strchr(rows, '(');
    const char *close = end;
    while (close > open && *close != ')') close--;
    PUT(t, "SELECT ");
    if (!put_params(t, open + 1, close, n)) return false;
    put_unnest(t, n, types, false);
    return true;
  }
  PUT(t, "SELECT mps_v.*");
  put_unnest(t, n, types, false);
  PUT(t, " CROSS JOIN LATERAL (VALUES");
  if (!put_params(t, rows, end, n)) return false;
  PUT(t, ") AS mps_v");
  return true;
}

static bool update_form(struct text *t, const char *sql, const char *end, int n, const char *const *types) {
  static const char *const refused[] = {"FROM", "RETURNING", "WITH", "mps_u"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    if (find_word(sql, end, refused[i], false) != NULL) return false;
  const char *set = find_word(sql, end, "SET", true);
  const char *where = find_word(sql, end, "WHERE", true);
  if (set == NULL || where == NULL || where < set || find_word(where + 5, end, "WHERE", false) != NULL) return false;
  put(t, sql, (size_t)(set - sql)); /* UPDATE t */
  if (!put_params(t, set, where, n)) return false;
  put_unnest(t, n, types, false);
  PUT(t, " ");
  return put_params(t, where, end, n);
}

/* SELECT mps_u.mps_i, mps_q.* FROM unnest(...) WITH ORDINALITY AS mps_u(..., mps_i)
 * CROSS JOIN LATERAL (sql') AS mps_q: a nested loop, each element's rows in its turn. */
/* An UPDATE in [s, end) that is not a row lock (FOR UPDATE, FOR NO KEY UPDATE). */
static bool has_update(const char *s, const char *end) {
  for (const char *p = find_word(s, end, "UPDATE", false); p != NULL; p = find_word(p + 6, end, "UPDATE", false)) {
    const char *w = p;
    while (w > s && w[-1] == ' ') w--;
    bool lock = (w - s >= 3 && strncasecmp(w - 3, "FOR", 3) == 0) || (w - s >= 3 && strncasecmp(w - 3, "KEY", 3) == 0);
    if (!lock || (w - s > 3 && word_char(w[-4]))) return true;
  }
  return false;
}

static bool read_form(struct text *t, const char *sql, const char *end, int n, const char *const *types) {
  static const char *const refused[] = {"INSERT", "DELETE", "MERGE", "mps_u", "mps_q", "nextval"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    if (find_word(sql, end, refused[i], false) != NULL) return false;
  if (has_update(sql, end)) return false;
  PUT(t, "SELECT mps_u.mps_i, mps_q.*");
  put_unnest(t, n, types, true);
  PUT(t, " CROSS JOIN LATERAL (");
  if (!put_params(t, sql, end, n)) return false;
  PUT(t, ") AS mps_q");
  return true;
}

char *pg_set_form(const char *sql, int n, const char *const *types) {
  assert(sql != NULL && n >= 0 && n <= SET_PARAMS_MAX && (n == 0 || types != NULL));
  if (n < 1) return NULL; /* nothing differs between the holds: nothing to pair up */
  for (int k = 0; k < n; k++)
    if (types[k] == NULL) return NULL;
  while (*sql == ' ' || *sql == '\n' || *sql == '\t') sql++;
  const char *end = sql + strlen(sql);
  while (end > sql && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == ';')) end--;
  if (memchr(sql, ';', (size_t)(end - sql)) != NULL) return NULL;
  struct text t = {.ok = true};
  bool made = false;
  if (strncasecmp(sql, "INSERT", 6) == 0 && !word_char(sql[6])) made = insert_form(&t, sql, end, n, types);
  else if (strncasecmp(sql, "UPDATE", 6) == 0 && !word_char(sql[6])) made = update_form(&t, sql, end, n, types);
  else if ((strncasecmp(sql, "SELECT", 6) == 0 && !word_char(sql[6])) || (strncasecmp(sql, "WITH", 4) == 0 && !word_char(sql[4])))
    made = read_form(&t, sql, end, n, types);
  if (made && t.ok) return t.s;
  free(t.s);
  return NULL;
}

bool pg_set_array(char *buf, size_t *used, size_t cap, const char *const *values, int count) {
  assert(buf != NULL && used != NULL && *used <= cap && count >= 0);
  size_t at = *used;
  if (at + 2 > cap) return false;
  buf[at++] = '{';
  for (int i = 0; i < count; i++) {
    if (i > 0) {
      if (at + 1 > cap) return false;
      buf[at++] = ',';
    }
    if (values[i] == NULL) {
      if (at + 4 > cap) return false;
      memcpy(buf + at, "NULL", 4);
      at += 4;
      continue;
    }
    if (at + 1 > cap) return false;
    buf[at++] = '"';
    for (const char *s = values[i]; *s != '\0'; s++) {
      if (at + 2 > cap) return false;
      if (*s == '"' || *s == '\\') buf[at++] = '\\';
      buf[at++] = *s;
    }
    if (at + 1 > cap) return false;
    buf[at++] = '"';
  }
  if (at + 2 > cap) return false;
  buf[at++] = '}';
  buf[at++] = '\0';
  *used = at;
  return true;
}
