/* fuzz_json_decode.c — libFuzzer target: the JSON request decoders. The input is a request
 * body; it goes through json_loadb with the flags of http/server.c and then json_decode with
 * every published body spec (api/body_specs.h: payment quote/verify, refund, top-up, grant,
 * top-up bonus rules and each rules[] item, gateway callback, the logins, the member code,
 * merchant onboarding), each decoding into a buffer of exactly the handler's struct size.
 *
 * Properties checked, beyond "no crash, no sanitizer report":
 *   - every spec is well formed (unique names, every field inside its struct);
 *   - json_decode accepts a body exactly when an independent model of the rules in
 *     json_decode.h does (object; no unknown field; required fields given; types; bounds);
 *   - after success each given field holds the JSON value (strings NUL-terminated, within
 *     their length bounds; integers — the amounts — within [min, max]); absent fields and
 *     every byte no field owns are left untouched; the JF_PRESENT flag says "given";
 *   - after a failure no byte outside the fields' own storage changed, and the error names a
 *     reason; field and reason are valid UTF-8 (they are sent back in the 400 reply's JSON);
 *   - the canonical form the Idempotency-Key hash uses (JSON_COMPACT | JSON_SORT_KEYS) parses
 *     back and reproduces itself, so a replayed request hashes the same. */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "api/body_specs.h"
#include "fuzz.h"

#define CANARY 0xA5
#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) /* as http/server.c */

static size_t field_storage(const struct json_field *f) {
  switch (f->type) {
    case JF_STRING: return f->size;
    case JF_INT: return sizeof(int64_t);
    case JF_BOOL: return sizeof(bool);
    case JF_OBJECT:
    case JF_ARRAY: return sizeof(json_t *);
  }
  return 0;
}

/* Once per spec: the spec itself is sane. */
static void check_spec(const struct api_body_spec *s) {
  FUZZ_CHECK(s->count >= 1 && s->count <= 64, "%s: %zu fields", s->routes, s->count);
  for (size_t i = 0; i < s->count; i++) {
    const struct json_field *f = &s->fields[i];
    size_t n = field_storage(f);
    FUZZ_CHECK(f->name && f->name[0], "%s: field %zu has no name", s->routes, i);
    FUZZ_CHECK(n > 0 && f->offset + n <= s->body_size, "%s: %s outside its struct", s->routes, f->name);
    FUZZ_CHECK(f->present == 0 || f->present - 1 < s->body_size, "%s: %s present flag", s->routes, f->name);
    FUZZ_CHECK(f->min <= f->max || f->type != JF_INT, "%s: %s min > max", s->routes, f->name);
    if (f->type == JF_STRING) {
      FUZZ_CHECK(f->min >= 0 && (f->max <= 0 || f->max < (int64_t)f->size), "%s: %s bounds", s->routes, f->name);
    }
    for (size_t j = 0; j < i; j++) {
      FUZZ_CHECK(strcmp(f->name, s->fields[j].name) != 0, "%s: %s twice", s->routes, f->name);
    }
  }
}

/* The model: does the spec accept this value for this field? */
static bool model_field_ok(const struct json_field *f, const json_t *v) {
  switch (f->type) {
    case JF_STRING: {
      if (!json_is_string(v)) return false;
      size_t len = json_string_length(v);
      if (strlen(json_string_value(v)) != len) return false;
      if ((int64_t)len < f->min || len + 1 > f->size) return false;
      return f->max <= 0 || (int64_t)len <= f->max;
    }
    case JF_INT:
      return json_is_integer(v) && json_integer_value(v) >= f->min && json_integer_value(v) <= f->max;
    case JF_BOOL: return json_is_boolean(v);
    case JF_OBJECT: return json_is_object(v);
    case JF_ARRAY: {
      if (!json_is_array(v)) return false;
      int64_t n = (int64_t)json_array_size(v);
      return n >= f->min && (f->max <= 0 || n <= f->max);
    }
  }
  return false;
}

static const struct json_field *find_field(const struct api_body_spec *s, const char *name) {
  for (size_t i = 0; i < s->count; i++) {
    if (strcmp(s->fields[i].name, name) == 0) return &s->fields[i];
  }
  return NULL;
}

static bool model_accepts(const struct api_body_spec *s, const json_t *body) {
  if (!json_is_object(body)) return false;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)body, key, v) {
    if (!find_field(s, key)) return false;
  }
  for (size_t i = 0; i < s->count; i++) {
    const struct json_field *f = &s->fields[i];
    json_t *given = json_object_get(body, f->name);
    if (!given || json_is_null(given)) {
      if (f->required) return false;
      continue;
    }
    if (!model_field_ok(f, given)) return false;
  }
  return true;
}

static bool untouched(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != CANARY) return false;
  }
  return true;
}

