/* config.c — the option table, parsing and validation behind config.h. */
#include "common/config.h"

#include <assert.h>
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_info.h"
#include "common/log.h"

enum opt_type { OPT_STR, OPT_INT, OPT_ENUM, OPT_SECRET };

struct opt {
  const char *flag; /* without the leading -- */
  const char *env;
  enum opt_type type;
  size_t offset;
  size_t size; /* for strings: the buffer size */
  const char *def;
  long min, max;        /* OPT_INT bounds */
  const char *choices;  /* OPT_ENUM: '|' separated, index is the stored value */
  unsigned use;         /* CONFIG_SERVER | CONFIG_CTL */
  const char *help;
};

#define S(field) offsetof(struct mps_config, field), sizeof(((struct mps_config *)0)->field)
#define BOTH (CONFIG_SERVER | CONFIG_CTL)
#define SRV CONFIG_SERVER

static const struct opt opts[] = {
    {"listen", "MPS_LISTEN_ADDR", OPT_STR, S(listen_addr), "127.0.0.1", 0, 0, NULL, SRV,
     "IPv4 address to listen on (0.0.0.0 for every interface)."},
    {"port", "MPS_PORT", OPT_INT, S(port), "8080", 0, 65535, NULL, SRV,
     "TCP port; 0 picks a free port (printed in the 'listening' log line)."},
    {"data-dir", "MPS_DATA_DIR", OPT_STR, S(data_dir), "./data", 0, 0, NULL, BOTH,
     "Directory for the SQLite database and exports; created when missing, must be writable."},
    {"db-url", "MPS_DB_URL", OPT_STR, S(db_url), "", 0, 0, NULL, BOTH,
     "Store: sqlite:PATH or postgres://user@host:port/db. Empty: sqlite:DATA_DIR/mps.db."},
    {"mode", "MPS_MODE", OPT_ENUM, S(mode), "development", 0, 0, "development|production", BOTH,
     "production requires MPS_JWT_SECRET and refuses development shortcuts."},
    {"http-threads", "MPS_HTTP_THREADS", OPT_INT, S(http_threads), "0", 0, 64, NULL, SRV,
     "HTTP event threads (epoll, one per core is plenty); 0 = number of cores."},
    {"max-connections", "MPS_MAX_CONNECTIONS", OPT_INT, S(max_connections), "1024", 1, 100000,
     NULL, SRV, "Most simultaneous client connections."},
    {"max-body-bytes", "MPS_MAX_BODY_BYTES", OPT_INT, S(max_body_bytes), "1048576", 1024,
     67108864, NULL, SRV, "Largest request body; larger ones get 413."},
    {"connection-timeout", "MPS_CONNECTION_TIMEOUT_S", OPT_INT, S(connection_timeout_s), "30", 1,
     3600, NULL, SRV, "Seconds a connection may stay idle or half-sent before it is closed."},
    {"shutdown-timeout", "MPS_SHUTDOWN_TIMEOUT_S", OPT_INT, S(shutdown_timeout_s), "20", 1, 600,
     NULL, SRV, "Seconds to let in-flight requests finish after SIGTERM/SIGINT."},
    {"db-readers", "MPS_DB_READERS", OPT_INT, S(db_readers), "4", 1, 64, NULL, SRV,
     "Reader threads, each with its own connection, for every READ job (on PostgreSQL beside the pool)."},
    {"db-read-batch", "MPS_DB_READ_BATCH", OPT_INT, S(db_read_batch), "8", 1, 8, NULL, SRV,
     "PostgreSQL: most queued READ jobs a reader thread sends in one round trip (1 = one at a time)."},
    {"db-write-group", "MPS_DB_WRITE_GROUP", OPT_INT, S(db_write_group), "32", 1, 32, NULL, SRV,
     "PostgreSQL: most queued wallet payments of different members a pool connection runs in one transaction (1 = each alone)."},
    {"db-pool-size", "MPS_DB_POOL_SIZE", OPT_INT, S(db_pool_size), "0", 0, 256, NULL, SRV,
     "PostgreSQL: connections (one thread each) for WRITE jobs; 0 = the cores, 2 to 16 (D64, D68)."},
    {"db-batch-max", "MPS_DB_BATCH_MAX", OPT_INT, S(db_batch_max), "64", 1, 1024, NULL, SRV,
     "SQLite: most write jobs committed together in one group transaction (one fsync)."},
    {"db-wal-frames", "MPS_DB_WAL_FRAMES", OPT_INT, S(db_wal_frames), "16384", 64, 1048576, NULL, SRV,
     "SQLite: WAL pages (4 KB each) before the writer lets the WAL start over (D48)."},
    {"db-queue-max", "MPS_DB_QUEUE_MAX", OPT_INT, S(db_queue_max), "10000", 1, 1000000, NULL, SRV,
     "Most store jobs waiting; beyond it requests get 503 OVERLOADED."},
    {"log-level", "MPS_LOG_LEVEL", OPT_ENUM, S(log_level), "info", 0, 0, "debug|info|warn|error",
     BOTH, "Least severe level written to the JSON log on stderr."},
    {"jwt-secret", "MPS_JWT_SECRET", OPT_SECRET, S(jwt_secret), "", 0, 0, NULL, SRV,
     "HS256 signing secret, at least 32 bytes; required in production mode."},
    {"jwt-ttl", "MPS_JWT_TTL_S", OPT_INT, S(jwt_ttl_s), "43200", 60, 2592000, NULL, SRV,
     "Lifetime of staff and member tokens, seconds (default 12 h)."},
    {"dev-mode", "MPS_DEV_MODE", OPT_INT, S(dev_mode), "0", 0, 1, NULL, SRV,
     "1 enables POST /api/auth/mock-login (demos and tests); refused in production mode."},
    {"onboard-secret", "MPS_ONBOARD_SECRET", OPT_SECRET, S(onboard_secret), "", 0, 0, NULL, SRV,
     "When set, POST /api/merchant/onboard requires it in the x-onboard-secret header."},
    {"login-code-ttl", "MPS_LOGIN_CODE_TTL_S", OPT_INT, S(login_code_ttl_s), "300", 1, 3600, NULL,
     SRV, "Seconds a member's one-time login code stays valid."},
    {"rate-login", "MPS_RATE_LOGIN_PER_MIN", OPT_INT, S(rate_login_per_min), "30", 0, 1000000,
     NULL, SRV, "Login and code requests per client IP per minute; 0 = unlimited."},
    {"rate-account", "MPS_RATE_ACCOUNT_PER_MIN", OPT_INT, S(rate_account_per_min), "10", 0,
     1000000, NULL, SRV, "Login attempts per account (email or phone) per minute; 0 = unlimited."},
    {"rate-admin-write", "MPS_RATE_ADMIN_WRITE_PER_MIN", OPT_INT, S(rate_admin_write_per_min),
     "600", 0, 1000000, NULL, SRV,
     "Administrative writes (users, merchants, stores...) per caller per minute; 0 = unlimited."},
    {"rate-callback", "MPS_RATE_CALLBACK_PER_MIN", OPT_INT, S(rate_callback_per_min), "6000", 0,
     1000000, NULL, SRV, "Public callback and onboarding requests per client IP per minute."},
    {"platform-fee-bps", "MPS_PLATFORM_FEE_BPS", OPT_INT, S(platform_fee_bps), "0", 0, 10000, NULL,
     SRV, "Platform fee on every paid order, basis points (60 = 0.60%); merchants may override."},
    {"payment-pending-ttl", "MPS_PAYMENT_PENDING_TTL_S", OPT_INT, S(payment_pending_ttl_s), "900",
     1, 86400, NULL, SRV,
     "Seconds a payment waits for its external part before it expires and its holds return."},
    {"payment-callback-secret", "MPS_PAYMENT_CALLBACK_SECRET", OPT_SECRET,
     S(payment_callback_secret), "", 0, 0, NULL, SRV,
     "HMAC-SHA256 secret(s) of gateway callbacks; several, comma-separated, during rotation. "
     "Required in production mode."},
    {"expiry-sweep-interval", "MPS_EXPIRY_SWEEP_INTERVAL_S", OPT_INT, S(expiry_sweep_interval_s),
     "5", 0, 3600, NULL, SRV, "Seconds between sweeps that expire overdue pending payments; 0 = off."},
};
#define OPT_COUNT (sizeof opts / sizeof opts[0])

