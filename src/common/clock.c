/* clock.c — time sources and RFC 3339 formatting. */
#include "common/clock.h"

#include <assert.h>
#include <stdio.h>
#include <time.h>

int64_t clock_now_ms(void) {
  struct timespec ts;
  int rc = clock_gettime(CLOCK_REALTIME, &ts);
  assert(rc == 0);
  (void)rc;
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ns(void) {
  struct timespec ts;
  int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
  assert(rc == 0);
  (void)rc;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

char *clock_rfc3339(int64_t ms, char *out, size_t out_len) {
  assert(out_len >= 25);
  time_t secs = (time_t)(ms / 1000);
  int millis = (int)(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  struct tm tm;
  if (!gmtime_r(&secs, &tm)) {
    snprintf(out, out_len, "1970-01-01T00:00:00.000Z");
    return out;
  }
  snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return out;
}
