/* exec.c — the store executor of exec.h: bounded job queues and the threads that drain
 * them. SQLite: one writer thread running queued WRITE jobs as a group transaction (one
 * COMMIT per group; a savepoint per job only when a job must be undone, see writer_group)
 * plus reader threads for READ jobs.
 * SQLite also has a checkpointer thread with a connection of its own. It copies the WAL
 * back into the database ahead of the writer (PASSIVE: it never blocks the writer or the
 * readers) every EXEC_CKPT_GROUPS group commits, or within EXEC_CKPT_IDLE_MS after the last
 * one. Only a checkpoint that ends while no commit happens lets the next write start the WAL
 * over, and only the writer can be sure of that (with the writer never checkpointing, a busy
 * server's WAL grew without bound: 1 GB in 20 s); so once the WAL holds wal_restart_frames
 * frames the writer checkpoints too, right after a pass of the checkpointer thread
 * (writer_checkpoint, D48). SQLite's own automatic checkpoint is off on the writer: inside
 * every COMMIT past 1000 frames, it had copied more than the checkpointer thread did.
 * SQLite's writer commits with synchronous=NORMAL and a sync thread makes the WAL durable
 * before any reply (syncer_main, store/wal_sync.h): the writer had spent four tenths of its
 * time waiting in fdatasync() at COMMIT.
 * PostgreSQL: a pool of threads, each job its own transaction. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db.h"
#include "store/db_impl.h"
#include "store/exec.h"
#include "store/wal_sync.h"

#define EXEC_BUSY_RETRIES 3 /* reruns of a job (or group) after DB_BUSY */
#define EXEC_UNDO (-1000)   /* writer_job: a job failed after writing without a savepoint */
#define EXEC_MAX_LENT 64       /* inline_readers at most */
#define EXEC_READ_BATCH_MAX 8 /* read_batch at most: 8 jobs of 4 prefetches fill db_pg.c's table of 32 */
#define EXEC_WRITE_GROUP_MAX 32 /* write_group at most (db_pg.c holds back what 32 payments send) */
#define EXEC_GROUP_SCAN 4       /* a group former looks at most write_group * 4 queued jobs */
#define EXEC_KEY_SLOTS 4096     /* running group keys, counted by hash (D67) */
#define EXEC_CKPT_GROUPS 8    /* group commits between background checkpoints */
#define EXEC_CKPT_IDLE_MS 1000 /* a checkpoint at most this long after the last group commit */
#define EXEC_WAL_RESTART_FRAMES 16384 /* default wal_restart_frames: a WAL of about 70 MB */

struct job_queue {
  db_job *head;
  db_job *tail;
  size_t len;
};

enum worker_role { W_WRITER = 1, W_READER = 2, W_POOL = 3 };

struct worker {
  struct db_exec *ex;
  db_conn *conn;
  enum worker_role role;
  pthread_t thread;
  bool started;
  db_job **batch; /* the writer's group: batch_max slots */
};

struct db_exec {
  enum db_kind kind;
  pthread_mutex_t mu;
  pthread_cond_t work_cv;  /* SQLite: the writer's queue; PostgreSQL: the pool's */
  pthread_cond_t read_cv;  /* the readers' queue */
  struct job_queue workq;  /* WRITE jobs (PostgreSQL without readers: READ jobs too) */
  struct job_queue readq;  /* READ jobs, when there are readers */
  size_t queue_max;
  int batch_max;
  int wal_restart_frames; /* SQLite */
  bool stopping;
  struct db_exec_stats stats; /* under mu; queue_depth computed on read */
  struct worker *workers;
  int nworkers;
  int nreaders; /* W_READER workers: READ jobs go to readq (PostgreSQL: 0 = to the pool) */
  int read_batch; /* PostgreSQL readers: most READ jobs run together (1: one at a time) */
  int write_group; /* PostgreSQL pool: most keyed WRITE jobs in one transaction (1: alone) */
  /* PostgreSQL pool (under mu): how many running keyed jobs' group keys fall in each slot; a
   * queued job whose slot is taken waits for a later group instead of for the running one's
   * row locks (D67). A slot two keys share makes one of them wait needlessly, nothing worse. */
  uint16_t keys_running[EXEC_KEY_SLOTS];
  /* SQLite checkpointer (under mu: the counters) */
  pthread_cond_t ckpt_cv;     /* monotonic clock */
  uint64_t ckpt_groups;       /* stats.write_groups at the last checkpoint */
  bool restart_wanted;        /* the writer waits for a pass before it checkpoints itself */
  bool restart_ready;         /* that pass is done: little is left for the writer to copy */
  db_conn *ckpt_conn;
  pthread_t ckpt_thread;
  bool ckpt_started;
  /* SQLite connections lent to db_exec_run_inline (under mu: the free stack) */
  db_conn *lent[EXEC_MAX_LENT];
  int lent_count, lent_free;
  pthread_cond_t lent_cv; /* a lent connection came back (stop waits for all of them) */
  /* SQLite sync thread (under mu): group commits are numbered 1, 2, ... as COMMIT returns */
  uint64_t commits_written;   /* the last group commit whose COMMIT returned */
  uint64_t commits_durable;   /* the last one the sync thread made durable */
  struct job_queue syncq;     /* jobs waiting for a sync, in durable_seq order */
  pthread_cond_t sync_cv;
  pthread_t sync_thread;
  bool sync_started;
  bool workers_stopped;       /* no thread can queue for a sync any more */
  int inline_waiting;         /* run_inline returned 2, db_exec_done_when_durable not yet called */
  struct wal_sync wal;
  void (*before_sync)(void *arg);
  void *before_sync_arg;
};