static int set_value(struct mps_config *cfg, const struct opt *o, const char *value, char *err,
                     size_t err_len) {
  char *field = (char *)cfg + o->offset;
  if (o->type == OPT_STR || o->type == OPT_SECRET) {
    size_t n = strlen(value);
    if (n >= o->size) {
      snprintf(err, err_len, "%s (--%s): value longer than %zu bytes", o->env, o->flag, o->size - 1);
      return -1;
    }
    memcpy(field, value, n + 1);
    return 0;
  }
  if (o->type == OPT_INT) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || v < o->min || v > o->max) {
      snprintf(err, err_len, "%s (--%s): '%s' is not a whole number from %ld to %ld", o->env,
               o->flag, value, o->min, o->max);
      return -1;
    }
    *(int *)field = (int)v;
    return 0;
  }
  assert(o->type == OPT_ENUM);
  const char *p = o->choices;
  for (int idx = 0; p && *p && idx < 16; idx++) {
    size_t len = strcspn(p, "|");
    if (strlen(value) == len && strncmp(p, value, len) == 0) {
      *(int *)field = idx;
      return 0;
    }
    p += len + (p[len] == '|');
  }
  snprintf(err, err_len, "%s (--%s): '%s' is not one of %s", o->env, o->flag, value, o->choices);
  return -1;
}

