/* members.c — a merchant's members as staff manage them (see members.h). */
#include "service/members.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "service/audit.h"
#include "service/stores.h"

#define MEMBER_COLS \
  "id, merchant_id, phone, display_name, status, token_version, created_at_ms, updated_at_ms"

/* ON CONFLICT without a target: (merchant_id, phone) is the unique index that can hit (also
 * when a first member login creates the same member meanwhile). */
static const db_sql q_insert = {
    "member_insert",
    "INSERT INTO members (id, merchant_id, phone, display_name, status, token_version, "
    "created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, 'ACTIVE', 1, $5, $5) "
    "ON CONFLICT DO NOTHING", NULL};
static const db_sql q_get = {
    "member_get", "SELECT " MEMBER_COLS " FROM members WHERE merchant_id = $1 AND id = $2", NULL};
/* $4: the new status or NULL; the token version moves on when a member becomes DISABLED. */
static const db_sql q_update = {
    "member_update",
    "UPDATE members SET display_name = COALESCE($3, display_name), "
    "token_version = CASE WHEN $4 = 'DISABLED' AND status <> 'DISABLED' THEN token_version + 1 "
    "ELSE token_version END, status = COALESCE($4, status), updated_at_ms = $5 "
    "WHERE merchant_id = $1 AND id = $2", NULL};
/* Three list statements, so each reads one index in order (D56): the merchant's members from
 * the newest (members_merchant), from below a cursor, or the one with a phone (members_phone). */
#define MEMBER_LIST "SELECT " MEMBER_COLS " FROM members WHERE merchant_id = $1 AND ($2 = '' OR status = $2) "
static const db_sql q_list = {"member_list", MEMBER_LIST "ORDER BY id DESC LIMIT $3", NULL};
static const db_sql q_list_after = {"member_list_after", MEMBER_LIST "AND id < $4 ORDER BY id DESC LIMIT $3", NULL};
static const db_sql q_list_phone = {
    "member_list_phone", MEMBER_LIST "AND phone = $5 AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $3", NULL};

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static void read_row(db_cursor *cur, struct member *m) {
  copy(m->id, sizeof m->id, db_col_text(cur, 0));
  copy(m->merchant_id, sizeof m->merchant_id, db_col_text(cur, 1));
  copy(m->phone, sizeof m->phone, db_col_text(cur, 2));
  copy(m->display_name, sizeof m->display_name, db_col_text(cur, 3));
  copy(m->status, sizeof m->status, db_col_text(cur, 4));
  m->token_version = db_col_int(cur, 5);
  m->created_at_ms = db_col_int(cur, 6);
  m->updated_at_ms = db_col_int(cur, 7);
}

static int load(db_conn *c, const char *merchant_id, const char *id, struct member *out) {
  db_cursor *cur = NULL;
  db_val v[] = {db_text(merchant_id), db_text(id)};
  int rc = db_query(c, &q_get, v, 2, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) read_row(cur, out);
  db_reset(cur);
  return rc;
}

static int invalid(struct svc_error *err, const char *field, const char *reason) {
  return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s, s:s}", "field", field, "reason", reason),
                  "field '%s' %s", field, reason);
}

static bool valid_name(const char *s) {
  size_t n = strlen(s);
  bool visible = false;
  if (n == 0 || n > 128) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f) return false;
    if (ch != ' ') visible = true;
  }
  return visible;
}

static int validate(const char *display_name, const char *status, struct svc_error *err) {
  if (display_name && !valid_name(display_name)) {
    return invalid(err, "displayName", "must be 1 to 128 bytes of text");
  }
  if (status && strcmp(status, "ACTIVE") != 0 && strcmp(status, "DISABLED") != 0) {
    return invalid(err, "status", "must be ACTIVE or DISABLED");
  }
  return SVC_OK;
}

static int audit(db_conn *c, const struct actor *a, const char *action, const struct member *m,
                 json_t *details) {
  int rc = svc_audit(c, a, m->merchant_id, action, m->id, details);
  json_decref(details);
  return rc;
}

