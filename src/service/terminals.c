/* terminals.c — a merchant's terminals (see terminals.h). */
#include "service/terminals.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "service/audit.h"
#include "service/stores.h"

#define TERMINAL_COLS \
  "id, merchant_id, store_id, name, COALESCE(serial_no, ''), status, created_at_ms, updated_at_ms"

/* ON CONFLICT without a target: the serial number's unique index is the one that can hit. */
static const db_sql q_insert = {
    "terminal_insert",
    "INSERT INTO terminals (id, merchant_id, store_id, name, serial_no, status, created_at_ms, "
    "updated_at_ms) VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $6) ON CONFLICT DO NOTHING", NULL};
static const db_sql q_get = {
    "terminal_get", "SELECT " TERMINAL_COLS " FROM terminals WHERE merchant_id = $1 AND id = $2", NULL};
static const db_sql q_serial_taken = {
    "terminal_serial_taken", "SELECT COUNT(*) FROM terminals WHERE serial_no = $1 AND id <> $2", NULL};
static const db_sql q_update = {
    "terminal_update",
    "UPDATE terminals SET store_id = COALESCE($3, store_id), name = COALESCE($4, name), "
    "serial_no = NULLIF(COALESCE($5, serial_no, ''), ''), status = COALESCE($6, status), "
    "updated_at_ms = $7 WHERE merchant_id = $1 AND id = $2", NULL};
static const db_sql q_list = {
    "terminal_list",
    "SELECT " TERMINAL_COLS " FROM terminals WHERE merchant_id = $1 AND ($2 = '' OR status = $2) "
    "AND ($3 = '' OR store_id = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5", NULL};

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static void read_row(db_cursor *cur, struct terminal *t) {
  copy(t->id, sizeof t->id, db_col_text(cur, 0));
  copy(t->merchant_id, sizeof t->merchant_id, db_col_text(cur, 1));
  copy(t->store_id, sizeof t->store_id, db_col_text(cur, 2));
  copy(t->name, sizeof t->name, db_col_text(cur, 3));
  copy(t->serial_no, sizeof t->serial_no, db_col_text(cur, 4));
  copy(t->status, sizeof t->status, db_col_text(cur, 5));
  t->created_at_ms = db_col_int(cur, 6);
  t->updated_at_ms = db_col_int(cur, 7);
}

static int load(db_conn *c, const char *merchant_id, const char *id, struct terminal *out) {
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

/* Serial numbers as printed on devices: 1..64 of [A-Za-z0-9._:/-]. */
static bool valid_serial(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          strchr("._:/-", ch))) return false;
  }
  return true;
}

static int validate(const char *name, const char *serial_no, const char *status, struct svc_error *err) {
  if (name && !valid_name(name)) return invalid(err, "name", "must be 1 to 128 bytes of text");
  if (serial_no && serial_no[0] && !valid_serial(serial_no)) {
    return invalid(err, "serialNo", "must be 1 to 64 characters of letters, digits, '.', '_', ':', '/' or '-'");
  }
  if (status && strcmp(status, "ACTIVE") != 0 && strcmp(status, "INACTIVE") != 0) {
    return invalid(err, "status", "must be ACTIVE or INACTIVE");
  }
  return SVC_OK;
}

/* The terminal's store: an ACTIVE store of the same merchant, else UNPROCESSABLE. */
static int check_store(db_conn *c, const char *merchant_id, const char *store_id, struct svc_error *err) {
  struct store s;
  int rc = store_load(c, merchant_id, store_id, &s);
  if (rc < 0) return rc;
  if (rc == DB_DONE) {
    return svc_fail(err, MPS_E_UNPROCESSABLE, json_pack("{s:s, s:s, s:s}", "field", "storeId", "reason", "is not a store of this merchant", "storeId", store_id),
                    "storeId '%s' is not a store of merchant '%s'", store_id, merchant_id);
  }
  if (strcmp(s.status, "ACTIVE") != 0) {
    return svc_fail(err, MPS_E_UNPROCESSABLE, json_pack("{s:s, s:s, s:s}", "field", "storeId", "reason", "is not ACTIVE", "storeId", store_id),
                    "store '%s' is %s: terminals need an ACTIVE store", store_id, s.status);
  }
  return SVC_OK;
}

static int serial_conflict(struct svc_error *err, const char *serial_no) {
  return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s, s:s}", "field", "serialNo", "serialNo", serial_no),
                  "a terminal with serialNo '%s' is already registered", serial_no);
}

static int audit(db_conn *c, const struct actor *a, const char *action, const struct terminal *t,
                 json_t *details) {
  int rc = svc_audit(c, a, t->merchant_id, action, t->id, details);
  json_decref(details);
  return rc;
}

