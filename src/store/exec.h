/* exec.h — the store executor: how request work reaches the database without ever
 * running on an HTTP event thread.
 *
 * A caller fills a db_job and submits it; the HTTP layer suspends the connection and
 * resumes it from the job's done callback. Two shapes, one interface:
 *
 *   SQLite     one writer thread with one connection takes every queued WRITE job (up to
 *              batch_max) into ONE transaction (BEGIN IMMEDIATE), each job inside its own
 *              SAVEPOINT so a job stays all-or-nothing, then one COMMIT for the whole
 *              group (group commit). The COMMIT writes the WAL without waiting for the
 *              disk; a sync thread fdatasync()s the WAL (one sync covers every group
 *              committed before it started) while the writer runs the next group, and
 *              only then are the group's done callbacks run: nothing is acknowledged
 *              before it is durable (store/wal_sync.h).
 *              `readers` reader threads, each with its own connection (WAL lets readers
 *              run beside the writer), take READ jobs, each in a read transaction. A read
 *              that may have seen a commit not yet synced is answered after that sync:
 *              no reply shows what a crash of the machine could still undo.
 *   PostgreSQL `pool_size` threads, each with its own connection, take WRITE jobs from one
 *              queue and `readers` threads READ jobs from another (with no readers the pool
 *              takes both); each job is its own transaction. Fewer connections answer reads
 *              faster on a small machine (fewer processes to switch between), more let
 *              writes share PostgreSQL's commit flushes, and a read never waits behind a
 *              write (D54). A reader takes up to `read_batch` queued READ jobs at once and
 *              sends all their prefetched queries in one pipeline before running them (D60).
 *              With write_group > 1 a pool thread takes up to that many queued WRITE jobs that
 *              have group keys, all different, into one transaction (D62): every job's
 *              prefetch, then every job, then one COMMIT; if any job does not commit, the
 *              group is rolled back and each job runs again alone.
 *
 * A job's run() may be called more than once (a DB_BUSY result is retried up to
 * 3 times after a rollback), so it must rebuild its outputs from scratch each call. */
#ifndef MPS_STORE_EXEC_H
#define MPS_STORE_EXEC_H

#include <stdint.h>
#include "store/db.h"

enum db_job_mode { DB_JOB_READ = 1, DB_JOB_WRITE = 2 };

/* What run() returns. */
enum db_job_result {
  DB_JOB_COMMIT = 0,   /* keep the writes */
  DB_JOB_ROLLBACK = 1, /* business rejection: discard the writes, the reply is already set */
  /* < 0: a db_rc store failure: writes discarded */
};

typedef struct db_job db_job;
struct db_job {
  enum db_job_mode mode;
  /* Optional: called first, in the job's transaction, and may only db_prefetch what run()
   * will ask for. A PostgreSQL reader calls the prefetches of up to read_batch queued READ
   * jobs before running them, so their queries share one round trip. */
  int (*prefetch)(db_conn *c, void *arg);
  int (*run)(db_conn *c, void *arg);
  /* Called on the store thread when the job is final. job->status tells how it ended:
   * DB_JOB_COMMIT (its writes are durable), DB_JOB_ROLLBACK (as run asked), or < 0 (a
   * store failure, from run or from the group's COMMIT: nothing of it was written).
   * Must be quick and must not submit jobs synchronously. May be NULL. */
  void (*done)(db_job *job);
  void *arg;
  /* Optional, PostgreSQL with write_group > 1: a WRITE job with a key may share its
   * transaction with other queued keyed jobs whose keys differ. The key names what the job
   * reads through its prefetch and writes, that no other job of its group may write (a wallet
   * payment: its member, whose accounts and vouchers it locks and changes); what several jobs
   * of a group change, they pass on with db_group_memo_set. NULL: the job runs alone. The
   * string must live until done(). */
  const char *group_key;
  /* With group_key: the jobs it may share a transaction with have the same group_with (a
   * wallet payment: its merchant, so a group has one audit chain head and one set of the
   * merchant's lane rows, D62). NULL matches only NULL. */
  const char *group_with;
  int status;           /* set by the executor before done() */
  int64_t enqueued_ns;  /* set by the executor */
  db_job *next;         /* internal: queue link */
  uint64_t durable_seq; /* internal: the group commit the job waits to be synced */
  int64_t committed_ns; /* internal: when its group's COMMIT returned (SQLite) */
};

struct db_exec_config {
  const char *url;        /* as db_open */
  int readers;            /* reader threads: SQLite 1..64, PostgreSQL 0..64 (0: the pool reads) */
  int pool_size;          /* PostgreSQL connections (1..256) */
  int batch_max;          /* SQLite: most WRITE jobs per group transaction (1..1024) */
  int queue_max;          /* most queued jobs before submit refuses (1..1000000) */
  int inline_readers;     /* SQLite: read connections lent to db_exec_run_inline (0..64; 0 = none) */
  int read_batch;         /* PostgreSQL: most READ jobs a reader runs on one round trip (1..8; 0 = 1) */
  int write_group;        /* PostgreSQL: most keyed WRITE jobs a pool thread runs in one transaction
                             (1..32; 0 = 1) */
  int wal_restart_frames; /* SQLite: the writer lets the WAL start over past this many frames
                             (64..1048576; 0 = 16384, about 70 MB) */
  void (*before_sync)(void *arg); /* tests: the SQLite sync thread calls it before each sync */
  void *before_sync_arg;
};

