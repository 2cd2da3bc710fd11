/* fuzz_amount.c — libFuzzer target: every parser that turns client text into a number.
 * Amounts reach mps only as JSON integers (json_decode.h: 5200, never "5200" or 52.00), so
 * the input text is put in the place of each JF_INT field of every published body spec
 * (orderAmount, refundAmount, amount, value, minSpend, paidAmount, minAmount, bonusAmount),
 * the other required fields filled with valid values, and the body goes through json_loadb
 * and json_decode as a request would. The same text is also a query parameter: limit
 * (api_parse_limit), cursor (api_valid_id) and startTime/endTime/expiresAt (api_parse_time:
 * epoch milliseconds or RFC 3339 UTC).
 *
 * Properties checked, beyond "no crash, no sanitizer report":
 *   - a decoded amount lies within the field's [min, max] (at most MONEY_MAX_MINOR), and when
 *     the text is a number it is exactly the JSON integer written (an independent decimal
 *     parser) — and every JSON integer within the bounds is accepted;
 *   - limit is accepted exactly when the text is decimal digits (at most API_LIMIT_TEXT_MAX)
 *     naming 1..PAGE_MAX, and a refused one leaves the default alone;
 *   - a cursor is accepted exactly when it is 1..64 of [A-Za-z0-9_-];
 *   - epoch digits are accepted exactly when their value is within 0..API_TIME_MAX_MS, and
 *     give exactly that value (no silent saturation at INT64_MAX); an accepted RFC 3339 time
 *     lies in that range too and is the instant whose calendar fields are the ones written
 *     (no February 30 turning into March 2), and formatting it back parses to the same
 *     value; a refused time leaves the output alone. */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "api/body_specs.h"
#include "api/util.h"
#include "domain/money.h"
#include "fuzz.h"
#include "service/service.h"

#define TEXT_MAX 256

/* The JSON integer grammar (RFC 8259: -?(0|[1-9][0-9]*)) with JSON whitespace around it.
 * True with *out set when the text is one and fits int64; *overflow when it is one but
 * does not fit. */
static bool model_json_integer(const char *s, int64_t *out, bool *overflow) {
  *overflow = false;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  bool neg = *s == '-';
  if (neg) s++;
  if (*s < '0' || *s > '9') return false;
  if (*s == '0' && s[1] >= '0' && s[1] <= '9') return false;
  uint64_t v = 0;
  int digits = 0;
  while (*s >= '0' && *s <= '9') {
    if (v > (UINT64_MAX - 9) / 10) *overflow = true;
    else v = v * 10 + (uint64_t)(*s - '0');
    s++, digits++;
  }
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  if (*s) return false;
  if (!*overflow && v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) *overflow = true;
  if (*overflow) return false;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return digits > 0;
}

/* Only characters a number could be made of: then the text cannot smuggle in other fields. */
static bool numeric_chars(const char *s) {
  for (; *s; s++) {
    if (!strchr("0123456789+-.eE \t\r\n", *s)) return false;
  }
  return true;
}

/* body = {every other required field: a valid value, "<field>": <text>} */
static char *body_with(const struct api_body_spec *s, size_t target, const char *text) {
  size_t cap = 512 + strlen(text);
  for (size_t i = 0; i < s->count; i++) cap += s->fields[i].size + 32;
  char *b = malloc(cap);
  if (!b) abort();
  size_t used = 0;
  b[used++] = '{';
  for (size_t i = 0; i < s->count; i++) {
    const struct json_field *f = &s->fields[i];
    if (i != target && !f->required) continue;
    if (used > 1) b[used++] = ',';
    used += (size_t)snprintf(b + used, cap - used, "\"%s\":", f->name);
    if (i == target) {
      used += (size_t)snprintf(b + used, cap - used, "%s", text);
    } else if (f->type == JF_STRING) {
      b[used++] = '"';
      for (int64_t k = 0; k < (f->min > 0 ? f->min : 1); k++) b[used++] = 'a';
      b[used++] = '"';
    } else if (f->type == JF_INT) {
      used += (size_t)snprintf(b + used, cap - used, "%lld", (long long)f->min);
    } else {
      used += (size_t)snprintf(b + used, cap - used, "%s",
                               f->type == JF_BOOL ? "true" : f->type == JF_OBJECT ? "{}" : "[]");
    }
  }
  b[used++] = '}';
  b[used] = '\0';
  FUZZ_CHECK(used < cap, "body buffer");
  return b;
}

