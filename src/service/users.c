/* users.c — staff account use cases (see users.h). */
#include "service/users.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/roles.h"
#include "service/audit.h"

#define USER_COLS "id, kind, COALESCE(merchant_id, ''), email, display_name, role, status, " \
                  "token_version, created_at_ms, updated_at_ms"

static const db_sql q_insert = {
    "user_insert",
    "INSERT INTO users (id, kind, merchant_id, email, display_name, role, password_hash, "
    "token_version, status, created_at_ms, updated_at_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 'ACTIVE', $8, $8) ON CONFLICT DO NOTHING", NULL};
static const db_sql q_get = {"user_get", "SELECT " USER_COLS " FROM users WHERE id = $1", NULL};
static const db_sql q_by_email = {"user_by_email",
                                  "SELECT " USER_COLS " FROM users WHERE kind = $1 AND email = $2", NULL};
static const db_sql q_login = {
    "user_login",
    "SELECT u.password_hash, COALESCE(m.status, '') FROM users u "
    "LEFT JOIN merchants m ON m.id = u.merchant_id WHERE u.id = $1", NULL};
static const db_sql q_update = {
    "user_update",
    "UPDATE users SET display_name = COALESCE($2, display_name), role = COALESCE($3, role), "
    "status = COALESCE($4, status), password_hash = COALESCE($5, password_hash), "
    "token_version = token_version + $6, updated_at_ms = $7 WHERE id = $1", NULL};
static const db_sql q_list = {
    "user_list", /* one merchant's staff, from users_merchant (D56) */
    "SELECT " USER_COLS " FROM users WHERE kind = $1 AND merchant_id = $2 "
    "AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4", NULL};
static const db_sql q_list_platform = {
    "user_list_platform", /* the platform's staff: the users without a merchant */
    "SELECT " USER_COLS " FROM users WHERE kind = $1 AND merchant_id IS NULL AND $2 = '' "
    "AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4", NULL};
static const db_sql q_merchant_status = {"user_merchant_status",
                                         "SELECT status FROM merchants WHERE id = $1", NULL};

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static void read_row(db_cursor *cur, struct user *u) {
  copy(u->id, sizeof u->id, db_col_text(cur, 0));
  copy(u->kind, sizeof u->kind, db_col_text(cur, 1));
  copy(u->merchant_id, sizeof u->merchant_id, db_col_text(cur, 2));
  copy(u->email, sizeof u->email, db_col_text(cur, 3));
  copy(u->display_name, sizeof u->display_name, db_col_text(cur, 4));
  copy(u->role, sizeof u->role, db_col_text(cur, 5));
  copy(u->status, sizeof u->status, db_col_text(cur, 6));
  u->token_version = db_col_int(cur, 7);
  u->created_at_ms = db_col_int(cur, 8);
  u->updated_at_ms = db_col_int(cur, 9);
}

static int load_one(db_conn *c, const db_sql *q, const db_val *a, int n, struct user *out) {
  db_cursor *cur = NULL;
  int rc = db_query(c, q, a, n, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) read_row(cur, out);
  db_reset(cur);
  return rc;
}

int user_find_by_email(db_conn *c, const char *kind, const char *email, struct user *out) {
  db_val a[] = {db_text(kind), db_text(email)};
  return load_one(c, &q_by_email, a, 2, out);
}

static enum principal_kind kind_of(const char *kind) {
  if (kind && strcmp(kind, "platform") == 0) return PRINCIPAL_PLATFORM;
  if (kind && strcmp(kind, "merchant") == 0) return PRINCIPAL_MERCHANT;
  return PRINCIPAL_NONE;
}

int user_validate(const struct user_input *in, struct svc_error *err) {
  enum principal_kind k = kind_of(in->kind);
  if (k == PRINCIPAL_NONE) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "kind"), "kind must be platform or merchant");
  }
  const char *at = in->email ? strchr(in->email, '@') : NULL;
  if (!at || at == in->email || !strchr(at, '.') || strlen(in->email) > 128 || strpbrk(in->email, " \t\r\n")) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "email"), "email is not an email address");
  }
  if (!in->display_name || !in->display_name[0] || strlen(in->display_name) > 128) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "displayName"), "displayName must be 1 to 128 bytes");
  }
  if (!in->role || !role_find(k, in->role)) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "role"),
                    k == PRINCIPAL_PLATFORM ? "role must be admin, finance, ops, support or viewer"
                                            : "role must be owner, manager, clerk, finance, ops or viewer");
  }
  if (k == PRINCIPAL_MERCHANT && (!in->merchant_id || !in->merchant_id[0])) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "merchantId"), "merchant users need a merchant");
  }
  return SVC_OK;
}

static int audit_user(db_conn *c, const struct actor *a, const char *action, const struct user *u, json_t *details) {
  int rc = svc_audit(c, a, u->merchant_id, action, u->id, details);
  json_decref(details);
  return rc;
}

