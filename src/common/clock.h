/* clock.h — wall-clock milliseconds (stored times), monotonic nanoseconds (durations) and
 * RFC 3339 formatting. All stored times are UTC integer milliseconds. */
#ifndef MPS_COMMON_CLOCK_H
#define MPS_COMMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t clock_now_ms(void);
int64_t clock_mono_ns(void);
/* "2026-11-21T12:34:56.789Z"; out must hold at least 25 bytes. Returns out. */
char *clock_rfc3339(int64_t ms, char *out, size_t out_len);

#endif
