/* clock.c — time sources and RFC 3339 formatting. */
#include "common/clock.h"

#include <assert.h>
#include <stdbool.h>
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

/* The proleptic Gregorian date of a day counted from 1970-01-01 (H. Hinnant's
 * civil_from_days: eras of 400 years, March-based years so the leap day comes last). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                 /* [0, 146096] */
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);          /* [0, 365] */
  const int64_t mp = (5 * doy + 2) / 153;                               /* [0, 11] */
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *o, int v, int width) {
  for (int i = width - 1; i >= 0; i--) {
    o[i] = (char)('0' + v % 10);
    v /= 10;
  }
  return o + width;
}

/* Years 0000-9999, the only ones a 4-digit field holds: written by hand (a transaction list
 * writes 40 of these; gmtime_r and snprintf had been a tenth of such a read). */
static bool rfc3339_fast(int64_t secs, int millis, char *out) {
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t sod = secs - days * 86400; /* [0, 86399] */
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999) return false;
  char *o = put_digits(out, (int)y, 4);
  *o++ = '-';
  o = put_digits(o, m, 2);
  *o++ = '-';
  o = put_digits(o, d, 2);
  *o++ = 'T';
  o = put_digits(o, (int)(sod / 3600), 2);
  *o++ = ':';
  o = put_digits(o, (int)(sod / 60 % 60), 2);
  *o++ = ':';
  o = put_digits(o, (int)(sod % 60), 2);
  *o++ = '.';
  o = put_digits(o, millis, 3);
  *o++ = 'Z';
  *o = '\0';
  assert(o - out == 24);
  return true;
}

char *clock_rfc3339(int64_t ms, char *out, size_t out_len) {
  assert(out_len >= 25);
  int64_t secs64 = ms / 1000;
  int millis = (int)(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    secs64 -= 1;
  }
  if (rfc3339_fast(secs64, millis, out)) return out;
  time_t secs = (time_t)secs64;
  struct tm tm;
  if (!gmtime_r(&secs, &tm)) {
    snprintf(out, out_len, "1970-01-01T00:00:00.000Z");
    return out;
  }
  snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return out;
}