int terminal_create(db_conn *c, const struct actor *a, const char *merchant_id,
                    const struct terminal_input *in, struct terminal *out, struct svc_error *err) {
  int rc = svc_merchant_open(c, a, merchant_id, true, err);
  if (rc != SVC_OK) return rc;
  if (!in->name) return invalid(err, "name", "is required");
  if (!in->store_id || !in->store_id[0]) return invalid(err, "storeId", "is required");
  rc = validate(in->name, in->serial_no, NULL, err);
  if (rc != SVC_OK) return rc;
  rc = check_store(c, merchant_id, in->store_id, err);
  if (rc != SVC_OK) return rc;
  char id[ID_MAX_LEN];
  if (id_new("ter", id, sizeof id) != 0) return DB_ERR;
  const char *serial = in->serial_no && in->serial_no[0] ? in->serial_no : NULL;
  db_val v[] = {db_text(id), db_text(merchant_id), db_text(in->store_id), db_text(in->name),
                db_text(serial), db_int(clock_now_ms())};
  int64_t changed = 0;
  rc = db_run(c, &q_insert, v, 6, &changed);
  if (rc < 0) return rc;
  if (changed == 0) return serial_conflict(err, serial ? serial : "");
  rc = load(c, merchant_id, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  rc = audit(c, a, "TERMINAL_CREATE", out,
             json_pack("{s:s, s:s, s:s?}", "storeId", out->store_id, "name", out->name, "serialNo", serial));
  return rc < 0 ? rc : SVC_OK;
}

int terminal_get(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
                 struct terminal *out, struct svc_error *err) {
  int rc = svc_merchant_open(c, a, merchant_id, false, err);
  if (rc != SVC_OK) return rc;
  rc = load(c, merchant_id, id, out);
  if (rc < 0) return rc;
  if (rc == DB_DONE) {
    return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s, s:s}", "merchantId", merchant_id, "terminalId", id),
                    "merchant '%s' has no terminal '%s'", merchant_id, id);
  }
  return SVC_OK;
}

/* Checks a patch against the current terminal: fields, the new store, a free serial. */
static int check_patch(db_conn *c, const struct terminal *t, const struct terminal_patch *p,
                       struct svc_error *err) {
  int rc = validate(p->name, p->serial_no, p->status, err);
  if (rc != SVC_OK) return rc;
  if (p->store_id && strcmp(p->store_id, t->store_id) != 0) {
    rc = check_store(c, t->merchant_id, p->store_id, err);
    if (rc != SVC_OK) return rc;
  }
  if (p->serial_no && p->serial_no[0]) {
    int64_t taken = 0;
    db_val v[] = {db_text(p->serial_no), db_text(t->id)};
    rc = db_query_int(c, &q_serial_taken, v, 2, &taken);
    if (rc < 0) return rc;
    if (taken > 0) return serial_conflict(err, p->serial_no);
  }
  return SVC_OK;
}

int terminal_update(db_conn *c, const struct actor *a, const char *merchant_id, const char *id,
                    const struct terminal_patch *p, struct terminal *out, struct svc_error *err) {
  int rc = terminal_get(c, a, merchant_id, id, out, err);
  if (rc != SVC_OK) return rc;
  rc = check_patch(c, out, p, err);
  if (rc != SVC_OK) return rc;
  char from_status[16], from_store[65];
  copy(from_status, sizeof from_status, out->status);
  copy(from_store, sizeof from_store, out->store_id);
  db_val v[] = {db_text(merchant_id), db_text(id), db_text(p->store_id), db_text(p->name),
                db_text(p->serial_no), db_text(p->status), db_int(clock_now_ms())};
  int64_t changed = 0;
  rc = db_run(c, &q_update, v, 7, &changed);
  if (rc == DB_CONSTRAINT && p->serial_no) return serial_conflict(err, p->serial_no); /* a race */
  if (rc < 0) return rc;
  if (changed != 1) return DB_ERR;
  rc = load(c, merchant_id, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  json_t *changes = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "storeId", p->store_id, "name", p->name,
                              "serialNo", p->serial_no, "status", p->status,
                              "fromStatus", p->status ? from_status : NULL,
                              "fromStoreId", p->store_id ? from_store : NULL);
  rc = audit(c, a, "TERMINAL_UPDATE", out, changes);
  return rc < 0 ? rc : SVC_OK;
}

int terminal_list(db_conn *c, const struct actor *a, const char *merchant_id,
                  const struct terminal_filter *f,
                  void (*emit)(const struct terminal *t, void *arg), void *arg,
                  char *next_cursor, size_t next_len, struct svc_error *err) {
  assert(f->limit >= 1 && f->limit <= PAGE_MAX);
  int rc = svc_merchant_open(c, a, merchant_id, false, err);
  if (rc != SVC_OK) return rc;
  db_cursor *cur = NULL;
  db_val v[] = {db_text(merchant_id), db_text(f->status), db_text(f->store_id), db_text(f->cursor),
                db_int(f->limit + 1)};
  rc = db_query(c, &q_list, v, 5, &cur);
  if (rc < 0) return rc;
  int n = 0;
  next_cursor[0] = '\0';
  struct terminal t, last = {0};
  while ((rc = db_step(cur)) == DB_ROW) {
    if (n == f->limit) { /* one more exists: the page ends at the previous row */
      copy(next_cursor, next_len, last.id);
      break;
    }
    read_row(cur, &t);
    emit(&t, arg);
    last = t;
    n++;
  }
  db_reset(cur);
  return rc < 0 ? rc : SVC_OK;
}
