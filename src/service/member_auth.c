/* member_auth.c — one-time login codes for members (see member_auth.h). */
#include "service/member_auth.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/audit.h"

#define CODE_HASH_HEX (crypto_generichash_BYTES * 2 + 1)

static void log_sender(const char *merchant_id, const char *phone, const char *code) {
  struct log_line l;
  log_begin(&l, LOG_INFO, "login code");
  log_str(&l, "merchant_id", merchant_id);
  log_str(&l, "phone", phone);
  log_str(&l, "code", code);
  log_end(&l);
}

static code_sender_fn sender = log_sender;

void member_auth_set_sender(code_sender_fn fn) { sender = fn ? fn : log_sender; }

static const db_sql q_merchant = {"member_auth_merchant", "SELECT status FROM merchants WHERE id = $1", NULL};
static const db_sql q_code_put = {
    "login_code_put",
    "INSERT INTO login_codes (merchant_id, phone, code_hash, expires_at_ms, attempts, created_at_ms) "
    "VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (merchant_id, phone) DO UPDATE SET "
    "code_hash = excluded.code_hash, expires_at_ms = excluded.expires_at_ms, attempts = 0, "
    "created_at_ms = excluded.created_at_ms", NULL};
static const db_sql q_code_get = {
    "login_code_get",
    "SELECT code_hash, expires_at_ms, attempts FROM login_codes WHERE merchant_id = $1 AND phone = $2", NULL};
static const db_sql q_code_fail = {
    "login_code_fail", "UPDATE login_codes SET attempts = attempts + 1 WHERE merchant_id = $1 AND phone = $2", NULL};
static const db_sql q_code_delete = {
    "login_code_delete", "DELETE FROM login_codes WHERE merchant_id = $1 AND phone = $2", NULL};
static const db_sql q_member_find = {
    "member_find_phone",
    "SELECT id, display_name, token_version, status FROM members WHERE merchant_id = $1 AND phone = $2", NULL};
static const db_sql q_member_insert = {
    "member_insert_login",
    "INSERT INTO members (id, merchant_id, phone, display_name, status, token_version, created_at_ms, "
    "updated_at_ms) VALUES ($1, $2, $3, $4, 'ACTIVE', 1, $5, $5)", NULL};

static void code_hash(const char *secret, const char *merchant_id, const char *phone, const char *code,
                      char out[CODE_HASH_HEX]) {
  unsigned char h[crypto_generichash_BYTES];
  crypto_generichash_state st;
  size_t klen = strlen(secret) > crypto_generichash_KEYBYTES_MAX ? crypto_generichash_KEYBYTES_MAX : strlen(secret);
  crypto_generichash_init(&st, (const unsigned char *)secret, klen, sizeof h);
  const char *parts[] = {merchant_id, "|", phone, "|", code};
  for (size_t i = 0; i < 5; i++) crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]));
  crypto_generichash_final(&st, h, sizeof h);
  sodium_bin2hex(out, CODE_HASH_HEX, h, sizeof h);
}

/* SVC_OK when the merchant exists and takes member logins. */
static int merchant_open(db_conn *c, const char *merchant_id, struct svc_error *err) {
  db_val a[] = {db_text(merchant_id)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_merchant, a, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  char status[16] = "";
  if (rc == DB_ROW) db_col_copy(cur, 0, status, sizeof status);
  db_reset(cur);
  if (rc < 0) return rc;
  if (rc == DB_DONE) return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s}", "merchantId", merchant_id), "no merchant '%s'", merchant_id);
  if (strcmp(status, "ACTIVE") != 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s}", "status", status), "this merchant does not take member logins (status %s)", status);
  }
  return SVC_OK;
}

int member_code_request(db_conn *c, const struct actor *a, const char *merchant_id,
                        const char *phone, const char *secret, int64_t ttl_s, struct svc_error *err) {
  (void)a;
  int rc = merchant_open(c, merchant_id, err);
  if (rc != SVC_OK) return rc;
  char code[8], hash[CODE_HASH_HEX];
  snprintf(code, sizeof code, "%06u", (unsigned)randombytes_uniform(1000000));
  code_hash(secret, merchant_id, phone, code, hash);
  int64_t now = clock_now_ms();
  db_val v[] = {db_text(merchant_id), db_text(phone), db_text(hash), db_int(now + ttl_s * 1000), db_int(now)};
  rc = db_run(c, &q_code_put, v, 5, NULL);
  if (rc < 0) return rc;
  sender(merchant_id, phone, code); /* delivered before commit: a failed commit just wastes a code */
  return SVC_OK;
}