static int64_t now_ns(void) {
  struct timespec ts;
  int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
  assert(rc == 0);
  (void)rc;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const int64_t DB_EXEC_HIST_US[DB_EXEC_HIST_BUCKETS] = {100,   250,   500,    1000,   2500,   5000,
                                                      10000, 25000, 50000, 100000, 250000, 1000000};
const char *const DB_EXEC_STAGE_NAMES[DB_STAGE_COUNT] = {"queue", "run", "durable", "sync"};

/* Under mu. */
static void observe(struct db_exec *ex, enum db_exec_stage stage, int64_t ns) {
  struct db_exec_hist *h = &ex->stats.stage[stage];
  int64_t us = ns > 0 ? ns / 1000 : 0;
  int b = 0;
  while (b < DB_EXEC_HIST_BUCKETS && us > DB_EXEC_HIST_US[b]) b++;
  h->buckets[b]++;
  h->count++;
  h->sum_us += (uint64_t)us;
}

/* pthread calls on valid, initialised objects only fail on programming errors. */
static void lock(pthread_mutex_t *mu) {
  int rc = pthread_mutex_lock(mu);
  assert(rc == 0);
  (void)rc;
}

static void unlock(pthread_mutex_t *mu) {
  int rc = pthread_mutex_unlock(mu);
  assert(rc == 0);
  (void)rc;
}

static void wait_cv(pthread_cond_t *cv, pthread_mutex_t *mu) {
  int rc = pthread_cond_wait(cv, mu);
  assert(rc == 0);
  (void)rc;
}

/* ---- queues ------------------------------------------------------------------------- */

static void queue_push(struct job_queue *q, db_job *job) {
  job->next = NULL;
  if (q->tail != NULL) q->tail->next = job;
  else q->head = job;
  q->tail = job;
  q->len++;
}

static db_job *queue_pop(struct job_queue *q) {
  db_job *job = q->head;
  if (job == NULL) return NULL;
  assert(q->len > 0);
  q->head = job->next;
  if (q->head == NULL) q->tail = NULL;
  q->len--;
  job->next = NULL;
  return job;
}

/* Take job, which follows prev in q (NULL: job is the head), out of q; returns job. */
static db_job *queue_unlink(struct job_queue *q, db_job *prev, db_job *job) {
  assert(q->len > 0 && (prev == NULL ? q->head == job : prev->next == job));
  if (prev != NULL) prev->next = job->next;
  else q->head = job->next;
  if (q->tail == job) q->tail = prev;
  q->len--;
  job->next = NULL;
  return job;
}

static int by_group_key(const void *a, const void *b) {
  return strcmp((*(db_job *const *)a)->group_key, (*(db_job *const *)b)->group_key);
}

static bool same_with(const db_job *a, const db_job *b) {
  if (a->group_with == NULL || b->group_with == NULL) return a->group_with == b->group_with;
  return strcmp(a->group_with, b->group_with) == 0;
}

/* ---- running keys (D67) ---------------------------------------------------------------- */

/* The slot of a group key: FNV-1a, 64 bits. */
static uint16_t key_slot(const char *key) {
  uint64_t h = 14695981039346656037ULL;
  for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) h = (h ^ *p) * 1099511628211ULL;
  return (uint16_t)(h % EXEC_KEY_SLOTS);
}

/* Under mu: a keyed job whose key a running job of the pool holds (its rows are locked). */
static bool key_running(const struct db_exec *ex, const db_job *job) {
  return job->group_key != NULL && ex->keys_running[key_slot(job->group_key)] > 0;
}

/* Under mu: jobs[0..n) start running: their keys' slots are counted and kept in slots[] for
 * keys_end, since a finished job may be gone before its keys are let go. */
static void keys_start(struct db_exec *ex, db_job *const *jobs, int n, uint16_t *slots, int *nslots) {
  *nslots = 0;
  for (int i = 0; i < n; i++) {
    if (jobs[i]->group_key == NULL) continue;
    uint16_t k = key_slot(jobs[i]->group_key);
    assert(ex->keys_running[k] < UINT16_MAX);
    ex->keys_running[k]++;
    slots[(*nslots)++] = k;
  }
}

static void keys_end(struct db_exec *ex, const uint16_t *slots, int nslots) {
  for (int i = 0; i < nslots; i++) {
    assert(ex->keys_running[slots[i]] > 0);
    ex->keys_running[slots[i]]--;
  }
}

/* Under mu: the pool's next job: the first of the first `scan` queued whose key no running job
 * holds (an unkeyed job always qualifies), else the head, which then waits for the lock as any
 * job would. Jobs left in q keep their order. */
static db_job *queue_pop_free(const struct db_exec *ex, struct job_queue *q, int scan) {
  db_job *prev = NULL;
  db_job *job = q->head;
  for (int seen = 0; job != NULL && seen < scan; seen++) {
    if (!key_running(ex, job)) return queue_unlink(q, prev, job);
    prev = job;
    job = job->next;
  }
  return queue_pop(q);
}

/* Under mu: after first (popped from q, with a group key), take up to max - 1 more queued WRITE
 * jobs with first's group_with and group keys all different from each other's and first's
 * and from every running job's (D67); looks at no more than max * EXEC_GROUP_SCAN jobs, so a
 * queue of one key's jobs costs a bounded scan. Returns the group's size. Jobs left in q keep their order. The group runs in
 * the order of its keys: its jobs lock their keys' rows in the first round trip, one after the
 * other, so two groups on two connections always lock in the same order and cannot deadlock on
 * them (they had, and waited out PostgreSQL's deadlock_timeout of a second). */
static int queue_take_group(const struct db_exec *ex, struct job_queue *q, db_job *first, db_job **group,
                            int max) {
  assert(first->group_key != NULL && first->mode == DB_JOB_WRITE && max >= 1);
  group[0] = first;
  int n = 1;
  db_job *prev = NULL;
  db_job *job = q->head;
  for (int seen = 0; job != NULL && n < max && seen < max * EXEC_GROUP_SCAN; seen++) {
    db_job *next = job->next;
    bool fits = job->group_key != NULL && job->mode == DB_JOB_WRITE && same_with(job, first) &&
                !key_running(ex, job);
    for (int i = 0; fits && i < n; i++) fits = strcmp(group[i]->group_key, job->group_key) != 0;
    if (fits) {
      group[n++] = queue_unlink(q, prev, job);
    } else {
      prev = job;
    }
    job = next;
  }
  qsort(group, (size_t)n, sizeof group[0], by_group_key);
  return n;
}

/* Wait for work on q; false when the executor is stopping and q is drained. */
static bool wait_for_work(struct db_exec *ex, struct job_queue *q, pthread_cond_t *cv) {
  while (q->len == 0 && !ex->stopping) wait_cv(cv, &ex->mu);
  return q->len > 0;
}

/* ---- running jobs ------------------------------------------------------------------- */

/* run() must return DB_JOB_COMMIT, DB_JOB_ROLLBACK or a negative db_rc. Its prefetch went
 * first (run_job) or with those of other jobs (run_read_batch). */
static int run_prefetched(db_conn *c, db_job *job) {
  int r = job->run(c, job->arg);
  if (db_reset_leaked_cursor(c))
    fprintf(stderr, "store: a job left a cursor open; it was reset\n");
  if (r > DB_JOB_ROLLBACK) {
    fprintf(stderr, "store: a job returned %d, treated as a failure\n", r);
    r = DB_ERR;
  }
  return r;
}

static int run_job(db_conn *c, db_job *job) {
  if (job->prefetch != NULL) {
    int r = job->prefetch(c, job->arg);
    if (r < 0) return r;
  }
  return run_prefetched(c, job);
}

/* Every job's prefetch, in order, before any of them runs (a read batch, a write group): DB_OK
 * or the first failure. */
static int prefetch_all(db_conn *c, db_job **jobs, int n) {
  for (int i = 0; i < n; i++) {
    int r = jobs[i]->prefetch != NULL ? jobs[i]->prefetch(c, jobs[i]->arg) : DB_OK;
    if (r < 0) return r;
  }
  return DB_OK;
}

/* Under mu: the counters of a finished run (a group, or one job when group is false) that
 * took run_ns. */
static void count_run(struct db_exec *ex, uint64_t busy, uint64_t reruns, bool group, int64_t run_ns,
                      uint64_t trips) {
  observe(ex, DB_STAGE_RUN, run_ns);
  ex->stats.round_trips += trips;
  ex->stats.busy_retries += busy;
  ex->stats.group_reruns += reruns;
  if (group) ex->stats.write_groups++;
  if (group && ex->stats.write_groups - ex->ckpt_groups >= EXEC_CKPT_GROUPS)
    pthread_cond_signal(&ex->ckpt_cv);
}