static const struct opt *find_flag(const char *name, size_t len) {
  for (size_t i = 0; i < OPT_COUNT; i++) {
    if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0) return &opts[i];
  }
  return NULL;
}

static int ensure_dir_writable(const char *dir, char *err, size_t err_len) {
  struct stat st;
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT || mkdir(dir, 0750) != 0) {
      snprintf(err, err_len, "MPS_DATA_DIR (--data-dir): cannot create '%s': %s", dir,
               strerror(errno));
      return -1;
    }
  } else if (!S_ISDIR(st.st_mode)) {
    snprintf(err, err_len, "MPS_DATA_DIR (--data-dir): '%s' is not a directory", dir);
    return -1;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    snprintf(err, err_len, "MPS_DATA_DIR (--data-dir): '%s' is not writable: %s", dir,
             strerror(errno));
    return -1;
  }
  return 0;
}

static int check_db_url(struct mps_config *cfg, char *err, size_t err_len) {
  if (cfg->db_url[0] == '\0') {
    int n = snprintf(cfg->db_url, sizeof cfg->db_url, "sqlite:%s/mps.db", cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof cfg->db_url) {
      snprintf(err, err_len, "MPS_DATA_DIR (--data-dir): path too long");
      return -1;
    }
    return 0;
  }
  if (strncmp(cfg->db_url, "sqlite:", 7) == 0) {
    if (cfg->db_url[7] == '\0') {
      snprintf(err, err_len, "MPS_DB_URL (--db-url): 'sqlite:' needs a file path");
      return -1;
    }
    return 0;
  }
  if (config_db_is_postgres(cfg)) {
    char *perr = NULL;
    PQconninfoOption *info = PQconninfoParse(cfg->db_url, &perr);
    if (!info) {
      int n = snprintf(err, err_len, "MPS_DB_URL (--db-url): malformed PostgreSQL URL: %s",
                       perr ? perr : "out of memory");
      while (n > 0 && (size_t)n < err_len && err[n - 1] == '\n') err[--n] = '\0';
      PQfreemem(perr);
      return -1;
    }
    PQconninfoFree(info);
    return 0;
  }
  snprintf(err, err_len,
           "MPS_DB_URL (--db-url): '%s' is neither sqlite:PATH nor postgres://...", cfg->db_url);
  return -1;
}

int config_default_pool_size(void) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores < 2 ? 2 : cores > 16 ? 16 : (int)cores; /* D68 */
}

