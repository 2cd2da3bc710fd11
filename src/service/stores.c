/* stores.c — a merchant's stores (see stores.h), and the merchant check shared by the
 * merchant-scoped resources. */
#include "service/stores.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "service/audit.h"
#include "service/merchants.h"

#define STORE_COLS \
  "id, merchant_id, name, COALESCE(address, ''), status, created_at_ms, updated_at_ms"

static const db_sql q_insert = {
    "store_insert",
    "INSERT INTO stores (id, merchant_id, name, address, status, created_at_ms, updated_at_ms) "
    "VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $5)", NULL};
static const db_sql q_get = {
    "store_get", "SELECT " STORE_COLS " FROM stores WHERE merchant_id = $1 AND id = $2", NULL};
static const db_sql q_update = {
    "store_update",
    "UPDATE stores SET name = COALESCE($3, name), "
    "address = NULLIF(COALESCE($4, address, ''), ''), "
    "status = COALESCE($5, status), updated_at_ms = $6 WHERE merchant_id = $1 AND id = $2", NULL};
static const db_sql q_list = {
    "store_list",
    "SELECT " STORE_COLS " FROM stores WHERE merchant_id = $1 AND ($2 = '' OR status = $2) "
    "AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4", NULL};

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

int svc_merchant_open(db_conn *c, const struct actor *a, const char *merchant_id,
                      bool for_create, struct svc_error *err) {
  int rc = svc_scope(a, merchant_id, err);
  if (rc != SVC_OK) return rc;
  struct merchant m;
  rc = merchant_get(c, a, merchant_id, &m, err);
  if (rc != SVC_OK) return rc;
  if (for_create && (strcmp(m.status, "REJECTED") == 0 || strcmp(m.status, "SUSPENDED") == 0)) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s, s:s}", "merchantId", m.id, "status", m.status),
                    "merchant '%s' is %s: nothing can be created under it", m.id, m.status);
  }
  return SVC_OK;
}

static void read_row(db_cursor *cur, struct store *s) {
  copy(s->id, sizeof s->id, db_col_text(cur, 0));
  copy(s->merchant_id, sizeof s->merchant_id, db_col_text(cur, 1));
  copy(s->name, sizeof s->name, db_col_text(cur, 2));
  copy(s->address, sizeof s->address, db_col_text(cur, 3));
  copy(s->status, sizeof s->status, db_col_text(cur, 4));
  s->created_at_ms = db_col_int(cur, 5);
  s->updated_at_ms = db_col_int(cur, 6);
}

int store_load(db_conn *c, const char *merchant_id, const char *id, struct store *out) {
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

/* Text a person typed: 1..max bytes, no control characters, not only spaces. */
static bool valid_text(const char *s, size_t max) {
  size_t n = strlen(s);
  bool visible = false;
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f) return false;
    if (ch != ' ') visible = true;
  }
  return visible;
}

static int validate(const char *name, const char *address, const char *status, struct svc_error *err) {
  if (name && !valid_text(name, 128)) return invalid(err, "name", "must be 1 to 128 bytes of text");
  if (address && address[0] && !valid_text(address, 256)) {
    return invalid(err, "address", "must be at most 256 bytes of text");
  }
  if (status && strcmp(status, "ACTIVE") != 0 && strcmp(status, "INACTIVE") != 0) {
    return invalid(err, "status", "must be ACTIVE or INACTIVE");
  }
  return SVC_OK;
}

static int audit(db_conn *c, const struct actor *a, const char *action, const struct store *s,
                 json_t *details) {
  int rc = svc_audit(c, a, s->merchant_id, action, s->id, details);
  json_decref(details);
  return rc;
}

int store_create(db_conn *c, const struct actor *a, const char *merchant_id,
                 const struct store_input *in, struct store *out, struct svc_error *err) {
  int rc = svc_merchant_open(c, a, merchant_id, true, err);
  if (rc != SVC_OK) return rc;
  if (!in->name) return invalid(err, "name", "is required");
  rc = validate(in->name, in->address, NULL, err);
  if (rc != SVC_OK) return rc;
  char id[ID_MAX_LEN];
  if (id_new("sto", id, sizeof id) != 0) return DB_ERR;
  const char *address = in->address && in->address[0] ? in->address : NULL;
  db_val v[] = {db_text(id), db_text(merchant_id), db_text(in->name), db_text(address),
                db_int(clock_now_ms())};
  rc = db_run(c, &q_insert, v, 5, NULL);
  if (rc < 0) return rc;
  rc = store_load(c, merchant_id, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  rc = audit(c, a, "STORE_CREATE", out, json_pack("{s:s, s:s?}", "name", out->name, "address", address));
  return rc < 0 ? rc : SVC_OK;
}

int store_get(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
              struct store *out, struct svc_error *err) {
  int rc = svc_merchant_open(c, a, merchant_id, false, err);
  if (rc != SVC_OK) return rc;
  rc = store_load(c, merchant_id, id, out);
  if (rc < 0) return rc;
  if (rc == DB_DONE) {
    return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s, s:s}", "merchantId", merchant_id, "storeId", id),
                    "merchant '%s' has no store '%s'", merchant_id, id);
  }
  return SVC_OK;
}

int store_update(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
                 const struct store_patch *p, struct store *out, struct svc_error *err) {
  int rc = store_get(c, a, merchant_id, id, out, err);
  if (rc != SVC_OK) return rc;
  rc = validate(p->name, p->address, p->status, err);
  if (rc != SVC_OK) return rc;
  char from[16];
  copy(from, sizeof from, out->status);
  db_val v[] = {db_text(merchant_id), db_text(id), db_text(p->name), db_text(p->address),
                db_text(p->status), db_int(clock_now_ms())};
  int64_t changed = 0;
  rc = db_run(c, &q_update, v, 6, &changed);
  if (rc < 0) return rc;
  if (changed != 1) return DB_ERR;
  rc = store_load(c, merchant_id, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  json_t *changes = json_pack("{s:s?, s:s?, s:s?, s:s?}", "name", p->name, "address", p->address,
                              "status", p->status, "fromStatus", p->status ? from : NULL);
  rc = audit(c, a, "STORE_UPDATE", out, changes);
  return rc < 0 ? rc : SVC_OK;
}

int store_list(db_conn *c, const struct actor *a, const char *merchant_id,
               const struct store_filter *f, void (*emit)(const struct store *s, void *arg),
               void *arg, char *next_cursor, size_t next_len, struct svc_error *err) {
  assert(f->limit >= 1 && f->limit <= PAGE_MAX);
  int rc = svc_merchant_open(c, a, merchant_id, false, err);
  if (rc != SVC_OK) return rc;
  db_cursor *cur = NULL;
  db_val v[] = {db_text(merchant_id), db_text(f->status), db_text(f->cursor), db_int(f->limit + 1)};
  rc = db_query(c, &q_list, v, 4, &cur);
  if (rc < 0) return rc;
  int n = 0;
  next_cursor[0] = '\0';
  struct store s, last = {0};
  while ((rc = db_step(cur)) == DB_ROW) {
    if (n == f->limit) { /* one more exists: the page ends at the previous row */
      copy(next_cursor, next_len, last.id);
      break;
    }
    read_row(cur, &s);
    emit(&s, arg);
    last = s;
    n++;
  }
  db_reset(cur);
  return rc < 0 ? rc : SVC_OK;
}