int user_create(db_conn *c, const struct actor *a, const struct user_input *in, struct user *out,
                struct svc_error *err) {
  int rc = user_validate(in, err);
  if (rc != SVC_OK) return rc;
  bool merchant = kind_of(in->kind) == PRINCIPAL_MERCHANT;
  if (merchant) {
    rc = svc_scope(a, in->merchant_id, err);
    if (rc != SVC_OK) return rc;
    db_val m[] = {db_text(in->merchant_id)};
    db_cursor *cur = NULL;
    rc = db_query(c, &q_merchant_status, m, 1, &cur);
    if (rc < 0) return rc;
    rc = db_step(cur);
    db_reset(cur);
    if (rc < 0) return rc;
    if (rc == DB_DONE) return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s}", "merchantId", in->merchant_id), "no merchant '%s'", in->merchant_id);
  } else if (a->p && a->p->kind != PRINCIPAL_PLATFORM) {
    return svc_fail(err, MPS_E_FORBIDDEN, NULL, "only platform staff create platform users");
  }
  assert(in->password_hash && in->password_hash[0]);
  char id[ID_MAX_LEN];
  if (id_new("usr", id, sizeof id) != 0) return DB_ERR;
  db_val v[] = {db_text(id), db_text(in->kind), merchant ? db_text(in->merchant_id) : db_null(),
                db_text(in->email), db_text(in->display_name), db_text(in->role),
                db_text(in->password_hash), db_int(clock_now_ms())};
  int64_t changed = 0;
  rc = db_run(c, &q_insert, v, 8, &changed);
  if (rc < 0) return rc;
  if (changed == 0) return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s}", "email", in->email), "a %s user with this email already exists", in->kind);
  db_val g[] = {db_text(id)};
  rc = load_one(c, &q_get, g, 1, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  rc = audit_user(c, a, "USER_CREATE", out, json_pack("{s:s, s:s, s:s}", "kind", out->kind, "email", out->email, "role", out->role));
  return rc < 0 ? rc : SVC_OK;
}

int user_get(db_conn *c, const struct actor *a, const char *kind, const char *merchant_id,
             const char *id, struct user *out, struct svc_error *err) {
  if (merchant_id && merchant_id[0]) {
    int rc = svc_scope(a, merchant_id, err);
    if (rc != SVC_OK) return rc;
  }
  db_val g[] = {db_text(id)};
  int rc = load_one(c, &q_get, g, 1, out);
  if (rc < 0) return rc;
  if (rc == DB_DONE || strcmp(out->kind, kind) != 0 || strcmp(out->merchant_id, merchant_id ? merchant_id : "") != 0) {
    return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s}", "id", id), "no such user");
  }
  return SVC_OK;
}

int user_update(db_conn *c, const struct actor *a, const char *kind, const char *merchant_id,
                const char *id, const struct user_patch *p, struct user *out, struct svc_error *err) {
  int rc = user_get(c, a, kind, merchant_id, id, out, err);
  if (rc != SVC_OK) return rc;
  if (p->role && !role_find(kind_of(kind), p->role)) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "role"), "unknown role for a %s user", kind);
  }
  if (p->status && strcmp(p->status, "ACTIVE") != 0 && strcmp(p->status, "DISABLED") != 0) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "status"), "status must be ACTIVE or DISABLED");
  }
  if (p->display_name && (!p->display_name[0] || strlen(p->display_name) > 128)) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "displayName"), "displayName must be 1 to 128 bytes");
  }
  bool revoke = p->password_hash || (p->role && strcmp(p->role, out->role) != 0) ||
                (p->status && strcmp(p->status, out->status) != 0);
  db_val v[] = {db_text(id), db_text(p->display_name), db_text(p->role), db_text(p->status),
                db_text(p->password_hash), db_int(revoke ? 1 : 0), db_int(clock_now_ms())};
  rc = db_run(c, &q_update, v, 7, NULL);
  if (rc < 0) return rc;
  char old_role[16];
  copy(old_role, sizeof old_role, out->role);
  db_val g[] = {db_text(id)};
  rc = load_one(c, &q_get, g, 1, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  const char *action = p->password_hash ? "USER_PASSWORD_ROTATE"
                       : (p->role && strcmp(p->role, old_role) != 0) ? "USER_ROLE_CHANGE" : "USER_UPDATE";
  json_t *d = json_pack("{s:s?, s:s, s:s?, s:b, s:b}", "displayName", p->display_name, "role", out->role,
                        "status", p->status, "passwordChanged", p->password_hash != NULL, "tokensRevoked", revoke);
  rc = audit_user(c, a, action, out, d);
  return rc < 0 ? rc : SVC_OK;
}

int user_list(db_conn *c, const struct actor *a, const char *kind, const char *merchant_id,
              const char *cursor, int limit, void (*emit)(const struct user *u, void *arg),
              void *arg, char *next_cursor, size_t next_len, struct svc_error *err) {
  assert(limit >= 1 && limit <= PAGE_MAX);
  if (merchant_id && merchant_id[0]) {
    int rc = svc_scope(a, merchant_id, err);
    if (rc != SVC_OK) return rc;
  }
  db_val v[] = {db_text(kind), db_text(merchant_id ? merchant_id : ""), db_text(cursor), db_int(limit + 1)};
  db_cursor *cur = NULL;
  int rc = db_query(c, merchant_id && merchant_id[0] ? &q_list : &q_list_platform, v, 4, &cur);
  if (rc < 0) return rc;
  next_cursor[0] = '\0';
  int n = 0;
  struct user u, last = {0};
  while ((rc = db_step(cur)) == DB_ROW) {
    if (n == limit) {
      copy(next_cursor, next_len, last.id);
      break;
    }
    read_row(cur, &u);
    emit(&u, arg);
    last = u;
    n++;
  }
  db_reset(cur);
  return rc < 0 ? rc : SVC_OK;
}

int user_login_lookup(db_conn *c, const char *kind, const char *email, struct login_candidate *out) {
  memset(out, 0, sizeof *out);
  int rc = user_find_by_email(c, kind, email, &out->user);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_OK;
  db_val a[] = {db_text(out->user.id)};
  db_cursor *cur = NULL;
  rc = db_query(c, &q_login, a, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) {
    copy(out->password_hash, sizeof out->password_hash, db_col_text(cur, 0));
    copy(out->merchant_status, sizeof out->merchant_status, db_col_text(cur, 1));
    out->found = true;
  }
  db_reset(cur);
  return rc < 0 ? rc : DB_OK;
}