/* Where a job's time goes, as histograms (upper bounds DB_EXEC_HIST_US, then +Inf):
 *   queue    submit to a store thread taking the job (every job)
 *   run      a transaction run up to its COMMIT: a SQLite group (once per group), a
 *            PostgreSQL job, a SQLite read (once per job)
 *   durable  SQLite: a written job's COMMIT to its sync (once per job)
 *   sync     SQLite: one fdatasync() of the WAL by the sync thread (once per sync) */
enum db_exec_stage { DB_STAGE_QUEUE, DB_STAGE_RUN, DB_STAGE_DURABLE, DB_STAGE_SYNC, DB_STAGE_COUNT };
#define DB_EXEC_HIST_BUCKETS 12
extern const int64_t DB_EXEC_HIST_US[DB_EXEC_HIST_BUCKETS];
extern const char *const DB_EXEC_STAGE_NAMES[DB_STAGE_COUNT];
struct db_exec_hist {
  uint64_t buckets[DB_EXEC_HIST_BUCKETS + 1]; /* not cumulative; the last is +Inf */
  uint64_t count;
  uint64_t sum_us;
};

struct db_exec_stats {
  uint64_t jobs_done;       /* jobs finished with any status */
  uint64_t jobs_failed;     /* jobs finished with status < 0 */
  uint64_t jobs_inline;     /* SQLite READ jobs run on the caller's thread (db_exec_run_inline) */
  uint64_t write_groups;    /* group transactions committed or failed: every SQLite write group, and
                               PostgreSQL groups of two or more jobs (write_group) */
  uint64_t busy_retries;
  uint64_t round_trips;     /* PostgreSQL: answers waited for by the jobs (db_round_trips); 0 on SQLite */
  uint64_t group_reruns;    /* SQLite groups run again with a savepoint per job (a job failed after
                               writing); PostgreSQL groups whose jobs ran again alone */
  uint64_t holds_merged;    /* PostgreSQL: write group holds sent inside another's statement (D63) */
  uint64_t wal_syncs;       /* SQLite fdatasync() calls of the WAL by the sync thread */
  uint64_t writer_checkpoints; /* SQLite checkpoints run by the writer (the WAL had grown long) */
  uint64_t durable_waits;   /* SQLite READ jobs answered only after a sync (they saw a commit not yet synced) */
  uint64_t queue_depth;     /* jobs waiting now */
  uint64_t rejected;        /* submits refused (queue full or stopping) */
  struct db_exec_hist stage[DB_STAGE_COUNT];
};

typedef struct db_exec db_exec;

/* Opens every connection and starts the threads. NULL with a message on failure.
 * Apply migrations first (migrate_apply on a plain db_open connection): jobs assume the
 * schema is current. SQLite needs a file (not :memory:); READ jobs run read-only
 * (PRAGMA query_only on SQLite readers; on PostgreSQL the client admits only lock-free
 * SELECTs, D53). */
db_exec *db_exec_start(const struct db_exec_config *cfg, char *err, size_t err_len);
/* Queue a job. 0 on success; -1 when the queue is full or the executor is stopping
 * (the caller answers 503 and done() is NOT called). */
int db_exec_submit(db_exec *ex, db_job *job);
/* Run a job and wait for it (for mpsctl, start-up and tests; never on an HTTP thread
 * nor on a store thread). Returns job->status; DB_ERR when the submit was refused (done()
 * is then not called). */
int db_exec_run_sync(db_exec *ex, db_job *job);
/* SQLite READ jobs only: run the job now, on the caller's thread, in its own read
 * transaction on one of the inline_readers connections, when one is free. Returns 1 when
 * it ran and may be answered now (job->status set; done() is NOT called: the caller goes on
 * at once); 2 when it ran but read a commit that is not synced yet: the caller must call
 * db_exec_done_when_durable(), which calls done() once it is (at once, or from the sync
 * thread); 0 when it did not run (PostgreSQL, a WRITE job, all lent connections busy,
 * stopping): submit it instead.
 * For the HTTP threads: a read of a local SQLite file takes microseconds, and handing it to a
 * reader thread and back had cost two thread switches per request. */
int db_exec_run_inline(db_exec *ex, db_job *job);
/* After db_exec_run_inline returned 2: done() is called when what the job read is durable. */
void db_exec_done_when_durable(db_exec *ex, db_job *job);
/* Stop taking jobs, finish every queued job, join the threads, close the connections. */
void db_exec_stop(db_exec *ex);
void db_exec_stats(db_exec *ex, struct db_exec_stats *out);
enum db_kind db_exec_kind(const db_exec *ex);

#endif