static void check_json_amount(const struct api_body_spec *s, size_t i, const char *text) {
  const struct json_field *f = &s->fields[i];
  char *body = body_with(s, i, text);
  json_error_t jerr;
  json_t *j = json_loadb(body, strlen(body), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  unsigned char *out = calloc(1, s->body_size);
  if (!out) abort();
  struct json_decode_error err;
  int rc = j ? json_decode(j, s->fields, s->count, out, &err) : -1;
  int64_t want = 0;
  bool overflow = false;
  bool is_int = model_json_integer(text, &want, &overflow);
  json_t *given = j ? json_object_get(j, f->name) : NULL;
  if (rc == 0 && given && !json_is_null(given)) { /* null = absent: an optional field stays unset */
    int64_t got;
    memcpy(&got, out + f->offset, sizeof got);
    FUZZ_CHECK(got >= f->min && got <= f->max && got <= MONEY_MAX_MINOR, "%s %s = %lld", s->routes, f->name,
               (long long)got);
    if (numeric_chars(text)) FUZZ_CHECK(is_int && got == want, "%s %s: '%s' gave %lld", s->routes, f->name, text, (long long)got);
  }
  if (is_int && want >= f->min && want <= f->max) {
    FUZZ_CHECK(rc == 0, "%s %s: '%s' refused (%s)", s->routes, f->name, text, j ? err.reason : jerr.text);
  }
  if (numeric_chars(text) && !is_int) FUZZ_CHECK(rc != 0, "%s %s: '%s' accepted", s->routes, f->name, text);
  free(out);
  json_decref(j);
  free(body);
}

static void check_limit(const char *text) {
  int limit = -12345;
  int rc = api_parse_limit(text, &limit);
  bool digits = text[0] != '\0';
  long v = 0;
  for (const char *p = text; *p && digits; p++) {
    if (*p < '0' || *p > '9') digits = false;
    else if (v <= PAGE_MAX) v = v * 10 + (*p - '0');
  }
  bool want = digits && strlen(text) <= API_LIMIT_TEXT_MAX && v >= 1 && v <= PAGE_MAX;
  FUZZ_CHECK((rc == 0) == want, "limit '%s': %s", text, rc == 0 ? "accepted" : "refused");
  if (rc == 0) FUZZ_CHECK(limit == v, "limit '%s' = %d", text, limit);
  else FUZZ_CHECK(limit == -12345, "limit '%s' refused but written", text);
}

static void check_cursor(const char *text) {
  size_t n = strlen(text);
  bool want = n >= 1 && n <= 64;
  for (size_t i = 0; i < n && want; i++) {
    char c = text[i];
    want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  }
  FUZZ_CHECK(api_valid_id(text) == want, "cursor '%s'", text);
}

static void check_time(const char *text) {
  int64_t ms = -1;
  int rc = api_parse_time(text, &ms);
  bool digits = text[0] != '\0';
  for (const char *p = text; *p; p++) digits = digits && *p >= '0' && *p <= '9';
  if (digits) { /* epoch milliseconds: exactly the value written, when within the range */
    int64_t want = 0;
    bool overflow = false;
    for (const char *p = text; *p && !overflow; p++) {
      int d = *p - '0';
      if (want > (INT64_MAX - d) / 10) overflow = true;
      else want = want * 10 + d;
    }
    bool ok = !overflow && want <= API_TIME_MAX_MS && strlen(text) <= API_TIME_TEXT_MAX;
    FUZZ_CHECK((rc == 0) == ok, "epoch '%s' %s", text, rc == 0 ? "accepted" : "refused");
    FUZZ_CHECK(rc != 0 || ms == want, "epoch '%s' = %lld", text, (long long)ms);
    FUZZ_CHECK(rc == 0 || ms == -1, "epoch '%s' refused but written", text);
    return;
  }
  if (rc != 0) {
    FUZZ_CHECK(ms == -1, "time '%s' refused but written", text);
    return;
  }
  FUZZ_CHECK(ms >= 0 && ms <= API_TIME_MAX_MS, "time '%s' = %lld", text, (long long)ms);
  /* RFC 3339: the calendar fields written are those of the instant */
  int y, mo, d, h, mi, s;
  FUZZ_CHECK(sscanf(text, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6, "time '%s' accepted", text);
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  FUZZ_CHECK(gmtime_r(&t, &tm) != NULL, "gmtime of %lld", (long long)ms);
  FUZZ_CHECK(tm.tm_year + 1900 == y && tm.tm_mon + 1 == mo && tm.tm_mday == d && tm.tm_hour == h && tm.tm_min == mi &&
                 tm.tm_sec == s,
             "time '%s' = %04d-%02d-%02dT%02d:%02d:%02d", text, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
  char back[64];
  snprintf(back, sizeof back, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
  int64_t again = -1;
  FUZZ_CHECK(api_parse_time(back, &again) == 0 && again == ms, "'%s' -> %lld -> '%s' -> %lld", text, (long long)ms,
             back, (long long)again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > TEXT_MAX) return 0; /* numbers are short; longer texts only slow the search */
  char *text = fuzz_take_rest(&data, &size);
  size_t count = 0;
  const struct api_body_spec *const *specs = api_body_specs(&count);
  for (size_t s = 0; s < count; s++) {
    for (size_t i = 0; i < specs[s]->count; i++) {
      if (specs[s]->fields[i].type == JF_INT) check_json_amount(specs[s], i, text);
    }
  }
  check_limit(text);
  check_cursor(text);
  check_time(text);
  free(text);
  return 0;
}