/* Under mu: jobs that are final (counted as done). */
static void count_done(struct db_exec *ex, db_job *const *jobs, int n) {
  ex->stats.jobs_done += (uint64_t)n;
  for (int i = 0; i < n; i++)
    if (jobs[i]->status < 0) ex->stats.jobs_failed++;
}

static void call_done(db_job *const *jobs, int n) {
  for (int i = 0; i < n; i++) /* the job may be freed by done(): touch it no more */
    if (jobs[i]->done != NULL) jobs[i]->done(jobs[i]);
}

static void finish_jobs(struct db_exec *ex, db_job **jobs, int n, uint64_t busy, uint64_t reruns,
                        bool group, int64_t run_ns, uint64_t trips) {
  lock(&ex->mu);
  count_run(ex, busy, reruns, group, run_ns, trips);
  count_done(ex, jobs, n);
  unlock(&ex->mu);
  call_done(jobs, n);
}

/* Under mu: may a job that ran now be answered, or must it wait for a sync? A read that ended
 * now saw at most commits_written (a snapshot never holds more than what had committed). */
static bool must_wait_sync(const struct db_exec *ex) {
  return ex->sync_started && ex->commits_durable < ex->commits_written;
}

/* Under mu: queue a job that finished at `now` for the sync thread; done() runs once commit
 * `seq` is durable. */
static void wait_sync(struct db_exec *ex, db_job *job, uint64_t seq, int64_t now) {
  assert(seq <= ex->commits_written);
  assert(ex->syncq.tail == NULL || ex->syncq.tail->durable_seq <= seq); /* kept in order */
  job->durable_seq = seq;
  job->committed_ns = now;
  queue_push(&ex->syncq, job);
  pthread_cond_signal(&ex->sync_cv);
}

/* Called under mu, returns with mu unlocked: a job the sync thread answers once what it read
 * is durable (wait), or one answered now. */
static void answer_or_wait(struct db_exec *ex, db_job *job, bool wait) {
  if (wait) {
    wait_sync(ex, job, ex->commits_written, now_ns()); /* >= anything it read: keeps syncq in order */
    unlock(&ex->mu);
    return;
  }
  count_done(ex, &job, 1);
  unlock(&ex->mu);
  call_done(&job, 1);
}

/* A finished READ job of a reader thread: answered now, or after the next sync. */
static void finish_read(struct db_exec *ex, db_job *job, uint64_t busy, int64_t run_ns, uint64_t trips) {
  lock(&ex->mu);
  count_run(ex, busy, 0, false, run_ns, trips);
  bool wait = must_wait_sync(ex);
  if (wait) ex->stats.durable_waits++;
  answer_or_wait(ex, job, wait);
}

/* Roll back whatever a failed attempt left open; DB_OK when the connection is clean. */
static int ensure_no_txn(db_conn *c) {
  if (!db_in_transaction(c)) return DB_OK;
  int rc = db_rollback(c);
  if (rc == DB_OK && db_in_transaction(c)) rc = DB_ERR;
  return rc;
}

static int begin_own_txn(db_conn *c, enum db_job_mode mode) {
  int rc = ensure_no_txn(c);
  if (rc == DB_OK) rc = mode == DB_JOB_READ ? db_begin_read(c) : db_begin(c);
  return rc;
}

/* One job in its own transaction (PostgreSQL pool, readers). Returns its status.
 * A connection lost before COMMIT was sent wrote nothing: an idle connection may have died
 * unnoticed (PostgreSQL sends BEGIN with the first statement, which then fails), so the job
 * runs once more on a new one. A connection lost at COMMIT is not retried: the COMMIT may
 * have landed, and only the client, with its Idempotency-Key, may ask again. */
static int run_own_txn(db_conn *c, db_job *job, uint64_t *busy) {
  int rc = db_reconnect_if_lost(c);
  if (rc < 0) return rc;
  bool reconnected = false;
  for (int attempt = 0; attempt <= EXEC_BUSY_RETRIES; attempt++) {
    rc = begin_own_txn(c, job->mode);
    if (rc < 0) return rc;
    int r = run_job(c, job);
    bool at_commit = false;
    if (r == DB_JOB_COMMIT) {
      rc = db_commit(c);
      if (rc == DB_OK) return DB_JOB_COMMIT;
      (void)db_rollback(c);
      r = rc;
      at_commit = true;
    } else {
      rc = db_rollback(c);
      if (r >= 0 && rc < 0) r = rc; /* a rejection whose rollback failed is a failure */
    }
    if (r == DB_CONN && !at_commit && !reconnected && attempt < EXEC_BUSY_RETRIES) {
      reconnected = true;
      if (db_reconnect_if_lost(c) != DB_OK) return r;
      continue; /* not a busy retry: counted as an attempt all the same, bounding the loop */
    }
    if (r != DB_BUSY || attempt == EXEC_BUSY_RETRIES) return r;
    (*busy)++;
  }
  return DB_ERR; /* not reached */
}

/* One WRITE job inside the group transaction. DB_OK with job->status set when the group may
 * go on; EXEC_UNDO when the job failed after writing on the fast path (no savepoint: only a
 * rollback of the whole group can undo it); < 0 when the group transaction is lost.
 * The fast path (savepoints false) runs the job bare: a job that commits or fails without
 * writing needs no savepoint, and a savepoint per job had been a sixth of the writer's time
 * (SQLite copies every page a savepoint touches first into its sub-journal). */
static int writer_job(db_conn *c, db_job *job, bool savepoints, uint64_t *busy) {
  for (int attempt = 0; attempt <= EXEC_BUSY_RETRIES; attempt++) {
    int64_t written = savepoints ? 0 : db_rows_written(c);
    int rc = savepoints ? db_savepoint(c) : DB_OK;
    if (rc < 0) return rc;
    int r = run_job(c, job);
    if (r == DB_JOB_COMMIT) {
      rc = savepoints ? db_release(c) : DB_OK;
      if (rc < 0) return rc;
      job->status = DB_JOB_COMMIT;
      return DB_OK;
    }
    if (!db_in_transaction(c)) return r < 0 ? r : DB_ERR; /* the engine rolled it all back */
    if (!savepoints) {
      if (written < 0 || db_rows_written(c) != written) return EXEC_UNDO;
    } else if ((rc = db_rollback_to(c)) < 0) {
      return rc;
    }
    if (r != DB_BUSY || attempt == EXEC_BUSY_RETRIES) {
      job->status = r;
      return DB_OK;
    }
    (*busy)++;
  }
  return DB_ERR; /* not reached */
}

static int writer_try_group(db_conn *c, db_job **jobs, int n, bool savepoints, uint64_t *busy) {
  int rc = ensure_no_txn(c);
  if (rc == DB_OK) rc = db_begin_write(c);
  for (int i = 0; i < n && rc == DB_OK; i++) rc = writer_job(c, jobs[i], savepoints, busy);
  if (rc == DB_OK) rc = db_commit(c);
  return rc;
}

/* Run a group: one transaction, one COMMIT. First without savepoints; when a job fails after
 * writing, the group is rolled back and run again with a savepoint per job (every job runs
 * again: jobs are written to be run more than once, as after DB_BUSY). If the transaction is
 * lost or COMMIT fails every job of the group fails: later jobs may have read what earlier
 * ones wrote. */
