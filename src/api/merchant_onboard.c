/* merchant_onboard.c — POST /api/merchant/onboard: a merchant signs itself up (MealQuest
 * seed). Guarded by MPS_ONBOARD_SECRET in the x-onboard-secret header when set. The
 * merchant starts PENDING until a platform admin approves it (POST
 * /admin/merchants/{id}/approve); an owner account may be created with it so the owner can
 * log in once approved. Body: {merchantId, name, currency?="USD", timeZone?="UTC",
 * contactEmail?, ownerEmail?, ownerPassword?}. The owner's password is hashed on a reader
 * thread, then merchant and owner are written in one transaction. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/body_specs.h"
#include "api/util.h"
#include "http/json_decode.h"
#include "http/server.h"
#include "service/audit.h"
#include "service/merchants.h"
#include "service/users.h"

struct onboard_body {
  char merchant_id[65], name[129], currency[4], time_zone[65], contact_email[129];
  char owner_email[129], owner_password[PASSWORD_MAX_LEN + 1];
  char owner_hash[PASSWORD_HASH_MAX];
};

static const struct json_field spec[] = {
    {.name = "merchantId", .type = JF_STRING, .required = true, .offset = offsetof(struct onboard_body, merchant_id), .size = 65, .min = 3},
    {.name = "name", .type = JF_STRING, .required = true, .offset = offsetof(struct onboard_body, name), .size = 129, .min = 1},
    {.name = "currency", .type = JF_STRING, .offset = offsetof(struct onboard_body, currency), .size = 4, .min = 3},
    {.name = "timeZone", .type = JF_STRING, .offset = offsetof(struct onboard_body, time_zone), .size = 65, .min = 1},
    {.name = "contactEmail", .type = JF_STRING, .offset = offsetof(struct onboard_body, contact_email), .size = 129},
    {.name = "ownerEmail", .type = JF_STRING, .offset = offsetof(struct onboard_body, owner_email), .size = 129, .min = 3},
    {.name = "ownerPassword", .type = JF_STRING, .offset = offsetof(struct onboard_body, owner_password), .size = PASSWORD_MAX_LEN + 1, .min = 1},
};
const struct api_body_spec api_spec_onboard = {"POST /api/merchant/onboard", spec, sizeof spec / sizeof spec[0], sizeof(struct onboard_body)};

static bool secret_matches(const char *given, const char *expected) {
  unsigned char a[32], b[32]; /* hash both: constant time whatever the lengths */
  crypto_generichash(a, sizeof a, (const unsigned char *)given, strlen(given), NULL, 0);
  crypto_generichash(b, sizeof b, (const unsigned char *)expected, strlen(expected), NULL, 0);
  return sodium_memcmp(a, b, sizeof a) == 0;
}

static int refused_run(db_conn *c, struct http_req *req) {
  struct audit_record r = {.actor = "anonymous", .role = "none", .action = "MERCHANT_ONBOARD",
                           .target = "", .status = "FAILED", .request_id = req->request_id};
  json_t *d = json_pack("{s:s, s:s}", "reason", "bad onboarding secret", "client_ip", req->client_ip);
  r.details = d;
  int rc = audit_append(c, &r);
  json_decref(d);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

static int create_run(db_conn *c, struct http_req *req) {
  struct onboard_body *b = req->ctx;
  struct actor a = {.request_id = req->request_id, .client_ip = req->client_ip};
  struct merchant_input in = {.id = b->merchant_id, .name = b->name, .currency = b->currency,
                              .time_zone = b->time_zone, .contact_email = b->contact_email,
                              .status = "PENDING"};
  struct merchant m;
  struct user owner = {0};
  struct svc_error err = {0};
  int rc = merchant_create(c, &a, &in, &m, &err);
  if (rc == SVC_OK && b->owner_email[0]) {
    struct user_input u = {.kind = "merchant", .merchant_id = m.id, .email = b->owner_email,
                           .display_name = b->owner_email, .role = "owner", .password_hash = b->owner_hash};
    rc = user_create(c, &a, &u, &owner, &err);
  }
  if (rc == SVC_OK) {
    json_t *body = json_pack("{s:o, s:s?, s:s}", "merchant", merchant_json(&m), "ownerUserId",
                             owner.id[0] ? owner.id : NULL, "next", "a platform admin approves the merchant");
    http_reply_json(req, 201, body);
  }
  return api_finish(req, rc, &err);
}

static int hash_run(db_conn *c, struct http_req *req) {
  (void)c; /* no store work: this job only moves argon2id off the event thread */
  struct onboard_body *b = req->ctx;
  int rc = password_hash(b->owner_password, b->owner_hash);
  sodium_memzero(b->owner_password, sizeof b->owner_password);
  if (rc != 0) {
    http_reply_error(req, MPS_E_INTERNAL, "could not hash the password", NULL);
    return DB_JOB_ROLLBACK;
  }
  http_reply_error(req, MPS_E_INTERNAL, "onboarding did not finish", NULL); /* replaced next */
  http_defer_next(req, DB_JOB_WRITE, create_run);
  return DB_JOB_COMMIT;
}

void api_merchant_onboard(struct http_req *req) {
  const char *expected = req->app->cfg.onboard_secret;
  if (expected[0]) {
    const char *given = http_header(req, "x-onboard-secret");
    if (!given || !secret_matches(given, expected)) {
      http_reply_error(req, MPS_E_UNAUTHORIZED, "missing or wrong x-onboard-secret header", NULL);
      http_defer(req, DB_JOB_WRITE, refused_run);
      return;
    }
  }
  struct onboard_body *b = api_ctx(req, sizeof *b);
  if (!b || http_decode_body(req, spec, sizeof spec / sizeof spec[0], b) != 0) return;
  if (!b->currency[0]) snprintf(b->currency, sizeof b->currency, "USD");
  if (!b->time_zone[0]) snprintf(b->time_zone, sizeof b->time_zone, "UTC");
  if (!b->owner_email[0] != !b->owner_password[0]) {
    http_reply_error(req, MPS_E_VALIDATION_FAILED, "ownerEmail and ownerPassword go together",
                     json_pack("{s:s, s:s}", "field", b->owner_email[0] ? "ownerPassword" : "ownerEmail", "reason", "is required with the other"));
    return;
  }
  if (b->owner_password[0]) {
    const char *why = password_check_policy(b->owner_password);
    if (why) {
      char msg[128];
      snprintf(msg, sizeof msg, "field 'ownerPassword' %s", why);
      http_reply_error(req, MPS_E_VALIDATION_FAILED, msg, json_pack("{s:s, s:s}", "field", "ownerPassword", "reason", why));
      return;
    }
    http_defer(req, DB_JOB_READ, hash_run);
    return;
  }
  http_defer(req, DB_JOB_WRITE, create_run);
}
