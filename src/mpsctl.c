/* mpsctl.c — the admin command. One row per command in `commands`; each takes the same
 * store options as mpsd (--db-url, --data-dir or their MPS_* variables).
 *   mpsctl migrate          apply pending migrations
 *   mpsctl db-check         schema version and store health (exit 1 when not healthy)
 *   mpsctl errors           the error-code registry as a Markdown table
 *   mpsctl config           the configuration table as Markdown
 *   mpsctl audit verify     recompute the audit log's hash chains (exit 1 on any problem)
 *   mpsctl verify           recompute the books from the journal, check every money invariant
 *                           and the audit chains (exit 1 on violations, 2 on store errors) */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "ctl/ctl.h"
#include "common/config.h"
#include "common/errors.h"
#include "common/log.h"
#include "service/audit.h"
#include "store/db.h"
#include "store/migrate.h"

static db_conn *open_store(const struct ctl *ctl) { return ctl_open_store(ctl); }

static int cmd_migrate(struct ctl *ctl) {
  db_conn *c = open_store(ctl);
  if (!c) return 1;
  char err[512] = "";
  int applied = 0;
  int rc = migrate_apply(c, &applied, err, sizeof err);
  struct migrate_status st = {0};
  if (rc == DB_OK) rc = migrate_status_get(c, &st, err, sizeof err);
  db_close(c);
  if (rc != DB_OK) {
    fprintf(stderr, "mpsctl: migrate failed: %s\n", err);
    return 1;
  }
  printf("applied %d migration(s); schema version %d\n", applied, st.current);
  return 0;
}

static int cmd_db_check(struct ctl *ctl) {
  db_conn *c = open_store(ctl);
  if (!c) return 1;
  char err[512] = "";
  int ping = db_ping(c);
  struct migrate_status st = {0};
  int rc = migrate_status_get(c, &st, err, sizeof err);
  printf("store:          %s\n", db_conn_kind(c) == DB_SQLITE ? "sqlite" : "postgres");
  printf("server:         %s\n", db_server_version(c));
  printf("round trip:     %s\n", ping == DB_OK ? "ok" : db_errmsg(c));
  if (rc == DB_OK) {
    printf("schema version: %d (this build knows %d)\n", st.current, st.latest);
    printf("pending:        %d\n", st.pending);
    if (st.unknown) printf("unknown:        %d (applied by a newer build)\n", st.unknown);
  } else {
    printf("schema:         error: %s\n", err);
  }
  db_close(c);
  bool healthy = ping == DB_OK && rc == DB_OK && st.pending == 0 && st.unknown == 0;
  printf("status:         %s\n", healthy ? "healthy" : "NOT healthy");
  return healthy ? 0 : 1;
}

static int cmd_errors(struct ctl *ctl) {
  (void)ctl;
  printf("| code | HTTP status | meaning |\n|---|---|---|\n");
  for (int e = 0; e < MPS_E_COUNT_; e++) {
    const struct mps_error_info *info = mps_error((enum mps_err)e);
    printf("| `%s` | %d | %s |\n", info->code, info->http_status, info->description);
  }
  return 0;
}

static int cmd_config(struct ctl *ctl) {
  (void)ctl;
  config_print_markdown(stdout);
  return 0;
}

/* audit verify: 0 when every chain checks out, 1 on any problem, 2 on store errors. */
static int cmd_audit(struct ctl *ctl) {
  if (ctl->argc != 1 || strcmp(ctl->argv[0], "verify") != 0) {
    fprintf(stderr, "usage: mpsctl audit verify [--db-url URL] [--data-dir DIR]\n");
    return 2;
  }
  db_conn *c = open_store(ctl);
  if (!c) return 2;
  struct audit_verify_report rep = {0};
  int rc = db_begin(c); /* one snapshot for the walk and the head checks */
  if (rc == DB_OK) rc = audit_verify(c, &rep);
  if (rc != DB_OK) {
    fprintf(stderr, "mpsctl: audit verify: store error: %s\n", db_errmsg(c));
    db_rollback(c);
    db_close(c);
    return 2;
  }
  db_rollback(c);
  db_close(c);
  printf("chains checked:  %lld\n", (long long)rep.chains);
  printf("entries checked: %lld\n", (long long)rep.entries);
  printf("problems:        %lld\n", (long long)rep.problems);
  if (rep.problems > 0) printf("first problem:   %s\n", rep.first_problem);
  printf("status:          %s\n", rep.problems ? "TAMPERED (the audit log does not verify)" : "ok");
  return rep.problems ? 1 : 0;
}

