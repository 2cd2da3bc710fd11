/* json_decode.h — declarative decoding of JSON request bodies into C structs.
 *
 * A handler describes its body as an array of json_field rows and calls json_decode();
 * on any problem it answers 400 VALIDATION_FAILED whose details name the field and the
 * reason, so no handler hand-rolls type checks. Unknown fields are refused too: a typo
 * in a payment request must not be silently ignored. Integers must be JSON integers
 * (5200, never 52.00 or "5200"): amounts are minor units. */
#ifndef MPS_HTTP_JSON_DECODE_H
#define MPS_HTTP_JSON_DECODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_field_type {
  JF_STRING,  /* into char[size]; min/max bound the length in bytes */
  JF_INT,     /* into int64_t; min/max bound the value */
  JF_BOOL,    /* into bool */
  JF_OBJECT,  /* into json_t * (borrowed reference) */
  JF_ARRAY,   /* into json_t * (borrowed reference); min/max bound the length */
};

struct json_field {
  const char *name;
  enum json_field_type type;
  bool required;
  size_t offset; /* offsetof(your_struct, member) */
  size_t size;   /* JF_STRING: buffer size */
  int64_t min, max;
  size_t present; /* JF_PRESENT(type, member): a bool set when the field was given; 0 = none */
};

#define JF_PRESENT(type, member) (offsetof(type, member) + 1)

struct json_decode_error {
  char field[64];
  char reason[160];
};

/* Decode `body` (must be a JSON object) into out. Returns 0, or -1 with err filled. */
int json_decode(const json_t *body, const struct json_field *spec, size_t count, void *out,
                struct json_decode_error *err);

#endif
