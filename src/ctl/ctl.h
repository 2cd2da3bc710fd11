/* ctl.h — what mpsctl commands share: the parsed invocation (configuration, positional
 * arguments, command flags), opening the store, and running a service call in one
 * write transaction as the "system" actor. */
#ifndef MPS_CTL_CTL_H
#define MPS_CTL_CTL_H

#include <stdbool.h>

#include "common/config.h"
#include "service/service.h"
#include "store/db.h"

#define CTL_MAX_FLAGS 16

struct ctl {
  struct mps_config cfg;
  int argc; /* positional arguments after the command name */
  char **argv;
  int flag_count;
  const char *flag_names[CTL_MAX_FLAGS];
  const char *flag_values[CTL_MAX_FLAGS]; /* "" for switches like --rotate-password */
};

/* Flags that belong to commands (not to the store configuration). */
bool ctl_is_command_flag(const char *name, bool *is_switch);
const char *ctl_flag(const struct ctl *ctl, const char *name);

db_conn *ctl_open_store(const struct ctl *ctl);
/* The same for commands that write: pending migrations are applied first, as mpsd does at
 * start-up, so `mpsctl seed-demo` or `user create` work on a brand-new data directory. */
db_conn *ctl_open_store_migrated(const struct ctl *ctl);
/* Run fn in a write transaction; commit on SVC_OK, roll back otherwise; print the error.
 * Returns 0 on success, 1 on a refusal, 2 on a store error. */
int ctl_in_transaction(db_conn *c, int (*fn)(db_conn *c, void *arg, struct svc_error *err),
                       void *arg);

/* Commands (ctl/tenancy.c). */
int cmd_merchant(struct ctl *ctl);
int cmd_user(struct ctl *ctl);
int cmd_seed_demo(struct ctl *ctl);
/* ctl/verify.c */
int cmd_verify(struct ctl *ctl);

#endif