struct command {
  const char *name;
  int (*run)(struct ctl *ctl);
  bool needs_store;
  const char *help;
};

static const struct command commands[] = {
    {"migrate", cmd_migrate, true, "apply pending schema migrations"},
    {"db-check", cmd_db_check, true, "report schema version and store health (exit 1 if not healthy)"},
    {"errors", cmd_errors, false, "print the error-code registry (Markdown)"},
    {"config", cmd_config, false, "print the configuration table (Markdown)"},
    {"merchant", cmd_merchant, true, "merchant onboard --id ID --name NAME [--currency C] [--time-zone TZ]"},
    {"seed-demo", cmd_seed_demo, true, "create a demo merchant, staff of every role and members (not in production)"},
    {"user", cmd_user, true, "user create --kind platform|merchant --email E --role R [--merchant M]; user rotate-password --kind K --email E"},
    {"audit", cmd_audit, true, "audit verify: recompute every audit hash chain (exit 1 on any problem)"},
    {"verify", cmd_verify, true, "recompute every balance from the journal and check every money invariant (exit 1 on violations)"},
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  fprintf(out, "usage: mpsctl COMMAND [args] [--db-url URL] [--data-dir DIR]\n\ncommands:\n");
  for (size_t i = 0; i < COMMAND_COUNT; i++) {
    fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
  }
  fprintf(out, "\nStore options are read from MPS_DB_URL / MPS_DATA_DIR like mpsd's.\n");
}

int main(int argc, char **argv) {
  if (sodium_init() < 0) {
    fprintf(stderr, "mpsctl: libsodium failed to initialise\n");
    return 1;
  }
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("mpsctl %s (%s)\n", MPS_VERSION, MPS_REVISION);
    return 0;
  }
  const struct command *cmd = NULL;
  for (size_t i = 0; i < COMMAND_COUNT; i++) {
    if (strcmp(argv[1], commands[i].name) == 0) cmd = &commands[i];
  }
  if (!cmd) {
    fprintf(stderr, "mpsctl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
  }
  static struct ctl ctl;
  if (!cmd->needs_store) return cmd->run(&ctl);
  static int rest[64];
  int rest_count = 0;
  char err[512] = "";
  if (argc - 1 > 64) {
    fprintf(stderr, "mpsctl: too many arguments\n");
    return 2;
  }
  static char *store_argv[64];
  int store_argc = 0;
  for (int i = 1; i < argc; i++) { /* command flags out, store options through */
    bool is_switch = false;
    const char *a = argv[i];
    if (strncmp(a, "--", 2) == 0 && ctl_is_command_flag(a + 2, &is_switch)) {
      if (ctl.flag_count == CTL_MAX_FLAGS || (!is_switch && i + 1 >= argc)) {
        fprintf(stderr, "mpsctl: option %s needs a value\n", a);
        return 2;
      }
      ctl.flag_names[ctl.flag_count] = a + 2;
      ctl.flag_values[ctl.flag_count++] = is_switch ? "" : argv[++i];
      continue;
    }
    store_argv[store_argc++] = argv[i];
  }
  int rc = config_load(&ctl.cfg, CONFIG_CTL, store_argc, store_argv, rest, &rest_count, err, sizeof err);
  if (rc == 1) return 0;
  if (rc != 0) {
    fprintf(stderr, "mpsctl: %s\n", err);
    return 2;
  }
  static char *positional[64];
  for (int i = 0; i < rest_count; i++) positional[i] = store_argv[rest[i]];
  ctl.argc = rest_count;
  ctl.argv = positional;
  log_set_level((enum log_level)ctl.cfg.log_level);
  return cmd->run(&ctl);
}