/* Success: each field holds its value; only the bytes of given fields changed. */
static void check_success(const struct api_body_spec *s, const json_t *body, const unsigned char *out,
                          unsigned char *owned) {
  for (size_t i = 0; i < s->count; i++) {
    const struct json_field *f = &s->fields[i];
    const unsigned char *at = out + f->offset;
    json_t *v = json_object_get(body, f->name);
    bool given = v && !json_is_null(v);
    if (f->present) {
      FUZZ_CHECK(out[f->present - 1] == (given ? 1 : CANARY), "%s: %s present flag", s->routes, f->name);
      owned[f->present - 1] = 1;
    }
    if (!given) {
      FUZZ_CHECK(untouched(at, field_storage(f)), "%s: absent %s was written", s->routes, f->name);
      continue;
    }
    size_t wrote = field_storage(f);
    if (f->type == JF_STRING) {
      size_t len = json_string_length(v);
      FUZZ_CHECK(memcmp(at, json_string_value(v), len + 1) == 0, "%s: %s text", s->routes, f->name);
      FUZZ_CHECK(len + 1 <= f->size && (int64_t)len >= f->min, "%s: %s length %zu", s->routes, f->name, len);
      wrote = len + 1;
      FUZZ_CHECK(untouched(at + wrote, f->size - wrote), "%s: %s wrote past its NUL", s->routes, f->name);
    } else if (f->type == JF_INT) {
      int64_t n;
      memcpy(&n, at, sizeof n);
      FUZZ_CHECK(n == json_integer_value(v), "%s: %s = %lld", s->routes, f->name, (long long)n);
      FUZZ_CHECK(n >= f->min && n <= f->max, "%s: %s = %lld out of bounds", s->routes, f->name, (long long)n);
    } else if (f->type == JF_BOOL) {
      bool b;
      memcpy(&b, at, sizeof b);
      FUZZ_CHECK(b == json_is_true(v), "%s: %s bool", s->routes, f->name);
    } else {
      json_t *p;
      memcpy(&p, at, sizeof p);
      FUZZ_CHECK(p == v, "%s: %s reference", s->routes, f->name);
    }
    memset(owned + f->offset, 1, wrote);
  }
  for (size_t i = 0; i < s->body_size; i++) {
    FUZZ_CHECK(owned[i] || out[i] == CANARY, "%s: byte %zu written, no field owns it", s->routes, i);
  }
}

/* Failure: bytes outside every field's storage are untouched; the error is filled. */
static void check_failure(const struct api_body_spec *s, const unsigned char *out, unsigned char *owned,
                          const struct json_decode_error *err) {
  FUZZ_CHECK(err->reason[0] != '\0', "%s: failure without a reason", s->routes);
  FUZZ_CHECK(memchr(err->field, 0, sizeof err->field) && memchr(err->reason, 0, sizeof err->reason),
             "%s: error text not terminated", s->routes);
  /* both go into the 400 reply's JSON (http_decode_body): they must be valid UTF-8 */
  json_t *field = json_string(err->field), *reason = json_string(err->reason);
  FUZZ_CHECK(field && reason, "%s: error text is not UTF-8 (field '%s')", s->routes, err->field);
  json_decref(field);
  json_decref(reason);
  for (size_t i = 0; i < s->count; i++) {
    const struct json_field *f = &s->fields[i];
    memset(owned + f->offset, 1, field_storage(f));
    if (f->present) owned[f->present - 1] = 1;
  }
  for (size_t i = 0; i < s->body_size; i++) {
    FUZZ_CHECK(owned[i] || out[i] == CANARY, "%s: byte %zu written on failure", s->routes, i);
  }
}

static void decode_with(const struct api_body_spec *s, const json_t *body) {
  unsigned char *out = malloc(s->body_size); /* exact size: ASan sees any overrun */
  unsigned char *owned = calloc(1, s->body_size);
  if (!out || !owned) abort();
  memset(out, CANARY, s->body_size);
  struct json_decode_error err;
  memset(&err, 0, sizeof err);
  int rc = json_decode(body, s->fields, s->count, out, &err);
  FUZZ_CHECK(rc == 0 || rc == -1, "%s: json_decode returned %d", s->routes, rc);
  bool model = model_accepts(s, body);
  FUZZ_CHECK((rc == 0) == model, "%s: json_decode %s, the model %s (field '%s' %s)", s->routes,
             rc == 0 ? "accepted" : "refused", model ? "accepts" : "refuses", err.field, err.reason);
  if (rc == 0) check_success(s, body, out, owned);
  else check_failure(s, out, owned, &err);
  if (rc == 0 && s == &api_spec_topup_rules) { /* the handler then decodes every rules[] item */
    json_t *items = json_object_get(body, "rules"), *item;
    size_t i;
    json_array_foreach(items, i, item) decode_with(&api_spec_topup_rule, item);
  }
  free(owned);
  free(out);
}

/* The canonical text hashed for idempotency reproduces itself through a parse. */
static void check_canonical(const json_t *body) {
  char *c1 = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  FUZZ_CHECK(c1 != NULL, "json_dumps of a parsed body failed");
  json_error_t e;
  json_t *again = json_loads(c1, LOAD_FLAGS, &e);
  FUZZ_CHECK(again != NULL, "canonical text does not parse: %s (%s)", e.text, c1);
  char *c2 = json_dumps(again, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  FUZZ_CHECK(c2 && strcmp(c1, c2) == 0, "canonical text changed: %s -> %s", c1, c2 ? c2 : "(null)");
  free(c2);
  json_decref(again);
  free(c1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool specs_checked = false;
  size_t count = 0;
  const struct api_body_spec *const *specs = api_body_specs(&count);
  if (!specs_checked) {
    for (size_t i = 0; i < count; i++) check_spec(specs[i]);
    specs_checked = true;
  }
  json_error_t jerr;
  json_t *body = json_loadb((const char *)data, size, LOAD_FLAGS, &jerr);
  if (!body) return 0; /* answered 400 INVALID_JSON before any decoder runs */
  check_canonical(body);
  for (size_t i = 0; i < count; i++) decode_with(specs[i], body);
  json_decref(body);
  return 0;
}
