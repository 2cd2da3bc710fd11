/* fuzz.h — what the fuzz targets share: the libFuzzer entry point, a property check that
 * aborts with a message (libFuzzer and the corpus replayer both report the abort), and
 * splitting an input into NUL-terminated lines. */
#ifndef MPS_TESTS_FUZZ_H
#define MPS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold for every input; not assert(): it stays on under NDEBUG. */
#define FUZZ_CHECK(cond, ...)                                                     \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: property failed: %s\n  ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                               \
      fputc('\n', stderr);                                                        \
      abort();                                                                    \
    }                                                                             \
  } while (0)

/* The next line of the input (up to '\n', which is consumed) as a malloc'd NUL-terminated
 * string; an embedded NUL ends it early, as in a C header value. The input pointer and size
 * advance past it. Aborts when out of memory (nothing to learn from that). */
char *fuzz_take_line(const uint8_t **data, size_t *size);
/* All of the rest as a malloc'd NUL-terminated string (truncated at an embedded NUL). */
char *fuzz_take_rest(const uint8_t **data, size_t *size);

#endif