static int validate(struct mps_config *cfg, enum config_use use, char *err, size_t err_len) {
  if (use == CONFIG_SERVER) {
    unsigned char addr[4];
    int a, b, c, d;
    char tail;
    if (sscanf(cfg->listen_addr, "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) != 4 || a < 0 ||
        a > 255 || b < 0 || b > 255 || c < 0 || c > 255 || d < 0 || d > 255) {
      snprintf(err, err_len, "MPS_LISTEN_ADDR (--listen): '%s' is not an IPv4 address",
               cfg->listen_addr);
      return -1;
    }
    (void)addr;
    if (cfg->http_threads == 0) {
      long n = sysconf(_SC_NPROCESSORS_ONLN);
      cfg->http_threads = n < 1 ? 1 : (n > 64 ? 64 : (int)n);
    }
    if (cfg->db_pool_size == 0) cfg->db_pool_size = config_default_pool_size();
    size_t secret_len = strlen(cfg->jwt_secret);
    if (cfg->mode == MPS_MODE_PRODUCTION && secret_len == 0) {
      snprintf(err, err_len, "MPS_JWT_SECRET (--jwt-secret): required in production mode");
      return -1;
    }
    if (cfg->mode == MPS_MODE_PRODUCTION && cfg->dev_mode) {
      snprintf(err, err_len, "MPS_DEV_MODE (--dev-mode): not allowed in production mode");
      return -1;
    }
    if (cfg->mode == MPS_MODE_PRODUCTION && !cfg->payment_callback_secret[0]) {
      snprintf(err, err_len, "MPS_PAYMENT_CALLBACK_SECRET (--payment-callback-secret): required in production mode");
      return -1;
    }
    if (secret_len > 0 && secret_len < 32) {
      snprintf(err, err_len, "MPS_JWT_SECRET (--jwt-secret): must be at least 32 bytes");
      return -1;
    }
  }
  if (ensure_dir_writable(cfg->data_dir, err, err_len) != 0) return -1;
  return check_db_url(cfg, err, err_len);
}

int config_load(struct mps_config *cfg, enum config_use use, int argc, char **argv, int *rest,
                int *rest_count, char *err, size_t err_len) {
  memset(cfg, 0, sizeof *cfg);
  int nrest = 0;
  for (size_t i = 0; i < OPT_COUNT; i++) {
    const char *env = getenv(opts[i].env);
    const char *v = (env && *env) ? env : opts[i].def;
    if (set_value(cfg, &opts[i], v, err, err_len) != 0) return -1;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      config_print_help(stdout, argv[0]);
      return 1;
    }
    if (strcmp(a, "--version") == 0) {
      printf("%s %s (%s)\n", argv[0], MPS_VERSION, MPS_REVISION);
      return 1;
    }
    if (strncmp(a, "--", 2) != 0) {
      if (rest) rest[nrest] = i;
      nrest++;
      continue;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct opt *o = find_flag(name, len);
    if (!o || !(o->use & use)) {
      snprintf(err, err_len, "unknown option '%s' (see --help)", a);
      return -1;
    }
    const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!value) {
      snprintf(err, err_len, "option --%s needs a value", o->flag);
      return -1;
    }
    if (set_value(cfg, o, value, err, err_len) != 0) return -1;
  }
  if (rest_count) *rest_count = nrest;
  return validate(cfg, use, err, err_len);
}

bool config_db_is_postgres(const struct mps_config *cfg) {
  return strncmp(cfg->db_url, "postgres://", 11) == 0 ||
         strncmp(cfg->db_url, "postgresql://", 13) == 0;
}

void config_print_help(FILE *out, const char *program) {
  fprintf(out, "usage: %s [options]\n\nEvery option can also be set by its environment variable; "
               "flags win.\n\n", program);
  for (size_t i = 0; i < OPT_COUNT; i++) {
    const struct opt *o = &opts[i];
    fprintf(out, "  --%-20s %-26s default: %s\n      %s\n", o->flag, o->env,
            o->def[0] ? o->def : "(empty)", o->help);
  }
  fprintf(out, "  --help, --version\n");
}

void config_print_markdown(FILE *out) {
  fprintf(out, "| environment | flag | default | meaning |\n|---|---|---|---|\n");
  for (size_t i = 0; i < OPT_COUNT; i++) {
    const struct opt *o = &opts[i];
    fprintf(out, "| `%s` | `--%s` | `%s` | %s |\n", o->env, o->flag, o->def[0] ? o->def : "", o->help);
  }
}
