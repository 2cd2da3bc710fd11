/* merchants.c — merchant lifecycle use cases (see merchants.h). */
#include "service/merchants.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "domain/currency.h"
#include "service/audit.h"

#define MERCHANT_COLS \
  "id, name, currency, time_zone, status, COALESCE(status_reason, ''), " \
  "COALESCE(contact_email, ''), created_at_ms, updated_at_ms, COALESCE(platform_fee_bps, -1)"

static const db_sql q_insert = {
    "merchant_insert",
    "INSERT INTO merchants (id, name, currency, time_zone, status, contact_email, created_at_ms, "
    "updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING", NULL};
static const db_sql q_get = {"merchant_get", "SELECT " MERCHANT_COLS " FROM merchants WHERE id = $1", NULL};
static const db_sql q_update = {
    "merchant_update",
    "UPDATE merchants SET name = COALESCE($2, name), time_zone = COALESCE($3, time_zone), "
    "contact_email = COALESCE($4, contact_email), updated_at_ms = $5, "
    "platform_fee_bps = CASE WHEN $6 = 1 THEN $7 ELSE platform_fee_bps END WHERE id = $1", NULL};
static const db_sql q_status = {
    "merchant_status",
    "UPDATE merchants SET status = $2, status_reason = $3, updated_at_ms = $4 "
    "WHERE id = $1 AND status = $5", NULL};
static const db_sql q_list = {
    "merchant_list",
    "SELECT " MERCHANT_COLS " FROM merchants WHERE ($1 = '' OR status = $1) AND created_at_ms <= "
    "COALESCE((SELECT created_at_ms FROM merchants WHERE id = $2), 9223372036854775807) AND ($2 = '' OR "
    "created_at_ms < (SELECT created_at_ms FROM merchants WHERE id = $2) OR "
    "(created_at_ms = (SELECT created_at_ms FROM merchants WHERE id = $2) AND id < $2)) "
    "ORDER BY created_at_ms DESC, id DESC LIMIT $3", NULL};
/* newest first (ids are chosen by clients): merchants_created (created_at_ms, id) read in
 * order, from the cursor's time down (the first condition on created_at_ms bounds the range,
 * the second decides within the cursor's millisecond, and empties the page of a cursor that
 * names no merchant); D56 */

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static void read_row(db_cursor *cur, struct merchant *m) {
  copy(m->id, sizeof m->id, db_col_text(cur, 0));
  copy(m->name, sizeof m->name, db_col_text(cur, 1));
  copy(m->currency, sizeof m->currency, db_col_text(cur, 2));
  copy(m->time_zone, sizeof m->time_zone, db_col_text(cur, 3));
  copy(m->status, sizeof m->status, db_col_text(cur, 4));
  copy(m->status_reason, sizeof m->status_reason, db_col_text(cur, 5));
  copy(m->contact_email, sizeof m->contact_email, db_col_text(cur, 6));
  m->created_at_ms = db_col_int(cur, 7);
  m->updated_at_ms = db_col_int(cur, 8);
  m->platform_fee_bps = (int)db_col_int(cur, 9);
}

/* Load one merchant: DB_ROW, DB_DONE when absent, < 0 on store errors. */
static int load(db_conn *c, const char *id, struct merchant *out) {
  db_cursor *cur = NULL;
  db_val a[] = {db_text(id)};
  int rc = db_query(c, &q_get, a, 1, &cur);
  if (rc < 0) return rc;
  rc = db_step(cur);
  if (rc == DB_ROW) read_row(cur, out);
  db_reset(cur);
  return rc;
}

static bool valid_tz(const char *tz) {
  size_t n = strlen(tz);
  if (n == 0 || n > 64 || tz[0] == '/' || strstr(tz, "..")) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = tz[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '/' || ch == '_' || ch == '-' || ch == '+')) return false;
  }
  return true;
}

