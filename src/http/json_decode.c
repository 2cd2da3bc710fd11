/* json_decode.c — the spec-driven JSON body decoder (see json_decode.h). */
#include "http/json_decode.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define JSON_DECODE_MAX_FIELDS 64

static int fail(struct json_decode_error *err, const char *field, const char *reason) {
  /* A long (unknown) field name is cut at a character boundary: it goes into the 400 reply's
   * JSON, and jansson refuses a string ending in half a UTF-8 sequence (the reply became a
   * 500). The name is valid UTF-8 (jansson checked the body), so at most 3 bytes go. */
  size_t n = strnlen(field, sizeof err->field - 1);
  for (int i = 0; i < 3 && n > 0 && ((unsigned char)field[n] & 0xC0) == 0x80; i++) n--;
  memcpy(err->field, field, n);
  err->field[n] = '\0';
  snprintf(err->reason, sizeof err->reason, "%s", reason);
  return -1;
}

static int decode_one(const struct json_field *f, json_t *v, char *base,
                      struct json_decode_error *err) {
  char reason[160];
  switch (f->type) {
    case JF_STRING: {
      if (!json_is_string(v)) return fail(err, f->name, "must be a string");
      size_t len = json_string_length(v);
      const char *s = json_string_value(v);
      if (strlen(s) != len) return fail(err, f->name, "must not contain NUL characters");
      if ((int64_t)len < f->min || (f->max > 0 && (int64_t)len > f->max) || len >= f->size) {
        int64_t hi = f->max > 0 ? f->max : (int64_t)f->size - 1;
        snprintf(reason, sizeof reason, "must be %lld to %lld bytes long", (long long)f->min,
                 (long long)hi);
        return fail(err, f->name, reason);
      }
      memcpy(base + f->offset, s, len + 1);
      return 0;
    }
    case JF_INT: {
      if (!json_is_integer(v)) {
        return fail(err, f->name,
                    json_is_real(v) ? "must be a whole number (minor units), not a fraction"
                                    : "must be an integer");
      }
      json_int_t n = json_integer_value(v);
      if (n < f->min || n > f->max) {
        snprintf(reason, sizeof reason, "must be from %lld to %lld", (long long)f->min,
                 (long long)f->max);
        return fail(err, f->name, reason);
      }
      int64_t out = (int64_t)n;
      memcpy(base + f->offset, &out, sizeof out);
      return 0;
    }
    case JF_BOOL: {
      if (!json_is_boolean(v)) return fail(err, f->name, "must be true or false");
      bool b = json_is_true(v);
      memcpy(base + f->offset, &b, sizeof b);
      return 0;
    }
    case JF_OBJECT:
      if (!json_is_object(v)) return fail(err, f->name, "must be an object");
      memcpy(base + f->offset, &v, sizeof v);
      return 0;
    case JF_ARRAY: {
      if (!json_is_array(v)) return fail(err, f->name, "must be an array");
      int64_t n = (int64_t)json_array_size(v);
      if (n < f->min || (f->max > 0 && n > f->max)) {
        snprintf(reason, sizeof reason, "must hold %lld to %lld items", (long long)f->min,
                 (long long)f->max);
        return fail(err, f->name, reason);
      }
      memcpy(base + f->offset, &v, sizeof v);
      return 0;
    }
  }
  return fail(err, f->name, "has an unsupported type");
}

int json_decode(const json_t *body, const struct json_field *spec, size_t count, void *out,
                struct json_decode_error *err) {
  assert(spec && out && err && count <= JSON_DECODE_MAX_FIELDS);
  if (!json_is_object(body)) return fail(err, "", "the body must be a JSON object");
  char *base = out;
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)body, key, value) {
    size_t i = 0;
    while (i < count && strcmp(spec[i].name, key) != 0) i++;
    if (i == count) return fail(err, key, "is not a known field");
  }
  for (size_t i = 0; i < count; i++) {
    const struct json_field *f = &spec[i];
    json_t *v = json_object_get(body, f->name);
    if (!v || json_is_null(v)) {
      if (f->required) return fail(err, f->name, "is required");
      continue;
    }
    if (decode_one(f, v, base, err) != 0) return -1;
    if (f->present) base[f->present - 1] = 1;
  }
  return 0;
}
