/* seed_demo.c — mpsctl seed-demo: a demo merchant (m_demo) with a store and a till, staff
 * of every role, platform staff of every role and a few members, created through the same
 * services as the API (validated, audited), in one transaction. Refused in production
 * mode; a second run changes nothing. Prints how to log in. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "service/members.h"
#include "service/merchants.h"
#include "service/stores.h"
#include "service/terminals.h"
#include "service/users.h"

#define DEMO_MERCHANT "m_demo"
#define DEMO_PASSWORD "demo-password"

static const char *platform_roles[] = {"admin", "finance", "ops", "support", "viewer"};
static const char *merchant_roles[] = {"owner", "manager", "clerk", "finance", "ops", "viewer"};
static const struct {
  const char *phone, *name;
} demo_members[] = {{"+628111000001", "Ayu"}, {"+628111000002", "Budi"}, {"+628111000003", "Citra"}};

struct seed {
  char hash[PASSWORD_HASH_MAX];
  bool existed;
};

static int add_users(db_conn *c, const struct actor *a, struct seed *s, struct svc_error *err) {
  char email[64];
  struct user u;
  for (size_t i = 0; i < 5; i++) {
    snprintf(email, sizeof email, "%s@mps.local", platform_roles[i]);
    struct user_input in = {.kind = "platform", .email = email, .display_name = platform_roles[i],
                            .role = platform_roles[i], .password_hash = s->hash};
    int rc = user_create(c, a, &in, &u, err);
    if (rc != SVC_OK) return rc;
  }
  for (size_t i = 0; i < 6; i++) {
    snprintf(email, sizeof email, "%s@demo.mps", merchant_roles[i]);
    struct user_input in = {.kind = "merchant", .merchant_id = DEMO_MERCHANT, .email = email,
                            .display_name = merchant_roles[i], .role = merchant_roles[i],
                            .password_hash = s->hash};
    int rc = user_create(c, a, &in, &u, err);
    if (rc != SVC_OK) return rc;
  }
  return SVC_OK;
}

static int seed_fn(db_conn *c, void *arg, struct svc_error *err) {
  struct seed *s = arg;
  struct actor a = {.request_id = "seed-demo"};
  struct merchant m;
  if (merchant_get(c, &a, DEMO_MERCHANT, &m, err) == SVC_OK) {
    s->existed = true;
    return SVC_OK;
  }
  svc_error_clear(err);
  struct merchant_input mi = {.id = DEMO_MERCHANT, .name = "Demo Coffee", .currency = "IDR",
                              .time_zone = "Asia/Jakarta", .contact_email = "owner@demo.mps",
                              .status = "ACTIVE"};
  int rc = merchant_create(c, &a, &mi, &m, err);
  struct store st;
  struct store_input si = {.name = "Main Street", .address = "Jl. Demo 1, Jakarta"};
  if (rc == SVC_OK) rc = store_create(c, &a, DEMO_MERCHANT, &si, &st, err);
  struct terminal t;
  struct terminal_input ti = {.store_id = st.id, .name = "Till 1", .serial_no = "DEMO-TILL-0001"};
  if (rc == SVC_OK) rc = terminal_create(c, &a, DEMO_MERCHANT, &ti, &t, err);
  if (rc == SVC_OK) rc = add_users(c, &a, s, err);
  for (size_t i = 0; rc == SVC_OK && i < sizeof demo_members / sizeof demo_members[0]; i++) {
    struct member mem;
    struct member_input in = {.phone = demo_members[i].phone, .display_name = demo_members[i].name};
    rc = member_create(c, &a, DEMO_MERCHANT, &in, &mem, err);
  }
  return rc;
}

static void print_guide(bool existed) {
  printf("%s\n\n", existed ? "Demo data is already there (merchant m_demo); nothing changed."
                           : "Created merchant m_demo (Demo Coffee, IDR) with store Main Street, till DEMO-TILL-0001,\n"
                             "platform staff, merchant staff of every role and 3 members.");
  printf("Every demo account's password is: %s\n\n", DEMO_PASSWORD);
  printf("  platform staff:  admin|finance|ops|support|viewer @mps.local    POST /admin/login\n");
  printf("  merchant staff:  owner|manager|clerk|finance|ops|viewer @demo.mps  POST /merchant/login\n");
  printf("  members:         +628111000001 .. +628111000003 at m_demo         POST /api/auth/member/request-code, then /api/auth/member/login\n\n");
  printf("  curl -s localhost:8080/merchant/login -H 'Content-Type: application/json' \\\n"
         "       -d '{\"email\":\"owner@demo.mps\",\"password\":\"%s\"}'\n", DEMO_PASSWORD);
}

int cmd_seed_demo(struct ctl *ctl) {
  if (ctl->cfg.mode == MPS_MODE_PRODUCTION) {
    fprintf(stderr, "mpsctl seed-demo: refused in production mode (demo accounts share a known password)\n");
    return 2;
  }
  struct seed s = {0};
  if (password_hash(DEMO_PASSWORD, s.hash) != 0) {
    fprintf(stderr, "mpsctl seed-demo: out of memory hashing the password\n");
    return 2;
  }
  db_conn *c = ctl_open_store_migrated(ctl);
  if (!c) return 2;
  int rc = ctl_in_transaction(c, seed_fn, &s);
  db_close(c);
  if (rc == 0) print_guide(s.existed);
  return rc;
}