int member_create(db_conn *c, const struct actor *a, const char *merchant_id,
                  const struct member_input *in, struct member *out, struct svc_error *err) {
  int rc = svc_merchant_open(c, a, merchant_id, true, err);
  if (rc != SVC_OK) return rc;
  char phone[PHONE_MAX];
  if (!in->phone || phone_normalize(in->phone, phone) != 0) {
    return invalid(err, "phone", "must be 6 to 20 digits with an optional leading +");
  }
  if (!in->display_name) return invalid(err, "displayName", "is required");
  rc = validate(in->display_name, NULL, err);
  if (rc != SVC_OK) return rc;
  char id[ID_MAX_LEN];
  if (id_new("mem", id, sizeof id) != 0) return DB_ERR;
  db_val v[] = {db_text(id), db_text(merchant_id), db_text(phone), db_text(in->display_name),
                db_int(clock_now_ms())};
  int64_t changed = 0;
  rc = db_run(c, &q_insert, v, 5, &changed);
  if (rc < 0) return rc;
  if (changed == 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s, s:s}", "field", "phone", "phone", phone),
                    "phone '%s' is already a member of merchant '%s'", phone, merchant_id);
  }
  rc = load(c, merchant_id, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  rc = audit(c, a, "MEMBER_CREATE", out, json_pack("{s:s, s:s}", "phone", out->phone, "displayName", out->display_name));
  return rc < 0 ? rc : SVC_OK;
}

int member_get(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
               struct member *out, struct svc_error *err) {
  int rc = svc_merchant_open(c, a, merchant_id, false, err);
  if (rc != SVC_OK) return rc;
  rc = load(c, merchant_id, id, out);
  if (rc < 0) return rc;
  if (rc == DB_DONE) {
    return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s, s:s}", "merchantId", merchant_id, "memberId", id),
                    "merchant '%s' has no member '%s'", merchant_id, id);
  }
  return SVC_OK;
}

int member_update(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
                  const struct member_patch *p, struct member *out, struct svc_error *err) {
  int rc = member_get(c, a, merchant_id, id, out, err);
  if (rc != SVC_OK) return rc;
  rc = validate(p->display_name, p->status, err);
  if (rc != SVC_OK) return rc;
  char from[16];
  copy(from, sizeof from, out->status);
  int64_t from_version = out->token_version;
  db_val v[] = {db_text(merchant_id), db_text(id), db_text(p->display_name), db_text(p->status),
                db_int(clock_now_ms())};
  int64_t changed = 0;
  rc = db_run(c, &q_update, v, 5, &changed);
  if (rc < 0) return rc;
  if (changed != 1) return DB_ERR;
  rc = load(c, merchant_id, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  json_t *changes = json_pack("{s:s?, s:s?, s:s?}", "displayName", p->display_name, "status", p->status,
                              "fromStatus", p->status ? from : NULL);
  if (changes && out->token_version != from_version) {
    json_object_set_new(changes, "tokensRevoked", json_true());
  }
  rc = audit(c, a, "MEMBER_UPDATE", out, changes);
  return rc < 0 ? rc : SVC_OK;
}

int member_list(db_conn *c, const struct actor *a, const char *merchant_id,
                const struct member_filter *f, void (*emit)(const struct member *m, void *arg),
                void *arg, char *next_cursor, size_t next_len, struct svc_error *err) {
  assert(f->limit >= 1 && f->limit <= PAGE_MAX);
  int rc = svc_merchant_open(c, a, merchant_id, false, err);
  if (rc != SVC_OK) return rc;
  db_cursor *cur = NULL;
  db_val v[] = {db_text(merchant_id), db_text(f->status), db_int(f->limit + 1), db_text(f->cursor),
                db_text(f->phone)};
  const db_sql *q = &q_list; /* $1..$3; after a cursor $4 too; by phone $4 and $5 */
  int nargs = 3;
  if (f->phone[0]) q = &q_list_phone, nargs = 5;
  else if (f->cursor[0]) q = &q_list_after, nargs = 4;
  rc = db_query(c, q, v, nargs, &cur);
  if (rc < 0) return rc;
  int n = 0;
  next_cursor[0] = '\0';
  struct member m, last = {0};
  while ((rc = db_step(cur)) == DB_ROW) {
    if (n == f->limit) { /* one more exists: the page ends at the previous row */
      copy(next_cursor, next_len, last.id);
      break;
    }
    read_row(cur, &m);
    emit(&m, arg);
    last = m;
    n++;
  }
  db_reset(cur);
  return rc < 0 ? rc : SVC_OK;
}