static void writer_group(struct db_exec *ex, db_conn *c, db_job **jobs, int n) {
  uint64_t busy = 0, undone = 0;
  bool savepoints = false, committed = false;
  int64_t start = now_ns();
  for (int attempt = 0; attempt <= EXEC_BUSY_RETRIES; attempt++) {
    int rc = writer_try_group(c, jobs, n, savepoints, &busy);
    if (rc == DB_OK) {
      committed = true;
      break;
    }
    (void)db_rollback(c);
    if (rc == EXEC_UNDO) { /* not a failure of the group: run it again, each job undoable */
      assert(!savepoints);
      savepoints = true;
      undone++;
      attempt--;
      continue;
    }
    if (rc != DB_BUSY || attempt == EXEC_BUSY_RETRIES) {
      for (int i = 0; i < n; i++) jobs[i]->status = rc;
      break;
    }
    busy++;
  }
  int64_t end = now_ns();
  if (!ex->sync_started || !committed) { /* a failed group wrote nothing: answer now */
    finish_jobs(ex, jobs, n, busy, undone, true, end - start, 0);
    return;
  }
  lock(&ex->mu); /* committed, not yet durable: the sync thread answers */
  count_run(ex, busy, undone, true, end - start, 0);
  uint64_t seq = ++ex->commits_written;
  for (int i = 0; i < n; i++) wait_sync(ex, jobs[i], seq, end);
  unlock(&ex->mu);
}

/* ---- threads ------------------------------------------------------------------------ */

/* SQLite: the writer's own checkpoint, once the WAL holds wal_restart_frames frames.
 * Only a checkpoint that ends while no commit happens lets the next write start the WAL over,
 * and only the writer can be sure of that. It runs after a group was handed to the sync
 * thread (its clients wait for their sync, not for this) and right after a pass of the
 * checkpointer thread, asked for first, so that it copies only a group or two; but it
 * still syncs the WAL and the database file, and the next group waits for that. So the WAL
 * starts over seldom: SQLite's own automatic checkpoint, inside COMMIT every 1000 frames,
 * had copied more than the checkpointer thread and held the writer for about 40 ms each
 * time. One that cannot finish (a reader still on older frames) is tried again only after a
 * quarter of the limit more. */
static void writer_checkpoint(struct db_exec *ex, db_conn *c, int *tried_at) {
  int frames = db_sqlite_wal_frames(c);
  int limit = ex->wal_restart_frames;
  if (frames < limit) {
    *tried_at = 0;
    return;
  }
  if (*tried_at != 0 && frames < *tried_at + limit / 4) return;
  lock(&ex->mu);
  bool ready = ex->restart_ready || frames >= 2 * limit;
  if (!ready && !ex->restart_wanted) {
    ex->restart_wanted = true;
    pthread_cond_signal(&ex->ckpt_cv);
  }
  if (ready) {
    ex->restart_ready = false;
    ex->stats.writer_checkpoints++;
  }
  unlock(&ex->mu);
  if (!ready) return;
  *tried_at = frames;
  if (db_exec_script(c, "PRAGMA wal_checkpoint(PASSIVE)") != DB_OK)
    fprintf(stderr, "store: writer checkpoint: %s\n", db_errmsg(c)); /* tried again later */
}

static void *writer_main(void *arg) {
  struct worker *w = arg;
  struct db_exec *ex = w->ex;
  db_job **batch = w->batch;
  assert(batch != NULL);
  int tried_at = 0; /* WAL frames at the writer's last checkpoint that did not restart it */
  for (;;) { /* until stopped and drained */
    lock(&ex->mu);
    if (!wait_for_work(ex, &ex->workq, &ex->work_cv)) {
      unlock(&ex->mu);
      break;
    }
    int n = 0; /* whatever is queued now: the group grows while the last COMMIT syncs */
    int64_t now = now_ns();
    while (n < ex->batch_max && ex->workq.len > 0) {
      batch[n] = queue_pop(&ex->workq);
      observe(ex, DB_STAGE_QUEUE, now - batch[n]->enqueued_ns);
      n++;
    }
    unlock(&ex->mu);
    writer_group(ex, w->conn, batch, n);
    if (ex->sync_started) writer_checkpoint(ex, w->conn, &tried_at);
  }
  return NULL;
}

/* One job in its own transaction (run_own_txn) since start, then answered as a reader's (which
 * may wait for a sync) or a writer's. */
static void run_alone(struct db_exec *ex, db_conn *c, db_job *job, bool reader, int64_t start) {
  uint64_t busy = 0, trips = db_round_trips(c);
  job->status = run_own_txn(c, job, &busy);
  int64_t run_ns = now_ns() - start;
  trips = db_round_trips(c) - trips;
  if (reader) finish_read(ex, job, busy, run_ns, trips);
  else finish_jobs(ex, &job, 1, busy, 0, false, run_ns, trips);
}

/* PostgreSQL readers, several queued READ jobs at once (D60): every job's prefetch first, so
 * that all their queries go in the pipeline of the first answer asked for (one round trip,
 * one Sync: PostgreSQL's implicit transaction, D53), then each job runs on its answers. A
 * failed statement aborts the rest of that pipeline, and its failure is reported to whichever
 * job asked first: from the first job that fails on, every job runs again alone, in its own
 * transaction (a read can be run more than once; an answer a failed job left unclaimed is
 * dropped with the batch's transaction). A job is answered as soon as it ran. */
static void run_read_batch(struct db_exec *ex, db_conn *c, db_job **jobs, int n) {
  assert(n >= 2 && n <= EXEC_READ_BATCH_MAX);
  int64_t last = now_ns();
  uint64_t trips = db_round_trips(c);
  int rc = db_reconnect_if_lost(c);
  if (rc < 0) { /* each job would wait for the same failed connect again */
    for (int i = 0; i < n; i++) {
      jobs[i]->status = rc;
      finish_read(ex, jobs[i], 0, i == 0 ? now_ns() - last : 0, 0);
    }
    return;
  }
  int ran = 0; /* jobs[0..ran) ran in the batch and are answered */
  rc = begin_own_txn(c, DB_JOB_READ);
  if (rc == DB_OK) rc = prefetch_all(c, jobs, n);
  for (; rc == DB_OK && ran < n; ran++) {
    int r = run_prefetched(c, jobs[ran]);
    if (r < 0) break;
    jobs[ran]->status = r;
    int64_t now = now_ns(); /* the first job's run holds the batch's round trip */
    uint64_t t = db_round_trips(c);
    /* answered now, its round trips counted first; done() may free it */
    finish_read(ex, jobs[ran], 0, now - last, t - trips);
    last = now;
    trips = t;
  }
  (void)db_rollback(c); /* a read transaction: nothing is sent */
  trips = db_round_trips(c) - trips; /* a failed job's */
  lock(&ex->mu);
  ex->stats.round_trips += trips;
  unlock(&ex->mu);
  for (int i = ran; i < n; i++) run_alone(ex, c, jobs[i], true, now_ns()); /* as single_main runs them */
}