static bool valid_client_id(const char *s) {
  size_t n = strlen(s);
  if (n < 3 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) return false;
  }
  return true;
}

static bool valid_email(const char *e) {
  const char *at = strchr(e, '@');
  return at && at != e && strchr(at + 1, '.') && !strchr(at + 1, '@') && strlen(e) <= 128 && !strpbrk(e, " \t\r\n");
}

int merchant_validate(const struct merchant_input *in, struct svc_error *err) {
  if (in->id && in->id[0] && !valid_client_id(in->id)) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "id"),
                    "id must be 3 to 64 characters of letters, digits, '_' or '-'");
  }
  if (!in->name || !in->name[0] || strlen(in->name) > 128) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "name"),
                    "name must be 1 to 128 bytes");
  }
  if (currency_exponent(in->currency) < 0) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "currency"),
                    "currency must be an ISO 4217 code mps supports (e.g. USD, EUR, IDR, CNY, JPY)");
  }
  if (!valid_tz(in->time_zone)) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "timeZone"),
                    "timeZone must be an IANA zone name such as Asia/Jakarta or UTC");
  }
  if (in->contact_email && in->contact_email[0] && !valid_email(in->contact_email)) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "contactEmail"),
                    "contactEmail is not an email address");
  }
  return SVC_OK;
}

static int audit(db_conn *c, const struct actor *a, const char *action, const struct merchant *m,
                 json_t *details) {
  int rc = svc_audit(c, a, m->id, action, m->id, details);
  json_decref(details);
  return rc;
}

int merchant_create(db_conn *c, const struct actor *a, const struct merchant_input *in,
                    struct merchant *out, struct svc_error *err) {
  int rc = merchant_validate(in, err);
  if (rc != SVC_OK) return rc;
  assert(in->status && (strcmp(in->status, "ACTIVE") == 0 || strcmp(in->status, "PENDING") == 0));
  char id[ID_MAX_LEN];
  if (in->id && in->id[0]) copy(id, sizeof id, in->id);
  else if (id_new("mer", id, sizeof id) != 0) return DB_ERR;
  int64_t now = clock_now_ms();
  db_val v[] = {db_text(id), db_text(in->name), db_text(in->currency), db_text(in->time_zone),
                db_text(in->status), in->contact_email && in->contact_email[0] ? db_text(in->contact_email) : db_null(),
                db_int(now)};
  int64_t changed = 0;
  rc = db_run(c, &q_insert, v, 7, &changed);
  if (rc < 0) return rc;
  if (changed == 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s}", "id", id), "a merchant with id '%s' already exists", id);
  }
  rc = load(c, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  rc = audit(c, a, "MERCHANT_CREATE", out, json_pack("{s:s, s:s, s:s}", "name", out->name, "currency", out->currency, "status", out->status));
  return rc < 0 ? rc : SVC_OK;
}

int merchant_get(db_conn *c, const struct actor *a, const char *id, struct merchant *out,
                 struct svc_error *err) {
  int rc = svc_scope(a, id, err);
  if (rc != SVC_OK) return rc;
  rc = load(c, id, out);
  if (rc < 0) return rc;
  if (rc == DB_DONE) return svc_fail(err, MPS_E_NOT_FOUND, json_pack("{s:s}", "id", id), "no merchant '%s'", id);
  return SVC_OK;
}

