/* config.h — mpsd/mpsctl configuration: every option is one row of a table in config.c
 * with its environment variable (MPS_*), its flag (--name), default, bounds and help.
 * Flags override the environment, which overrides the defaults. Bad values stop start-up
 * with a message naming the option. docs/configuration.md is checked against this table. */
#ifndef MPS_COMMON_CONFIG_H
#define MPS_COMMON_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

enum mps_mode { MPS_MODE_DEVELOPMENT = 0, MPS_MODE_PRODUCTION = 1 };

struct mps_config {
  char listen_addr[64];
  int port;
  char data_dir[512];
  char db_url[1024];
  int mode; /* enum mps_mode */
  int http_threads;
  int max_connections;
  int max_body_bytes;
  int connection_timeout_s;
  int shutdown_timeout_s;
  int db_readers;
  int db_read_batch;
  int db_write_group;
  int db_pool_size;
  int db_batch_max;
  int db_wal_frames;
  int db_queue_max;
  int log_level; /* enum log_level */
  char jwt_secret[256];
  int jwt_ttl_s;
  int dev_mode;
  char onboard_secret[256];
  int login_code_ttl_s;
  int rate_login_per_min;
  int rate_account_per_min;
  int rate_admin_write_per_min;
  int rate_callback_per_min;
  int platform_fee_bps;
  int payment_pending_ttl_s;
  char payment_callback_secret[512];
  int expiry_sweep_interval_s;
};

enum config_use { CONFIG_SERVER = 1, CONFIG_CTL = 2 };

/* Fills cfg from defaults, the environment and argv (flags only; non-flag arguments are
 * left in place and their indices returned through rest/rest_count when given).
 * Returns 0; 1 when --help or --version was handled (already printed); -1 on a bad value
 * with the message in err. */
int config_load(struct mps_config *cfg, enum config_use use, int argc, char **argv, int *rest,
                int *rest_count, char *err, size_t err_len);

/* The option table as text (for --help) and as a Markdown table (docs). */
void config_print_help(FILE *out, const char *program);
/* MPS_DB_POOL_SIZE's default (0): twice the online cores, 2 to 16 (D64). */
int config_default_pool_size(void);
void config_print_markdown(FILE *out);

/* True when the database URL selects PostgreSQL. */
bool config_db_is_postgres(const struct mps_config *cfg);

#endif