/* PostgreSQL, write_group: jobs[0..n) (n >= 2, keys all different) in one transaction (D62).
 * BEGIN and every job's prefetch go in the first pipeline; then each job runs on its answers,
 * its writes held back, and the last pipeline carries them all with COMMIT: two round trips
 * for the group where each job alone takes two. What one job changes and a later one reads is
 * passed on in the connection's group memo (db.h); what only one job touches is kept apart by
 * the keys. All or nothing: DB_OK when the group committed; otherwise it was rolled back and
 * *failed is the job that did not commit (a rejection, a store failure, DB_BUSY), or -1 when
 * the failure came before the jobs ran or in COMMIT's pipeline (a held-back write the server
 * refused: the COMMIT after it did not run). *at_commit tells a failure of COMMIT's round
 * trip. */
static int try_write_group(db_conn *c, db_job **jobs, int n, int *failed, bool *at_commit) {
  *failed = -1;
  *at_commit = false;
  int rc = begin_own_txn(c, DB_JOB_WRITE);
  if (rc != DB_OK) return rc;
  db_group_begin(c);
  rc = prefetch_all(c, jobs, n);
  for (int i = 0; i < n && rc == DB_OK; i++) {
    int r = run_prefetched(c, jobs[i]);
    if (r != DB_JOB_COMMIT) {
      rc = r < 0 ? r : DB_BUSY; /* a rejection: it runs again alone */
      *failed = i;
    }
  }
  if (rc == DB_OK) {
    *at_commit = true;
    rc = db_commit(c);
  }
  db_group_end(c);
  if (rc != DB_OK) (void)db_rollback(c);
  return rc;
}

/* Runs a group (try_write_group); when it does not commit, every job runs again alone, as any
 * job after DB_BUSY, in its own transaction, so only the jobs that would fail alone fail. When
 * one job was the one that did not commit, it alone runs alone and the others try once more as
 * a group (again): a replay or a refusal among 32 payments costs the others one attempt, not
 * 31 transactions in a row. A connection lost at COMMIT fails every job: the COMMIT may have
 * landed (as for a job alone, only the client, with its Idempotency-Key, asks again). That a
 * COMMIT that failed otherwise did not land rests on the held-back writes: every one whose row
 * count matters is checked on the server (D58), so nothing fails after COMMIT ran. */
static void run_write_group(struct db_exec *ex, db_conn *c, db_job **jobs, int n, bool again) {
  assert(n >= 2 && n <= EXEC_WRITE_GROUP_MAX);
  int64_t start = now_ns();
  uint64_t trips = db_round_trips(c);
  int rc = db_reconnect_if_lost(c);
  if (rc < 0) { /* each job alone would wait for the same failed connect again */
    for (int i = 0; i < n; i++) jobs[i]->status = rc;
    finish_jobs(ex, jobs, n, 0, 0, true, now_ns() - start, 0);
    return;
  }
  int failed = -1;
  bool at_commit = false;
  uint64_t merged = db_holds_merged(c);
  rc = try_write_group(c, jobs, n, &failed, &at_commit);
  merged = db_holds_merged(c) - merged;
  lock(&ex->mu);
  ex->stats.holds_merged += merged;
  unlock(&ex->mu);
  if (rc == DB_OK || (at_commit && rc == DB_CONN)) {
    for (int i = 0; i < n; i++) jobs[i]->status = rc == DB_OK ? DB_JOB_COMMIT : rc;
    finish_jobs(ex, jobs, n, 0, 0, true, now_ns() - start, db_round_trips(c) - trips);
    return;
  }
  lock(&ex->mu);
  count_run(ex, 0, 1, true, now_ns() - start, db_round_trips(c) - trips);
  unlock(&ex->mu);
  db_job *rest[EXEC_WRITE_GROUP_MAX];
  int nrest = 0;
  for (int i = 0; i < n; i++) {
    bool alone = !again || failed < 0 || n < 3 || i == failed;
    if (alone) run_alone(ex, c, jobs[i], false, now_ns());
    else rest[nrest++] = jobs[i];
  }
  if (nrest > 0) run_write_group(ex, c, rest, nrest, false);
}

/* Readers and the PostgreSQL pool: one job at a time in its own transaction; a PostgreSQL
 * reader, up to read_batch READ jobs together (run_read_batch); a pool thread, up to
 * write_group keyed WRITE jobs together (run_write_group). */
static void *single_main(void *arg) {
  struct worker *w = arg;
  struct db_exec *ex = w->ex;
  struct job_queue *q = w->role == W_READER ? &ex->readq : &ex->workq;
  pthread_cond_t *cv = w->role == W_READER ? &ex->read_cv : &ex->work_cv;
  const int batch_max = w->role == W_READER && ex->kind == DB_POSTGRES ? ex->read_batch : 1;
  for (;;) { /* until stopped and drained */
    lock(&ex->mu);
    if (!wait_for_work(ex, q, cv)) {
      unlock(&ex->mu);
      break;
    }
    const bool keyed = w->role == W_POOL && ex->write_group > 1;
    db_job *job = keyed ? queue_pop_free(ex, q, ex->write_group * EXEC_GROUP_SCAN) : queue_pop(q);
    int64_t start = now_ns();
    observe(ex, DB_STAGE_QUEUE, start - job->enqueued_ns);
    if (batch_max > 1 && q->len > 0) {
      db_job *batch[EXEC_READ_BATCH_MAX] = {job};
      int n = 1;
      while (n < batch_max && q->len > 0) {
        batch[n] = queue_pop(q);
        observe(ex, DB_STAGE_QUEUE, start - batch[n]->enqueued_ns);
        n++;
      }
      unlock(&ex->mu);
      run_read_batch(ex, w->conn, batch, n);
      continue;
    }
    db_job *group[EXEC_WRITE_GROUP_MAX] = {job};
    int n = 1;
    if (keyed && job->group_key != NULL && q->len > 0) {
      n = queue_take_group(ex, q, job, group, ex->write_group);
      for (int i = 0; i < n; i++) /* job's own wait is counted above */
        if (group[i] != job) observe(ex, DB_STAGE_QUEUE, start - group[i]->enqueued_ns);
    }
    uint16_t slots[EXEC_WRITE_GROUP_MAX];
    int nslots = 0;
    if (keyed) keys_start(ex, group, n, slots, &nslots);
    unlock(&ex->mu);
    if (n > 1) run_write_group(ex, w->conn, group, n, true);
    else run_alone(ex, w->conn, job, w->role == W_READER, start);
    if (nslots > 0) {
      lock(&ex->mu);
      keys_end(ex, slots, nslots);
      unlock(&ex->mu);
    }
  }
  return NULL;
}

/* The SQLite sync thread: makes the WAL durable up to the last group commit, then answers
 * every job waiting for a commit up to it. One fdatasync() covers every group committed
 * before it started (the writer goes on meanwhile). A failed sync is fatal: after a failed
 * fdatasync() the kernel may have dropped the pages it could not write and the next one
 * would succeed regardless, so nothing could say what is on disk; the process aborts (no
 * reply was sent for the commits at stake: their clients retry with their Idempotency-Key,
 * and the restart recovers from what the disk holds). */
