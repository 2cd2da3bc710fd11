/* body_specs.h — the JSON body specs (http/json_decode.h) of the money routes and of the
 * public routes, published for tools that check every decoder at once: the fuzz targets
 * (tests/fuzz) and tests/unit/test_body_specs.c. Each handler file keeps its spec array
 * next to its handler and publishes it as one api_body_spec; body_specs.c lists them. */
#ifndef MPS_API_BODY_SPECS_H
#define MPS_API_BODY_SPECS_H

#include <stddef.h>

#include "http/json_decode.h"

struct api_body_spec {
  const char *routes;              /* "POST /api/payment/verify" (or the routes sharing it) */
  const struct json_field *fields; /* as passed to json_decode / http_decode_body */
  size_t count;
  size_t body_size;                /* sizeof the struct the fields decode into */
};

extern const struct api_body_spec api_spec_payment;      /* api/payments.c */
extern const struct api_body_spec api_spec_refund;       /* api/refunds.c */
extern const struct api_body_spec api_spec_topup;        /* api/wallet_ops.c */
extern const struct api_body_spec api_spec_grant;        /* api/wallet_ops.c */
extern const struct api_body_spec api_spec_topup_rules;  /* api/wallet_ops.c */
extern const struct api_body_spec api_spec_topup_rule;   /* api/wallet_ops.c, each rules[] item */
extern const struct api_body_spec api_spec_callback;     /* api/payment_callback.c */
extern const struct api_body_spec api_spec_login;        /* api/auth_login.c */
extern const struct api_body_spec api_spec_member_code;  /* api/auth_member.c */
extern const struct api_body_spec api_spec_member_login; /* api/auth_member.c */
extern const struct api_body_spec api_spec_onboard;      /* api/merchant_onboard.c */

/* Every spec above, in that order; *count gets their number. */
const struct api_body_spec *const *api_body_specs(size_t *count);

#endif
