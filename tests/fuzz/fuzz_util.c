/* fuzz_util.c — helpers of fuzz.h, linked into every fuzz target and replayer. */
#include "fuzz.h"

#include <string.h>

static char *copy_cstr(const uint8_t *p, size_t n) {
  const uint8_t *nul = memchr(p, 0, n);
  if (nul) n = (size_t)(nul - p);
  char *s = malloc(n + 1);
  if (!s) abort();
  if (n) memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

char *fuzz_take_line(const uint8_t **data, size_t *size) {
  const uint8_t *nl = *size ? memchr(*data, '\n', *size) : NULL;
  size_t n = nl ? (size_t)(nl - *data) : *size;
  char *s = copy_cstr(*data, n);
  size_t used = nl ? n + 1 : n;
  *data += used;
  *size -= used;
  return s;
}

char *fuzz_take_rest(const uint8_t **data, size_t *size) {
  char *s = copy_cstr(*data, *size);
  *data += *size;
  *size = 0;
  return s;
}