static void *syncer_main(void *arg) {
  struct db_exec *ex = arg;
  db_job *ready[256];
  for (;;) {
    lock(&ex->mu);
    while (ex->syncq.len == 0 && !ex->workers_stopped) wait_cv(&ex->sync_cv, &ex->mu);
    if (ex->syncq.len == 0) {
      unlock(&ex->mu);
      break; /* stopped and drained */
    }
    uint64_t target = ex->commits_written;
    if (ex->commits_durable < target) {
      unlock(&ex->mu);
      if (ex->before_sync != NULL) ex->before_sync(ex->before_sync_arg);
      char err[4200];
      int64_t start = now_ns();
      if (wal_sync_now(&ex->wal, err, sizeof err) != 0) {
        fprintf(stderr, "store: fatal: %s; stopping (nothing at stake was answered)\n", err);
        abort();
      }
      lock(&ex->mu);
      observe(ex, DB_STAGE_SYNC, now_ns() - start);
      ex->commits_durable = target;
      ex->stats.wal_syncs++;
    }
    int n = 0; /* answer in bounded bites; the rest on the next turn (no sync needed) */
    while (n < (int)(sizeof ready / sizeof ready[0]) && ex->syncq.head != NULL &&
           ex->syncq.head->durable_seq <= ex->commits_durable)
      ready[n++] = queue_pop(&ex->syncq);
    int64_t now = n > 0 ? now_ns() : 0;
    for (int i = 0; i < n; i++) observe(ex, DB_STAGE_DURABLE, now - ready[i]->committed_ns);
    count_done(ex, ready, n);
    unlock(&ex->mu);
    call_done(ready, n);
  }
  return NULL;
}

/* SQLite: the writer commits without waiting for the disk, the sync thread waits instead. */
static int start_syncer(db_exec *ex, char *err, size_t err_len) {
  db_conn *writer = ex->workers[0].conn;
  char path[sizeof ex->wal.path];
  if (db_sqlite_wal_path(writer, path, sizeof path) != 0 || wal_sync_init(&ex->wal, path) != 0) {
    db_fmt_err(err, err_len, "sqlite: cannot find the WAL file of the database");
    return -1;
  }
  if (db_exec_script(writer, "PRAGMA synchronous=NORMAL") != DB_OK || db_sqlite_wal_watch(writer) != 0) {
    db_fmt_err(err, err_len, "sqlite: %s", db_errmsg(writer));
    return -1;
  }
  int rc = pthread_create(&ex->sync_thread, NULL, syncer_main, ex);
  if (rc != 0) { /* the executor is then stopped: the writer's setting no longer matters */
    db_fmt_err(err, err_len, "cannot start the sync thread: %s", strerror(rc));
    return -1;
  }
  ex->sync_started = true;
  return 0;
}

/* The SQLite checkpointer: waits for EXEC_CKPT_GROUPS group commits (or for
 * EXEC_CKPT_IDLE_MS after fewer), then runs a PASSIVE checkpoint. */