/* Check the code: 1 passed, 0 failed (out->reason set), < 0 store error. */
static int check_code(db_conn *c, const char *merchant_id, const char *phone, const char *code,
                      const char *secret, struct member_login_result *out) {
  db_val k[] = {db_text(merchant_id), db_text(phone)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_code_get, k, 2, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  char stored[CODE_HASH_HEX] = "";
  int64_t expires = 0, attempts = 0;
  if (rc == DB_ROW) {
    db_col_copy(cur, 0, stored, sizeof stored);
    expires = db_col_int(cur, 1);
    attempts = db_col_int(cur, 2);
  }
  db_reset(cur);
  if (rc < 0) return rc;
  if (rc == DB_DONE) return out->reason = "no code requested", 0;
  if (expires <= clock_now_ms() || attempts >= LOGIN_CODE_MAX_ATTEMPTS) {
    rc = db_run(c, &q_code_delete, k, 2, NULL);
    out->reason = attempts >= LOGIN_CODE_MAX_ATTEMPTS ? "too many attempts" : "code expired";
    return rc < 0 ? rc : 0;
  }
  char given[CODE_HASH_HEX];
  code_hash(secret, merchant_id, phone, code, given);
  if (sodium_memcmp(given, stored, CODE_HASH_HEX - 1) != 0) {
    rc = db_run(c, &q_code_fail, k, 2, NULL);
    out->reason = "wrong code";
    return rc < 0 ? rc : 0;
  }
  rc = db_run(c, &q_code_delete, k, 2, NULL); /* single use */
  return rc < 0 ? rc : 1;
}

static int find_or_create_member(db_conn *c, const char *merchant_id, const char *phone,
                                 struct member_login_result *out) {
  db_val k[] = {db_text(merchant_id), db_text(phone)};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q_member_find, k, 2, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  char status[16] = "";
  if (rc == DB_ROW) {
    db_col_copy(cur, 0, out->member_id, sizeof out->member_id);
    db_col_copy(cur, 1, out->display_name, sizeof out->display_name);
    out->token_version = db_col_int(cur, 2);
    db_col_copy(cur, 3, status, sizeof status);
  }
  db_reset(cur);
  if (rc < 0) return rc;
  if (rc == DB_ROW) return strcmp(status, "ACTIVE") == 0 ? 1 : 0;
  if (id_new("mem", out->member_id, sizeof out->member_id) != 0) return DB_ERR;
  snprintf(out->display_name, sizeof out->display_name, "Member %s", phone + (strlen(phone) > 4 ? strlen(phone) - 4 : 0));
  out->token_version = 1;
  out->created = true;
  db_val v[] = {db_text(out->member_id), db_text(merchant_id), db_text(phone), db_text(out->display_name), db_int(clock_now_ms())};
  rc = db_run(c, &q_member_insert, v, 5, NULL);
  return rc < 0 ? rc : 1;
}

int member_code_login(db_conn *c, const struct actor *a, const char *merchant_id,
                      const char *phone, const char *code, const char *secret,
                      struct member_login_result *out, struct svc_error *err) {
  memset(out, 0, sizeof *out);
  int rc = merchant_open(c, merchant_id, err);
  if (rc != SVC_OK) return rc;
  rc = check_code(c, merchant_id, phone, code, secret, out);
  if (rc == 1) {
    rc = find_or_create_member(c, merchant_id, phone, out);
    if (rc == 0) out->reason = "member disabled";
  }
  if (rc < 0) return rc;
  out->ok = rc == 1;
  struct audit_record r = {.actor = out->member_id[0] ? out->member_id : "anonymous",
                           .role = "member", .merchant_id = merchant_id, .action = "LOGIN",
                           .target = phone, .status = out->ok ? "SUCCESS" : "FAILED",
                           .request_id = a->request_id ? a->request_id : "cli"};
  json_t *d = json_pack("{s:s, s:s?, s:b}", "kind", "member", "reason", out->reason, "created", out->created);
  r.details = d;
  rc = audit_append(c, &r);
  json_decref(d);
  return rc < 0 ? rc : SVC_OK;
}
