/* ratelimit.h — token buckets per (class, key), in a fixed-size table: per-IP and
 * per-account login limits, per-caller admin writes, per-IP public callbacks. Limits are
 * per process (one mpsd, or per node behind a balancer: configure per node). */
#ifndef MPS_HTTP_RATELIMIT_H
#define MPS_HTTP_RATELIMIT_H

#include <stdint.h>

enum rate_class {
  RATE_NONE = 0,
  RATE_LOGIN,       /* login and code requests, keyed by client IP */
  RATE_ACCOUNT,     /* login attempts, keyed by account (email / merchant+phone) */
  RATE_ADMIN_WRITE, /* platform and merchant writes, keyed by the caller's subject */
  RATE_CALLBACK,    /* public callbacks (gateway, onboarding), keyed by client IP */
  RATE_CLASS_COUNT
};

/* Requests per minute for a class; 0 disables it. Call before serving. */
void ratelimit_configure(enum rate_class cls, int per_minute);
/* Take one token. 0 when allowed; -1 when limited, with the seconds until one is free. */
int ratelimit_take(enum rate_class cls, const char *key, int64_t now_ms, int *retry_after_s);
/* Forget every bucket (tests). */
void ratelimit_reset(void);

#endif
