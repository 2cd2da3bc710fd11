/* fuzz_router.c — libFuzzer target: the router's path matcher (router_match) against the real
 * routing table (routes_table(), src/http/routes.c). Input: line 1 is the method, the rest
 * the path (up to a NUL). The path is matched as given and percent-decoded (libmicrohttpd
 * hands the router the decoded path, so %2F becomes a '/' the router sees), with every
 * common method and the fuzzed one, and with Allow buffers of every small size (allocated to
 * the byte, so an overrun is a sanitizer report).
 *
 * Properties checked, beyond "no crash, no sanitizer report":
 *   - the result agrees with an independent model matcher: FOUND exactly when some route
 *     of that method matches segment by segment ({name} takes one non-empty segment shorter
 *     than ROUTE_PARAM_MAX), and then the first such route; NO_METHOD when only other
 *     methods match; else NO_PATH;
 *   - on FOUND, the params name the pattern's captures in order and their values are the
 *     path's segments: putting them back into the pattern rebuilds the path exactly;
 *   - on NO_METHOD, Allow lists the matching routes' methods in table order ("GET, PATCH"),
 *     always terminated inside the buffer; a buffer too small keeps only whole entries;
 *   - round trip: a path built from a route's pattern with captures taken from the input
 *     is FOUND for that route's method. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "http/router.h"

#define PATH_MAX_SEGMENTS 64

struct segs {
  int count;
  const char *at[PATH_MAX_SEGMENTS];
  size_t len[PATH_MAX_SEGMENTS];
};

/* "/a//b" -> "a", "", "b"; false when not starting with '/' or too many segments. */
static bool split(const char *s, struct segs *out) {
  out->count = 0;
  if (s[0] != '/') return false;
  const char *p = s + 1;
  for (;;) {
    if (out->count == PATH_MAX_SEGMENTS) return false;
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    out->at[out->count] = p;
    out->len[out->count++] = n;
    if (!slash) return true;
    p = slash + 1;
  }
}

static bool is_capture(const char *seg, size_t n) { return n >= 2 && seg[0] == '{' && seg[n - 1] == '}'; }

static bool model_match(const char *pattern, const char *path) {
  struct segs ps, us;
  if (!split(pattern, &ps) || !split(path, &us) || ps.count != us.count) return false;
  for (int i = 0; i < ps.count; i++) {
    if (is_capture(ps.at[i], ps.len[i])) {
      if (us.len[i] == 0 || us.len[i] >= ROUTE_PARAM_MAX) return false;
    } else if (ps.len[i] != us.len[i] || memcmp(ps.at[i], us.at[i], us.len[i]) != 0) {
      return false;
    }
  }
  return true;
}

/* The pattern with every capture replaced by the params' values, in order. */
static void rebuild(const char *pattern, const struct route_params *p, char *out, size_t out_len) {
  struct segs ps;
  FUZZ_CHECK(split(pattern, &ps), "pattern '%s' does not split", pattern);
  size_t used = 0;
  int k = 0;
  out[0] = '\0';
  for (int i = 0; i < ps.count; i++) {
    const char *text = ps.at[i];
    size_t n = ps.len[i];
    if (is_capture(ps.at[i], ps.len[i])) {
      FUZZ_CHECK(k < p->count, "fewer params than captures in %s", pattern);
      FUZZ_CHECK(p->name_lens[k] == n - 2 && memcmp(p->names[k], text + 1, n - 2) == 0, "param %d name", k);
      text = p->values[k];
      n = strnlen(p->values[k], ROUTE_PARAM_MAX);
      FUZZ_CHECK(n > 0 && n < ROUTE_PARAM_MAX && !memchr(text, '/', n), "param %d value", k);
      k++;
    }
    FUZZ_CHECK(used + 1 + n < out_len, "rebuilt path too long");
    out[used++] = '/';
    memcpy(out + used, text, n);
    used += n;
    out[used] = '\0';
  }
  FUZZ_CHECK(k == p->count, "%d params, %d captures in %s", p->count, k, pattern);
}

