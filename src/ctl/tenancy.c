/* tenancy.c — mpsctl merchant onboard, mpsctl user create / rotate-password, and
 * mpsctl seed-demo. They call the same services as the API, as the "system" actor, so
 * every change is validated and audited exactly like an API call. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "service/merchants.h"
#include "service/users.h"

static int onboard_fn(db_conn *c, void *arg, struct svc_error *err) {
  struct merchant_input *in = arg;
  struct actor a = {.request_id = "cli"};
  struct merchant m;
  int rc = merchant_create(c, &a, in, &m, err);
  if (rc == SVC_OK) {
    printf("merchant %s \"%s\" %s %s %s\n", m.id, m.name, m.currency, m.time_zone, m.status);
  }
  return rc;
}

int cmd_merchant(struct ctl *ctl) {
  if (ctl->argc < 1 || strcmp(ctl->argv[0], "onboard") != 0) {
    fprintf(stderr, "usage: mpsctl merchant onboard --id ID --name NAME [--currency USD] [--time-zone UTC]\n");
    return 2;
  }
  struct merchant_input in = {.id = ctl_flag(ctl, "id"), .name = ctl_flag(ctl, "name"),
                              .currency = ctl_flag(ctl, "currency") ? ctl_flag(ctl, "currency") : "USD",
                              .time_zone = ctl_flag(ctl, "time-zone") ? ctl_flag(ctl, "time-zone") : "UTC",
                              .status = "ACTIVE"};
  if (!in.id || !in.name) {
    fprintf(stderr, "mpsctl merchant onboard: --id and --name are required\n");
    return 2;
  }
  db_conn *c = ctl_open_store_migrated(ctl);
  if (!c) return 2;
  int rc = ctl_in_transaction(c, onboard_fn, &in);
  db_close(c);
  return rc;
}

/* A password from --password or MPS_NEW_PASSWORD; otherwise a generated one (printed). */
static const char *password_for(const struct ctl *ctl, char *generated, size_t len, bool *was_generated) {
  const char *p = ctl_flag(ctl, "password");
  if (!p) p = getenv("MPS_NEW_PASSWORD");
  *was_generated = false;
  if (p && *p) return p;
  unsigned char raw[12];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(generated, len, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  *was_generated = true;
  return generated;
}

struct user_cmd {
  struct user_input in;
  bool rotate;
  const char *password;
  bool generated;
};

static int user_fn(db_conn *c, void *arg, struct svc_error *err) {
  struct user_cmd *u = arg;
  struct actor a = {.request_id = "cli"};
  struct user out;
  int rc;
  if (u->rotate) {
    struct user found;
    rc = user_find_by_email(c, u->in.kind, u->in.email, &found);
    if (rc < 0) return rc;
    if (rc == DB_DONE) return svc_fail(err, MPS_E_NOT_FOUND, NULL, "no %s user with email %s", u->in.kind, u->in.email);
    struct user_patch p = {.password_hash = u->in.password_hash};
    rc = user_update(c, &a, found.kind, found.merchant_id, found.id, &p, &out, err);
  } else {
    rc = user_create(c, &a, &u->in, &out, err);
  }
  if (rc != SVC_OK) return rc;
  printf("%s user %s <%s> role %s%s%s%s\n", out.kind, out.id, out.email, out.role,
         out.merchant_id[0] ? " merchant " : "", out.merchant_id, u->rotate ? " (password rotated; earlier tokens revoked)" : "");
  if (u->generated) printf("password: %s\n", u->password);
  return SVC_OK;
}

int cmd_user(struct ctl *ctl) {
  bool rotate = ctl_flag(ctl, "rotate-password") != NULL ||
                (ctl->argc >= 1 && strcmp(ctl->argv[0], "rotate-password") == 0);
  if (!rotate && (ctl->argc < 1 || strcmp(ctl->argv[0], "create") != 0)) {
    fprintf(stderr, "usage: mpsctl user create --kind platform|merchant --email E --role R [--merchant M] [--name N] [--password P]\n"
                    "       mpsctl user rotate-password --kind K --email E [--password P]   (or: user --rotate-password ...)\n");
    return 2;
  }
  struct user_cmd u = {.rotate = rotate};
  u.in.kind = ctl_flag(ctl, "kind");
  u.in.email = ctl_flag(ctl, "email");
  u.in.role = ctl_flag(ctl, "role");
  u.in.merchant_id = ctl_flag(ctl, "merchant");
  u.in.display_name = ctl_flag(ctl, "name") ? ctl_flag(ctl, "name") : u.in.email;
  if (!u.in.kind || !u.in.email || (!rotate && !u.in.role)) {
    fprintf(stderr, "mpsctl user: --kind, --email%s are required\n", rotate ? "" : " and --role");
    return 2;
  }
  char generated[32];
  u.password = password_for(ctl, generated, sizeof generated, &u.generated);
  const char *why = password_check_policy(u.password);
  if (why) {
    fprintf(stderr, "mpsctl user: the password %s\n", why);
    return 2;
  }
  char hash[PASSWORD_HASH_MAX];
  if (password_hash(u.password, hash) != 0) {
    fprintf(stderr, "mpsctl user: out of memory hashing the password\n");
    return 2;
  }
  u.in.password_hash = hash;
  db_conn *c = ctl_open_store_migrated(ctl);
  if (!c) return 2;
  int rc = ctl_in_transaction(c, user_fn, &u);
  db_close(c);
  return rc;
}
