/* ctl.c — shared plumbing of mpsctl commands (see ctl.h). */
#include "ctl/ctl.h"

#include "store/migrate.h"

#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  bool is_switch;
} command_flags[] = {
    {"kind", false},     {"email", false},    {"role", false},     {"merchant", false},
    {"name", false},     {"password", false}, {"id", false},       {"currency", false},
    {"time-zone", false}, {"rotate-password", true}, {"display-name", false},
};

bool ctl_is_command_flag(const char *name, bool *is_switch) {
  for (size_t i = 0; i < sizeof command_flags / sizeof command_flags[0]; i++) {
    if (strcmp(command_flags[i].name, name) == 0) {
      *is_switch = command_flags[i].is_switch;
      return true;
    }
  }
  return false;
}

const char *ctl_flag(const struct ctl *ctl, const char *name) {
  for (int i = 0; i < ctl->flag_count; i++) {
    if (strcmp(ctl->flag_names[i], name) == 0) return ctl->flag_values[i];
  }
  return NULL;
}

db_conn *ctl_open_store(const struct ctl *ctl) {
  char err[512] = "";
  db_conn *c = db_open(ctl->cfg.db_url, err, sizeof err);
  if (!c) fprintf(stderr, "mpsctl: cannot open the store: %s\n", err);
  return c;
}

db_conn *ctl_open_store_migrated(const struct ctl *ctl) {
  db_conn *c = ctl_open_store(ctl);
  if (!c) return NULL;
  char err[512] = "";
  int applied = 0;
  if (migrate_apply(c, &applied, err, sizeof err) != DB_OK) {
    fprintf(stderr, "mpsctl: migrations failed: %s\n", err);
    db_close(c);
    return NULL;
  }
  if (applied) fprintf(stderr, "mpsctl: applied %d migration(s)\n", applied);
  return c;
}

int ctl_in_transaction(db_conn *c, int (*fn)(db_conn *c, void *arg, struct svc_error *err),
                       void *arg) {
  if (db_begin_write(c) != DB_OK) {
    fprintf(stderr, "mpsctl: cannot begin a transaction: %s\n", db_errmsg(c));
    return 2;
  }
  struct svc_error err = {0};
  int rc = fn(c, arg, &err);
  if (rc == SVC_OK && db_commit(c) == DB_OK) return 0;
  db_rollback(c);
  if (rc == SVC_OK || rc < 0) {
    fprintf(stderr, "mpsctl: store error: %s\n", db_errmsg(c));
    svc_error_clear(&err);
    return 2;
  }
  fprintf(stderr, "mpsctl: %s: %s\n", mps_error(err.code)->code, err.message);
  svc_error_clear(&err);
  return 1;
}