static void check_one(const struct route *table, size_t count, const char *method, const char *path,
                      size_t allow_len) {
  const struct route *found = (const struct route *)&found; /* not NULL: must be overwritten */
  struct route_params params;
  memset(&params, 0x5A, sizeof params);
  char *allow = malloc(allow_len ? allow_len : 1);
  if (!allow) abort();
  memset(allow, 'x', allow_len ? allow_len : 1);
  enum route_match m = router_match(table, count, method, path, &found, &params, allow, allow_len);

  const struct route *want = NULL;
  bool path_found = false;
  char want_allow[256] = "";
  for (size_t i = 0; i < count && !want; i++) {
    if (!model_match(table[i].pattern, path)) continue;
    if (strcmp(table[i].method, method) == 0) {
      want = &table[i];
    } else {
      path_found = true;
      size_t used = strlen(want_allow);
      snprintf(want_allow + used, sizeof want_allow - used, "%s%s", used ? ", " : "", table[i].method);
    }
  }
  enum route_match want_m = want ? ROUTE_FOUND : path_found ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
  FUZZ_CHECK(m == want_m, "%s %s: router %d, model %d", method, path, (int)m, (int)want_m);
  if (m == ROUTE_FOUND) {
    FUZZ_CHECK(found == want, "%s %s: route %s, model %s", method, path, found->pattern, want->pattern);
    char rebuilt[8192];
    rebuild(found->pattern, &params, rebuilt, sizeof rebuilt);
    FUZZ_CHECK(strcmp(rebuilt, path) == 0, "params do not rebuild the path: %s vs %s", rebuilt, path);
  } else {
    FUZZ_CHECK(found == NULL, "%s %s: no match but a route", method, path);
  }
  if (m == ROUTE_NO_METHOD && allow_len > 0) {
    size_t n = strnlen(allow, allow_len);
    FUZZ_CHECK(n < allow_len, "Allow not terminated in %zu bytes", allow_len);
    FUZZ_CHECK(strncmp(allow, want_allow, n) == 0 && (n == 0 || want_allow[n] == '\0' || want_allow[n] == ','),
               "Allow '%s', model '%s'", allow, want_allow);
    if (allow_len >= 64) FUZZ_CHECK(strcmp(allow, want_allow) == 0, "Allow '%s', model '%s'", allow, want_allow);
  }
  free(allow);
}

/* %XX -> byte, as libmicrohttpd does for the path; a decoded NUL ends the string. */
static void percent_decode(const char *in, char *out) {
  static const char hexd[] = "0123456789abcdef0123456789ABCDEF";
  size_t o = 0;
  for (size_t i = 0; in[i]; i++) {
    const char *hi = in[i] == '%' && in[i + 1] ? strchr(hexd, in[i + 1]) : NULL;
    const char *lo = hi && in[i + 2] ? strchr(hexd, in[i + 2]) : NULL;
    if (hi && lo && *hi && *lo) {
      out[o++] = (char)(((hi - hexd) % 16) << 4 | ((lo - hexd) % 16));
      i += 2;
    } else {
      out[o++] = in[i];
    }
  }
  out[o] = '\0';
}

/* A path for table[r] with captures from the input's bytes (no '/', 1..127 of them). */
static void round_trip(const struct route *table, size_t count, const char *seed) {
  size_t r = (strlen(seed) * 31u + (unsigned char)seed[0]) % count;
  struct segs ps;
  FUZZ_CHECK(split(table[r].pattern, &ps), "pattern '%s'", table[r].pattern);
  char path[2048];
  size_t used = 0;
  const char *s = seed;
  for (int i = 0; i < ps.count; i++) {
    path[used++] = '/';
    if (!is_capture(ps.at[i], ps.len[i])) {
      memcpy(path + used, ps.at[i], ps.len[i]);
      used += ps.len[i];
      continue;
    }
    size_t n = 0;
    while (*s && n < ROUTE_PARAM_MAX - 1) {
      if (*s != '/') path[used + n++] = *s;
      s++;
    }
    if (n == 0) path[used + n++] = 'x';
    used += n;
    if (*s) s++;
  }
  path[used] = '\0';
  const struct route *found = NULL;
  struct route_params params;
  char allow[64];
  enum route_match m = router_match(table, count, table[r].method, path, &found, &params, allow, sizeof allow);
  FUZZ_CHECK(m == ROUTE_FOUND, "%s %s built from %s: %d", table[r].method, path, table[r].pattern, (int)m);
  check_one(table, count, table[r].method, path, 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", ""};
  size_t count = 0;
  const struct route *table = routes_table(&count);
  FUZZ_CHECK(count > 0, "empty routing table");
  char *method = fuzz_take_line(&data, &size);
  char *path = fuzz_take_rest(&data, &size);
  char *decoded = malloc(strlen(path) + 1);
  if (!decoded) abort();
  percent_decode(path, decoded);
  size_t allow_len = strlen(path) % 66; /* 0..65: below, at and above a full Allow */
  const char *const paths[] = {path, decoded};
  for (size_t p = 0; p < 2; p++) {
    check_one(table, count, method, paths[p], 64);
    check_one(table, count, method, paths[p], allow_len);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) check_one(table, count, methods[i], paths[p], 64);
  }
  round_trip(table, count, path);
  free(decoded);
  free(path);
  free(method);
  return 0;
}
