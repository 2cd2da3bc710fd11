/* mpsd.c — the server: configuration, store migrations, the store executor, the HTTP
 * server, then wait for SIGTERM/SIGINT and shut down gracefully (in-flight requests
 * finish, the store queue drains, the database closes cleanly). */
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/roles.h"
#include "http/router.h"
#include "http/server.h"
#include "store/exec.h"
#include "store/migrate.h"
#include "worker/expiry.h"

/* METHOD, PATTERN, FILE, ROLES (kind:role,... or "public"), RATE CLASS: the routing and
 * permission table, for docs/rbac.md and the tests that check docs against it. */
static void print_routes(void) {
  static const char *rates[] = {"-", "login", "account", "admin_write", "callback"};
  size_t n = 0;
  const struct route *t = routes_table(&n);
  for (size_t i = 0; i < n; i++) {
    char roles[512];
    roles_describe(t[i].access, roles, sizeof roles);
    int rate = t[i].rate >= 0 && t[i].rate < 5 ? t[i].rate : 0;
    printf("%s\t%s\t%s\t%s\t%s\n", t[i].method, t[i].pattern, t[i].file, roles, rates[rate]);
  }
}

static int migrate_at_start(const struct mps_config *cfg) {
  char err[512] = "";
  db_conn *c = db_open(cfg->db_url, err, sizeof err);
  if (!c) {
    log_error("cannot open the store: %s", err);
    return -1;
  }
  int applied = 0;
  int rc = migrate_apply(c, &applied, err, sizeof err);
  db_close(c);
  if (rc != DB_OK) {
    log_error("migrations failed: %s", err);
    return -1;
  }
  if (applied) log_info("applied %d migration(s)", applied);
  return 0;
}

static void ensure_jwt_secret(struct mps_config *cfg) {
  if (cfg->jwt_secret[0]) return;
  /* development only (production refuses to start without one): a random secret means
   * every restart invalidates every token, which is what a developer wants to notice */
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(cfg->jwt_secret, sizeof cfg->jwt_secret, raw, sizeof raw);
  log_warn("MPS_JWT_SECRET is not set: using a random development secret; tokens will not "
           "survive a restart. Set MPS_JWT_SECRET (32+ bytes) for anything but development.");
}

static int serve(struct app *app) {
  char err[512] = "";
  struct db_exec_config ec = {.url = app->cfg.db_url, .readers = app->cfg.db_readers,
                              .pool_size = app->cfg.db_pool_size, .read_batch = app->cfg.db_read_batch,
                              .write_group = app->cfg.db_write_group,
                              .batch_max = app->cfg.db_batch_max,
                              .wal_restart_frames = app->cfg.db_wal_frames,
                              .queue_max = app->cfg.db_queue_max,
                              .inline_readers = app->cfg.http_threads}; /* one per HTTP thread */
  app->exec = db_exec_start(&ec, err, sizeof err);
  if (!app->exec) {
    log_error("cannot start the store executor: %s", err);
    return 1;
  }
  app->routes = routes_table(&app->route_count);
  app->started_ms = clock_now_ms();
  if (server_start(app, err, sizeof err) != 0) {
    log_error("%s", err);
    db_exec_stop(app->exec);
    return 1;
  }
  if (app->cfg.expiry_sweep_interval_s > 0) { /* stopped by server_shutdown, before the executor */
    struct expiry_worker *w = expiry_worker_start(app->exec, app->cfg.expiry_sweep_interval_s, err, sizeof err);
    if (!w || server_on_stop(app, expiry_worker_stop, w) != 0) {
      log_error("%s", w ? "too many stop hooks" : err);
      expiry_worker_stop(w);
      server_shutdown(app);
      return 1;
    }
  }
  struct log_line l;
  log_begin(&l, LOG_INFO, "listening");
  log_str(&l, "address", app->cfg.listen_addr);
  log_int(&l, "port", app->port);
  log_str(&l, "store", config_db_is_postgres(&app->cfg) ? "postgres" : "sqlite");
  log_str(&l, "mode", app->cfg.mode == MPS_MODE_PRODUCTION ? "production" : "development");
  log_str(&l, "version", MPS_VERSION);
  log_end(&l);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  if (sigwait(&set, &sig) != 0) sig = SIGTERM;
  log_info("received %s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server_shutdown(app); /* also stops the store executor */
  log_info("stopped cleanly");
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--routes") == 0) {
      print_routes();
      return 0;
    }
  }
  /* Block the stop signals before any thread starts so only sigwait() sees them. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (sodium_init() < 0) {
    fprintf(stderr, "mpsd: libsodium failed to initialise\n");
    return 1;
  }
  static struct app app;
  char err[512] = "";
  int rest_count = 0;
  int rc = config_load(&app.cfg, CONFIG_SERVER, argc, argv, NULL, &rest_count, err, sizeof err);
  if (rc == 1) return 0;
  if (rc == 0 && rest_count > 0) {
    snprintf(err, sizeof err, "unexpected argument (mpsd takes only --options; see --help)");
    rc = -1;
  }
  if (rc != 0) { /* a JSON log line like every other, and exit code 2 */
    struct log_line l;
    log_begin(&l, LOG_ERROR, "configuration error");
    log_str(&l, "detail", err);
    log_end(&l);
    return 2;
  }
  log_set_level((enum log_level)app.cfg.log_level);
  ensure_jwt_secret(&app.cfg);
  if (migrate_at_start(&app.cfg) != 0) return 1;
  return serve(&app);
}