int merchant_update(db_conn *c, const struct actor *a, const char *id,
                    const struct merchant_patch *p, struct merchant *out, struct svc_error *err) {
  int rc = merchant_get(c, a, id, out, err);
  if (rc != SVC_OK) return rc;
  struct merchant_input check = {.name = p->name ? p->name : out->name, .currency = out->currency,
                                 .time_zone = p->time_zone ? p->time_zone : out->time_zone,
                                 .contact_email = p->contact_email};
  rc = merchant_validate(&check, err);
  if (rc != SVC_OK) return rc;
  if (p->set_fee && (p->fee_bps < -1 || p->fee_bps > 10000)) {
    return svc_fail(err, MPS_E_VALIDATION_FAILED, json_pack("{s:s}", "field", "platformFeeBps"),
                    "platformFeeBps must be 0 to 10000 basis points, or -1 for the platform default");
  }
  db_val v[] = {db_text(id), db_text(p->name), db_text(p->time_zone), db_text(p->contact_email), db_int(clock_now_ms()),
                db_int(p->set_fee ? 1 : 0), p->set_fee && p->fee_bps >= 0 ? db_int(p->fee_bps) : db_null()};
  rc = db_run(c, &q_update, v, 7, NULL);
  if (rc < 0) return rc;
  rc = load(c, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  json_t *changes = json_pack("{s:s?, s:s?, s:s?}", "name", p->name, "timeZone", p->time_zone, "contactEmail", p->contact_email);
  if (p->set_fee) json_object_set_new(changes, "platformFeeBps", json_integer(p->fee_bps));
  rc = audit(c, a, "MERCHANT_UPDATE", out, changes);
  return rc < 0 ? rc : SVC_OK;
}

struct transition {
  const char *action, *from, *to, *audit_action;
};

static const struct transition transitions[] = {
    {"approve", "PENDING", "ACTIVE", "MERCHANT_APPROVE"},
    {"reject", "PENDING", "REJECTED", "MERCHANT_REJECT"},
    {"suspend", "ACTIVE", "SUSPENDED", "MERCHANT_SUSPEND"},
    {"reactivate", "SUSPENDED", "ACTIVE", "MERCHANT_REACTIVATE"},
};

int merchant_transition(db_conn *c, const struct actor *a, const char *id, const char *action,
                        const char *reason, struct merchant *out, struct svc_error *err) {
  const struct transition *t = NULL;
  for (size_t i = 0; i < sizeof transitions / sizeof transitions[0]; i++) {
    if (strcmp(transitions[i].action, action) == 0) t = &transitions[i];
  }
  assert(t);
  int rc = merchant_get(c, a, id, out, err);
  if (rc != SVC_OK) return rc;
  if (strcmp(out->status, t->from) != 0) {
    return svc_fail(err, MPS_E_CONFLICT, json_pack("{s:s, s:s}", "status", out->status, "required", t->from),
                    "cannot %s a merchant that is %s (it must be %s)", action, out->status, t->from);
  }
  int64_t changed = 0;
  db_val v[] = {db_text(id), db_text(t->to), db_text(reason), db_int(clock_now_ms()), db_text(t->from)};
  rc = db_run(c, &q_status, v, 5, &changed);
  if (rc < 0) return rc;
  if (changed != 1) return svc_fail(err, MPS_E_CONFLICT, NULL, "the merchant changed meanwhile; retry");
  rc = load(c, id, out);
  if (rc != DB_ROW) return rc < 0 ? rc : DB_ERR;
  rc = audit(c, a, t->audit_action, out, json_pack("{s:s, s:s, s:s?}", "from", t->from, "to", t->to, "reason", reason));
  return rc < 0 ? rc : SVC_OK;
}

int merchant_list(db_conn *c, const struct actor *a, const struct merchant_filter *f,
                  void (*emit)(const struct merchant *m, void *arg), void *arg,
                  char *next_cursor, size_t next_len, struct svc_error *err) {
  assert(f->limit >= 1 && f->limit <= PAGE_MAX);
  if (a->p && a->p->kind != PRINCIPAL_PLATFORM) {
    return svc_fail(err, MPS_E_FORBIDDEN, NULL, "only platform staff list merchants");
  }
  db_cursor *cur = NULL;
  db_val v[] = {db_text(f->status), db_text(f->cursor), db_int(f->limit + 1)};
  int rc = db_query(c, &q_list, v, 3, &cur);
  if (rc < 0) return rc;
  int n = 0;
  next_cursor[0] = '\0';
  struct merchant m, last = {0};
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
