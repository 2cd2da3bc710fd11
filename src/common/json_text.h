/* json_text.h — an append-only writer of compact JSON text, for the few fixed-shape objects
 * on the payment path (the payment itself, in the reply, the outbox and the idempotency
 * record). Building a jansson tree and dumping it had cost a payment about a fifth of the
 * SQLite writer's instructions; this writes the same bytes straight into one buffer.
 *
 * The output is byte for byte what json_dumps(..., JSON_COMPACT) prints for the same members
 * in the same order (tests/unit/test_json_text.c holds it to that): strings escape '"', '\\'
 * and control characters (\b \f \n \r \t, else \u00XX), everything else is copied, and a
 * string that is not valid UTF-8 fails the whole text, as it fails in jansson.
 *
 *   struct json_text t;
 *   json_text_init(&t);
 *   json_text_open(&t, NULL);            {
 *   json_text_str(&t, "id", "pay_1");      "id":"pay_1"
 *   json_text_int(&t, "amount", 5200);     ,"amount":5200
 *   json_text_close(&t);                 }
 *   char *s = json_text_finish(&t, &len);  NULL when anything failed (out of memory, bad UTF-8)
 *
 * Members and elements are separated by commas by the writer; inside an object every value
 * has a key, inside an array none does; nesting is bounded (JSON_TEXT_MAX_DEPTH). */
#ifndef MPS_COMMON_JSON_TEXT_H
#define MPS_COMMON_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_TEXT_MAX_DEPTH 8
#define JSON_TEXT_MAX_LEN (1u << 20) /* a text this long is a bug: the writer fails instead */

struct json_text {
  char *buf;
  size_t len, cap;
  int depth;
  bool first[JSON_TEXT_MAX_DEPTH]; /* no member written yet at this depth */
  char closer[JSON_TEXT_MAX_DEPTH]; /* '}' or ']': what closes the container at this depth */
  bool failed;
};

void json_text_init(struct json_text *t);
/* An object, as a member named key, or the top level / an array element when key is NULL. */
void json_text_open(struct json_text *t, const char *key);
/* An array (its elements are written with key NULL). */
void json_text_array(struct json_text *t, const char *key);
/* Close the innermost object or array. */
void json_text_close(struct json_text *t);
/* A member whose value is JSON text already (copied as it is: the caller vouches for it). */
void json_text_raw(struct json_text *t, const char *key, const char *json);
/* A string member; value NULL writes null. */
void json_text_str(struct json_text *t, const char *key, const char *value);
void json_text_int(struct json_text *t, const char *key, int64_t value);
/* The text (malloc'd, NUL-terminated, *len its length) and the writer reset; NULL when any
 * step failed or an object is still open. */
char *json_text_finish(struct json_text *t, size_t *len);
/* Drop what was written (after a failure, or instead of finishing). */
void json_text_free(struct json_text *t);

#endif
