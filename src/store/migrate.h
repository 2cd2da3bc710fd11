/* migrate.h — numbered schema migrations per dialect, recorded in schema_migrations.
 *
 * Migrations live as files src/store/migrations/<dialect>/NNNN_name.sql and are embedded
 * into the binary at build time (migrations_gen.c). Each is applied in its own
 * transaction together with its schema_migrations row, so a migration is all or nothing;
 * on PostgreSQL an advisory lock keeps two nodes from migrating at once. */
#ifndef MPS_STORE_MIGRATE_H
#define MPS_STORE_MIGRATE_H

#include <stddef.h>
#include "store/db.h"

struct migration {
  int version;
  const char *name;
  const char *sql;
};

/* The embedded list for a dialect, ordered by version; *count set. */
const struct migration *migrations_for(enum db_kind kind, size_t *count);

struct migrate_status {
  int current;   /* highest applied version, 0 when none */
  int latest;    /* highest version this binary knows */
  int pending;   /* known versions not applied */
  int unknown;   /* applied versions this binary does not know (a newer binary ran) */
};

/* Read-only: works inside a caller's transaction (e.g. a READ job) or outside one; a
 * missing schema_migrations table reads as "nothing applied". Returns DB_ERR (message in
 * err) when an applied migration differs from this binary's (edited after it was
 * applied); unknown versions are only counted. */
int migrate_status_get(db_conn *c, struct migrate_status *st, char *err, size_t err_len);
/* Apply every pending migration in order. *applied counts them. Refuses (DB_ERR) when the
 * database holds versions this binary does not know, or an edited migration. Runs its own
 * transactions, so call it outside any, on a plain db_open connection, before
 * db_exec_start. */
int migrate_apply(db_conn *c, int *applied, char *err, size_t err_len);

#endif
