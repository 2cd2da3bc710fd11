/* expiry.c — the background expiry sweep (see expiry.h). */
#include "worker/expiry.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "service/expiry.h"

struct expiry_worker {
  db_exec *ex;
  int interval_s;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  bool stop;
  struct expiry_counts last; /* written by the job, read after db_exec_run_sync */
};

static int sweep_job(db_conn *c, void *arg) {
  struct expiry_worker *w = arg;
  struct actor a = {.p = NULL, .request_id = "expiry-sweep", .client_ip = ""};
  int rc = expiry_run(c, &a, clock_now_ms(), EXPIRY_BATCH, &w->last);
  return rc < 0 ? rc : DB_JOB_COMMIT;
}

/* One batch; true when it was full (go again). */
static bool sweep_once(struct expiry_worker *w) {
  memset(&w->last, 0, sizeof w->last);
  db_job job = {.mode = DB_JOB_WRITE, .run = sweep_job, .arg = w};
  int rc = db_exec_run_sync(w->ex, &job);
  if (rc < 0) {
    log_warn("expiry sweep: the store job failed (%d); next try in %d s", rc, w->interval_s);
    return false;
  }
  if (w->last.payments || w->last.topups) {
    struct log_line l;
    log_begin(&l, LOG_INFO, "expired pending transactions");
    log_int(&l, "payments", w->last.payments);
    log_int(&l, "topups", w->last.topups);
    log_bool(&l, "more", w->last.more);
    log_end(&l);
  }
  return w->last.more;
}

static void *worker_main(void *arg) {
  struct expiry_worker *w = arg;
  pthread_mutex_lock(&w->mu);
  while (!w->stop) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += w->interval_s;
    while (!w->stop) {
      int rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
      if (rc == ETIMEDOUT) break;
    }
    bool more = true;
    while (!w->stop && more) {
      pthread_mutex_unlock(&w->mu); /* stop() may signal while the batch runs */
      more = sweep_once(w);
      pthread_mutex_lock(&w->mu);
    }
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

struct expiry_worker *expiry_worker_start(db_exec *ex, int interval_s, char *err, size_t err_len) {
  struct expiry_worker *w = calloc(1, sizeof *w);
  if (!w) {
    snprintf(err, err_len, "expiry worker: out of memory");
    return NULL;
  }
  w->ex = ex;
  w->interval_s = interval_s < 1 ? 1 : interval_s;
  pthread_condattr_t ca;
  int rc = pthread_condattr_init(&ca);
  if (rc == 0) rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (rc == 0) rc = pthread_cond_init(&w->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc == 0) rc = pthread_mutex_init(&w->mu, NULL);
  if (rc == 0) rc = pthread_create(&w->thread, NULL, worker_main, w);
  if (rc != 0) {
    snprintf(err, err_len, "expiry worker: cannot start its thread: %s", strerror(rc));
    free(w); /* a failed init leaves nothing to destroy that matters at start-up */
    return NULL;
  }
  return w;
}

void expiry_worker_stop(void *worker) {
  struct expiry_worker *w = worker;
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->stop = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