static void *checkpointer_main(void *arg) {
  struct db_exec *ex = arg;
  for (;;) {
    lock(&ex->mu);
    struct timespec until;
    int rc = clock_gettime(CLOCK_MONOTONIC, &until);
    assert(rc == 0);
    until.tv_sec += EXEC_CKPT_IDLE_MS / 1000;
    until.tv_nsec += (long)(EXEC_CKPT_IDLE_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    while (!ex->stopping && !ex->restart_wanted &&
           ex->stats.write_groups - ex->ckpt_groups < EXEC_CKPT_GROUPS) {
      rc = pthread_cond_timedwait(&ex->ckpt_cv, &ex->mu, &until);
      assert(rc == 0 || rc == ETIMEDOUT);
      if (rc == ETIMEDOUT) break;
    }
    bool stop = ex->stopping, wanted = ex->restart_wanted;
    bool due = wanted || ex->stats.write_groups != ex->ckpt_groups;
    ex->ckpt_groups = ex->stats.write_groups;
    unlock(&ex->mu);
    if (stop) break; /* closing the last connection checkpoints the rest */
    if (due && db_exec_script(ex->ckpt_conn, "PRAGMA wal_checkpoint(PASSIVE)") != DB_OK)
      fprintf(stderr, "store: checkpoint: %s\n", db_errmsg(ex->ckpt_conn)); /* the next one retries */
    if (wanted) { /* the writer's checkpoint now has little to copy, and its sync little to write */
      if (db_sqlite_sync_db_file(ex->ckpt_conn) != 0) { /* fatal, as in syncer_main */
        fprintf(stderr, "store: fatal: cannot sync the database file after a checkpoint; stopping\n");
        abort();
      }
      lock(&ex->mu); /* ready after a failed pass too: the writer's own checkpoint copies more */
      ex->restart_wanted = false;
      ex->restart_ready = true;
      unlock(&ex->mu);
    }
  }
  return NULL;
}

/* SQLite: a thread that checkpoints ahead of the writer. */
static int start_checkpointer(db_exec *ex, const char *url, char *err, size_t err_len) {
  ex->ckpt_conn = db_open(url, err, err_len);
  if (ex->ckpt_conn == NULL) return -1;
  int rc = pthread_create(&ex->ckpt_thread, NULL, checkpointer_main, ex);
  if (rc != 0) {
    db_fmt_err(err, err_len, "cannot start the checkpoint thread: %s", strerror(rc));
    return -1;
  }
  ex->ckpt_started = true;
  return 0;
}

/* ---- start and stop ----------------------------------------------------------------- */

static bool in_range(int v, int lo, int hi) { return v >= lo && v <= hi; }

static int validate_config(const struct db_exec_config *cfg, enum db_kind kind, char *err,
                           size_t err_len) {
  if (!in_range(cfg->queue_max, 1, 1000000)) {
    db_fmt_err(err, err_len, "queue_max %d is outside 1..1000000", cfg->queue_max);
    return -1;
  }
  if (!in_range(cfg->readers, kind == DB_SQLITE ? 1 : 0, 64)) {
    db_fmt_err(err, err_len, "readers %d is outside %d..64", cfg->readers, kind == DB_SQLITE ? 1 : 0);
    return -1;
  }
  if (kind == DB_SQLITE && !in_range(cfg->batch_max, 1, 1024)) {
    db_fmt_err(err, err_len, "batch_max %d is outside 1..1024", cfg->batch_max);
    return -1;
  }
  if (cfg->wal_restart_frames != 0 && !in_range(cfg->wal_restart_frames, 64, 1 << 20)) {
    db_fmt_err(err, err_len, "wal_restart_frames %d is outside 64..%d (0: %d)", cfg->wal_restart_frames,
               1 << 20, EXEC_WAL_RESTART_FRAMES);
    return -1;
  }
  if (cfg->write_group != 0 && !in_range(cfg->write_group, 1, EXEC_WRITE_GROUP_MAX)) {
    db_fmt_err(err, err_len, "write_group %d is outside 1..%d", cfg->write_group, EXEC_WRITE_GROUP_MAX);
    return -1;
  }
  if (cfg->read_batch != 0 && !in_range(cfg->read_batch, 1, EXEC_READ_BATCH_MAX)) {
    db_fmt_err(err, err_len, "read_batch %d is outside 1..%d", cfg->read_batch, EXEC_READ_BATCH_MAX);
    return -1;
  }
  if (!in_range(cfg->inline_readers, 0, EXEC_MAX_LENT)) {
    db_fmt_err(err, err_len, "inline_readers %d is outside 0..%d", cfg->inline_readers, EXEC_MAX_LENT);
    return -1;
  }
  if (kind == DB_POSTGRES && !in_range(cfg->pool_size, 1, 256)) {
    db_fmt_err(err, err_len, "pool_size %d is outside 1..256", cfg->pool_size);
    return -1;
  }
  return 0;
}

/* Every SQLite thread must see the same file: an in-memory database is per connection. */
static int check_sqlite_file(db_conn *c, char *err, size_t err_len) {
  static const db_sql q = {.name = "database_file",
                           .sql = "SELECT file FROM pragma_database_list WHERE name = 'main'"};
  db_cursor *cur = NULL;
  int rc = db_query(c, &q, NULL, 0, &cur);
  bool on_disk = rc == DB_OK && db_step(cur) == DB_ROW && db_col_text(cur, 0)[0] != '\0';
  db_reset(cur);
  if (rc != DB_OK) {
    db_fmt_err(err, err_len, "sqlite: %s", db_errmsg(c));
    return -1;
  }
  if (!on_disk) {
    db_fmt_err(err, err_len, "the executor needs an SQLite file, not an in-memory database");
    return -1;
  }
  return 0;
}

static db_conn *open_reader(const char *url, char *err, size_t err_len) {
  db_conn *c = db_open(url, err, err_len);
  if (c != NULL && db_exec_script(c, "PRAGMA query_only=1") != DB_OK) {
    db_fmt_err(err, err_len, "reader connection: %s", db_errmsg(c));
    db_close(c);
    c = NULL;
  }
  return c;
}

/* Open the connections of workers 1..n-1 (worker 0 holds the probe connection) and, on
 * SQLite, the lent read connections. */
static int open_workers(db_exec *ex, const char *url, int lent, char *err, size_t err_len) {
  for (int i = 1; i < ex->nworkers; i++) {
    struct worker *w = &ex->workers[i];
    /* a PostgreSQL reader is held to SELECTs by its read transactions (D53) */
    bool query_only = w->role == W_READER && ex->kind == DB_SQLITE;
    /* a pool connection's lane is its own among every session of the database (D66) */
    int flags = DB_OPEN_INDEXES | (w->role == W_POOL ? DB_OPEN_LANE : 0);
    w->conn = query_only ? open_reader(url, err, err_len) : db_open_flags(url, flags, err, err_len);
    if (w->conn == NULL) return -1;
  }
  for (int i = 0; ex->kind == DB_SQLITE && i < lent; i++) {
    ex->lent[i] = open_reader(url, err, err_len);
    if (ex->lent[i] == NULL) return -1;
    ex->lent_count = ex->lent_free = i + 1;
  }
  return 0;
}

static int start_threads(db_exec *ex, char *err, size_t err_len) {
  for (int i = 0; i < ex->nworkers; i++) {
    struct worker *w = &ex->workers[i];
    void *(*fn)(void *) = w->role == W_WRITER ? writer_main : single_main;
    int rc = pthread_create(&w->thread, NULL, fn, w);
    if (rc != 0) {
      db_fmt_err(err, err_len, "cannot start store thread: %s", strerror(rc));
      return -1;
    }
    w->started = true;
  }
  return 0;
}

/* Stop the threads started so far (draining the queues), close connections, free. */
static void exec_destroy(db_exec *ex) {
  lock(&ex->mu);
  ex->stopping = true;
  pthread_cond_broadcast(&ex->work_cv);
  pthread_cond_broadcast(&ex->read_cv);
  pthread_cond_broadcast(&ex->ckpt_cv);
  while (ex->lent_free != ex->lent_count || ex->inline_waiting > 0) /* inline jobs finish */
    wait_cv(&ex->lent_cv, &ex->mu);
  unlock(&ex->mu);
  if (ex->ckpt_started) {
    int rc = pthread_join(ex->ckpt_thread, NULL);
    assert(rc == 0);
    (void)rc;
  }
  db_close(ex->ckpt_conn);
  for (int i = 0; i < ex->nworkers; i++)
    if (ex->workers[i].started) {
      int rc = pthread_join(ex->workers[i].thread, NULL);
      assert(rc == 0);
      (void)rc;
    }
  lock(&ex->mu); /* nothing queues for a sync any more: the sync thread drains and ends */
  ex->workers_stopped = true;
  pthread_cond_broadcast(&ex->sync_cv);
  unlock(&ex->mu);
  if (ex->sync_started) {
    int rc = pthread_join(ex->sync_thread, NULL);
    assert(rc == 0);
    (void)rc;
  }
  wal_sync_close(&ex->wal);
  assert(ex->workq.len == 0 && ex->readq.len == 0 && ex->syncq.len == 0);
  for (int i = 0; i < ex->nworkers; i++) {
    db_close(ex->workers[i].conn);
    free(ex->workers[i].batch);
  }
  for (int i = 0; i < ex->lent_count; i++) db_close(ex->lent[i]);
  pthread_cond_destroy(&ex->read_cv);
  pthread_cond_destroy(&ex->work_cv);
  pthread_cond_destroy(&ex->ckpt_cv);
  pthread_cond_destroy(&ex->lent_cv);
  pthread_cond_destroy(&ex->sync_cv);
  pthread_mutex_destroy(&ex->mu);
  free(ex->workers);
  free(ex);
}

static db_exec *exec_alloc(enum db_kind kind, const struct db_exec_config *cfg) {
  db_exec *ex = calloc(1, sizeof *ex);
  if (ex == NULL) return NULL;
  ex->kind = kind;
  ex->queue_max = (size_t)cfg->queue_max;
  ex->wal.fd = -1; /* opened by the sync thread's first sync (SQLite) */
  ex->before_sync = cfg->before_sync;
  ex->before_sync_arg = cfg->before_sync_arg;
  ex->batch_max = cfg->batch_max;
  ex->read_batch = cfg->read_batch ? cfg->read_batch : 1;
  ex->write_group = kind == DB_POSTGRES && cfg->write_group ? cfg->write_group : 1;
  ex->wal_restart_frames = cfg->wal_restart_frames ? cfg->wal_restart_frames : EXEC_WAL_RESTART_FRAMES;
  /* the writing threads first, then the readers */
  int writers = kind == DB_SQLITE ? 1 : cfg->pool_size;
  ex->nreaders = cfg->readers;
  ex->nworkers = writers + cfg->readers;
  ex->workers = calloc((size_t)ex->nworkers, sizeof *ex->workers);
  if (ex->workers == NULL) {
    free(ex);
    return NULL;
  }
  for (int i = 0; i < ex->nworkers; i++) {
    ex->workers[i].ex = ex;
    ex->workers[i].role = i >= writers ? W_READER : kind == DB_SQLITE ? W_WRITER : W_POOL;
  }
  if (kind == DB_SQLITE) {
    ex->workers[0].batch = calloc((size_t)cfg->batch_max, sizeof(db_job *));
    if (ex->workers[0].batch == NULL) {
      free(ex->workers);
      free(ex);
      return NULL;
    }
  }
  /* Default attributes: these cannot fail on Linux short of memory corruption. */
  int rc = pthread_mutex_init(&ex->mu, NULL);
  rc |= pthread_cond_init(&ex->work_cv, NULL);
  rc |= pthread_cond_init(&ex->read_cv, NULL);
  rc |= pthread_cond_init(&ex->lent_cv, NULL);
  rc |= pthread_cond_init(&ex->sync_cv, NULL);
  pthread_condattr_t monotonic;
  rc |= pthread_condattr_init(&monotonic);
  rc |= pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
  rc |= pthread_cond_init(&ex->ckpt_cv, &monotonic);
  rc |= pthread_condattr_destroy(&monotonic);
  assert(rc == 0);
  (void)rc;
  return ex;
}

db_exec *db_exec_start(const struct db_exec_config *cfg, char *err, size_t err_len) {
  if (err != NULL && err_len > 0) err[0] = '\0';
  if (cfg == NULL || cfg->url == NULL) {
    db_fmt_err(err, err_len, "executor: no configuration or URL");
    return NULL;
  }
  /* the SQLite writer: one thread for its whole life, so its WAL writes may be buffered; on
   * PostgreSQL the first pool connection */
  db_conn *first = db_open_flags(cfg->url, DB_OPEN_WAL_BUFFER | DB_OPEN_INDEXES | DB_OPEN_LANE, err, err_len);
  if (first == NULL) return NULL;
  enum db_kind kind = db_conn_kind(first);
  if (validate_config(cfg, kind, err, err_len) != 0 ||
      (kind == DB_SQLITE && check_sqlite_file(first, err, err_len) != 0)) {
    db_close(first);
    return NULL;
  }
  db_exec *ex = exec_alloc(kind, cfg);
  if (ex == NULL) {
    db_fmt_err(err, err_len, "out of memory");
    db_close(first);
    return NULL;
  }
  ex->workers[0].conn = first; /* the writer on SQLite */
  if (open_workers(ex, cfg->url, cfg->inline_readers, err, err_len) != 0 ||
      (kind == DB_SQLITE && start_checkpointer(ex, cfg->url, err, err_len) != 0) ||
      (kind == DB_SQLITE && start_syncer(ex, err, err_len) != 0) ||
      start_threads(ex, err, err_len) != 0) {
    exec_destroy(ex);
    return NULL;
  }
  return ex;
}

int db_exec_submit(db_exec *ex, db_job *job) {
  assert(ex != NULL && job != NULL && job->run != NULL);
  assert(job->mode == DB_JOB_READ || job->mode == DB_JOB_WRITE);
  lock(&ex->mu);
  if (ex->stopping || ex->workq.len + ex->readq.len >= ex->queue_max) {
    ex->stats.rejected++;
    unlock(&ex->mu);
    return -1;
  }
  job->status = 0;
  job->enqueued_ns = now_ns();
  if (job->mode == DB_JOB_READ && ex->nreaders > 0) {
    queue_push(&ex->readq, job);
    pthread_cond_signal(&ex->read_cv);
  } else {
    queue_push(&ex->workq, job);
    pthread_cond_signal(&ex->work_cv);
  }
  unlock(&ex->mu);
  return 0;
}

int db_exec_run_inline(db_exec *ex, db_job *job) {
  assert(ex != NULL && job != NULL && job->run != NULL);
  if (ex->kind != DB_SQLITE || job->mode != DB_JOB_READ) return 0;
  lock(&ex->mu);
  if (ex->stopping || ex->lent_free == 0) {
    unlock(&ex->mu);
    return 0;
  }
  db_conn *c = ex->lent[--ex->lent_free];
  unlock(&ex->mu);
  job->status = 0;
  job->enqueued_ns = now_ns();
  uint64_t busy = 0;
  job->status = run_own_txn(c, job, &busy);
  int64_t run_ns = now_ns() - job->enqueued_ns;
  lock(&ex->mu);
  ex->lent[ex->lent_free++] = c;
  ex->stats.jobs_inline++;
  count_run(ex, busy, 0, false, run_ns, 0); /* SQLite: in process */
  bool wait = must_wait_sync(ex);
  if (wait) { /* the caller suspends, then db_exec_done_when_durable() */
    ex->stats.durable_waits++;
    ex->inline_waiting++;
    job->durable_seq = ex->commits_written;
  } else {
    count_done(ex, &job, 1);
  }
  if (ex->stopping) pthread_cond_broadcast(&ex->lent_cv);
  unlock(&ex->mu);
  return wait ? 2 : 1;
}

void db_exec_done_when_durable(db_exec *ex, db_job *job) {
  assert(ex != NULL && job != NULL && ex->sync_started);
  lock(&ex->mu);
  assert(ex->inline_waiting > 0 && !ex->workers_stopped); /* stop waits for inline_waiting */
  ex->inline_waiting--;
  if (ex->stopping) pthread_cond_broadcast(&ex->lent_cv);
  answer_or_wait(ex, job, ex->commits_durable < job->durable_seq);
}

/* db_exec_run_sync wraps the caller's job so its done() still runs, then wakes us. */
struct sync_call {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool finished;
  db_job *orig;
};

static int sync_prefetch(db_conn *c, void *arg) {
  struct sync_call *s = arg;
  return s->orig->prefetch(c, s->orig->arg);
}

static int sync_run(db_conn *c, void *arg) {
  struct sync_call *s = arg;
  return s->orig->run(c, s->orig->arg);
}

static void sync_done(db_job *wrapper) {
  struct sync_call *s = wrapper->arg;
  s->orig->status = wrapper->status;
  s->orig->enqueued_ns = wrapper->enqueued_ns;
  if (s->orig->done != NULL) s->orig->done(s->orig);
  lock(&s->mu);
  s->finished = true;
  pthread_cond_signal(&s->cv);
  unlock(&s->mu); /* s lives on the waiter's stack: last touch */
}

int db_exec_run_sync(db_exec *ex, db_job *job) {
  assert(ex != NULL && job != NULL && job->run != NULL);
  struct sync_call s = {.finished = false, .orig = job};
  int rc = pthread_mutex_init(&s.mu, NULL);
  rc |= pthread_cond_init(&s.cv, NULL);
  assert(rc == 0);
  (void)rc;
  db_job wrapper = {.mode = job->mode, .prefetch = job->prefetch ? sync_prefetch : NULL, .run = sync_run,
                    .done = sync_done, .arg = &s};
  if (db_exec_submit(ex, &wrapper) != 0) {
    job->status = DB_ERR; /* refused: queue full or stopping; done() not called */
  } else {
    lock(&s.mu);
    while (!s.finished) wait_cv(&s.cv, &s.mu);
    unlock(&s.mu);
  }
  pthread_cond_destroy(&s.cv);
  pthread_mutex_destroy(&s.mu);
  return job->status;
}

void db_exec_stop(db_exec *ex) {
  if (ex == NULL) return;
  exec_destroy(ex);
}

void db_exec_stats(db_exec *ex, struct db_exec_stats *out) {
  assert(ex != NULL && out != NULL);
  lock(&ex->mu);
  *out = ex->stats;
  out->queue_depth = (uint64_t)(ex->workq.len + ex->readq.len);
  unlock(&ex->mu);
}

enum db_kind db_exec_kind(const db_exec *ex) {
  assert(ex != NULL);
  return ex->kind;
}
