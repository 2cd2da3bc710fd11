/* metrics.c — the counters behind /metrics. Status codes fall into a fixed set of slots;
 * latency buckets are the usual Prometheus seconds ladder. All state is atomics. */
#include "http/metrics.h"

#include <assert.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_info.h"
#include "store/exec.h"

static const int status_slots[] = {200, 201, 204, 400, 401, 403, 404, 405, 409,
                                   413, 415, 422, 429, 500, 503, 0};
#define STATUS_SLOTS (sizeof status_slots / sizeof status_slots[0]) /* last: other */

static const int64_t bucket_us[] = {250, 500, 1000, 2500, 5000, 10000, 25000,
                                    50000, 100000, 250000, 500000, 1000000, 2500000};
#define BUCKETS (sizeof bucket_us / sizeof bucket_us[0])

struct route_stats {
  atomic_uint_fast64_t by_status[STATUS_SLOTS];
  atomic_uint_fast64_t buckets[BUCKETS + 1]; /* + Inf */
  atomic_uint_fast64_t sum_us;
  atomic_uint_fast64_t count;
};

static const struct route *routes;
static size_t route_count;
static struct route_stats stats[METRICS_MAX_ROUTES + 1]; /* last: unmatched */
static atomic_int_fast64_t inflight;

void metrics_init(const struct route *table, size_t count) {
  assert(count <= METRICS_MAX_ROUTES);
  routes = table;
  route_count = count;
}

static size_t status_slot(int status) {
  for (size_t i = 0; i + 1 < STATUS_SLOTS; i++) {
    if (status_slots[i] == status) return i;
  }
  return STATUS_SLOTS - 1;
}

void metrics_observe(size_t route_index, int status, int64_t duration_ns) {
  size_t r = route_index < route_count ? route_index : METRICS_MAX_ROUTES;
  struct route_stats *s = &stats[r];
  atomic_fetch_add(&s->by_status[status_slot(status)], 1);
  int64_t us = duration_ns / 1000;
  size_t b = 0;
  while (b < BUCKETS && us > bucket_us[b]) b++;
  atomic_fetch_add(&s->buckets[b], 1);
  atomic_fetch_add(&s->sum_us, (uint_fast64_t)(us < 0 ? 0 : us));
  atomic_fetch_add(&s->count, 1);
}

void metrics_inflight_add(int delta) { atomic_fetch_add(&inflight, delta); }
int64_t metrics_inflight(void) { return atomic_load(&inflight); }

struct buf {
  char *p;
  size_t len, cap;
  int oom;
};

static void emit(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct buf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (int attempt = 0; attempt < 2; attempt++) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    if ((size_t)n < b->cap - b->len) { b->len += (size_t)n; return; }
    size_t cap = (b->cap + (size_t)n + 1) * 2;
    char *np = realloc(b->p, cap);
    if (!np) { b->oom = 1; return; }
    b->p = np;
    b->cap = cap;
  }
}

static void route_label(size_t r, char *out, size_t len) {
  if (r == METRICS_MAX_ROUTES) snprintf(out, len, "unmatched");
  else snprintf(out, len, "%s %s", routes[r].method, routes[r].pattern);
}

/* One labelled series of a histogram: buckets[nb] is +Inf; the buckets are not cumulative. */
static void emit_histogram(struct buf *b, const char *metric, const char *label_name, const char *label,
                           const int64_t *bounds_us, size_t nb, const uint64_t *buckets, uint64_t sum_us,
                           uint64_t count) {
  uint64_t cum = 0;
  for (size_t i = 0; i < nb; i++) {
    cum += buckets[i];
    emit(b, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", metric, label_name, label, (double)bounds_us[i] / 1e6,
         (unsigned long long)cum);
  }
  cum += buckets[nb];
  emit(b, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", metric, label_name, label, (unsigned long long)cum);
  emit(b, "%s_sum{%s=\"%s\"} %.6f\n", metric, label_name, label, (double)sum_us / 1e6);
  emit(b, "%s_count{%s=\"%s\"} %llu\n", metric, label_name, label, (unsigned long long)count);
}

static void render_routes(struct buf *b) {
  char label[160];
  emit(b, "# HELP mps_http_requests_total HTTP requests by route and status.\n"
          "# TYPE mps_http_requests_total counter\n");
  for (size_t r = 0; r <= METRICS_MAX_ROUTES; r++) {
    if (r >= route_count && r != METRICS_MAX_ROUTES) continue;
    route_label(r, label, sizeof label);
    for (size_t s = 0; s < STATUS_SLOTS; s++) {
      uint64_t v = atomic_load(&stats[r].by_status[s]);
      if (!v) continue;
      if (status_slots[s]) emit(b, "mps_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", label, status_slots[s], (unsigned long long)v);
      else emit(b, "mps_http_requests_total{route=\"%s\",status=\"other\"} %llu\n", label, (unsigned long long)v);
    }
  }
  emit(b, "# HELP mps_http_request_duration_seconds Time from first byte to reply, by route.\n"
          "# TYPE mps_http_request_duration_seconds histogram\n");
  for (size_t r = 0; r <= METRICS_MAX_ROUTES; r++) {
    if (r >= route_count && r != METRICS_MAX_ROUTES) continue;
    uint64_t count = atomic_load(&stats[r].count);
    if (!count) continue;
    route_label(r, label, sizeof label);
    uint64_t buckets[BUCKETS + 1];
    for (size_t i = 0; i <= BUCKETS; i++) buckets[i] = atomic_load(&stats[r].buckets[i]);
    emit_histogram(b, "mps_http_request_duration_seconds", "route", label, bucket_us, BUCKETS, buckets,
                   atomic_load(&stats[r].sum_us), count);
  }
}

/* The store's stages (exec.h): queue, run, durable, sync. */
static void render_stages(struct buf *b, const struct db_exec_stats *st) {
  emit(b, "# HELP mps_store_stage_seconds Time of a store stage: queue (submit to a store thread), run "
          "(a transaction up to its COMMIT; a SQLite group once), durable (a SQLite commit to its sync), "
          "sync (one fdatasync of the SQLite WAL).\n"
          "# TYPE mps_store_stage_seconds histogram\n");
  for (int s = 0; s < DB_STAGE_COUNT; s++) {
    const struct db_exec_hist *h = &st->stage[s];
    emit_histogram(b, "mps_store_stage_seconds", "stage", DB_EXEC_STAGE_NAMES[s], DB_EXEC_HIST_US,
                   DB_EXEC_HIST_BUCKETS, h->buckets, h->sum_us, h->count);
  }
}

char *metrics_render(struct db_exec *ex, size_t *len) {
  struct buf b = {.p = malloc(8192), .cap = 8192};
  if (!b.p) return NULL;
  render_routes(&b);
  emit(&b, "# HELP mps_http_requests_in_flight Requests being handled now.\n"
           "# TYPE mps_http_requests_in_flight gauge\nmps_http_requests_in_flight %lld\n",
       (long long)metrics_inflight());
  if (ex) {
    struct db_exec_stats st;
    db_exec_stats(ex, &st);
    const struct { const char *name, *type, *help; uint64_t value; } store[] = {
        {"mps_store_errors_total", "counter", "Store jobs that ended in a store failure.", st.jobs_failed},
        {"mps_store_jobs_total", "counter", "Store jobs finished.", st.jobs_done},
        {"mps_store_write_groups_total", "counter", "Group transactions: SQLite group commits, PostgreSQL write groups (D62).", st.write_groups},
        {"mps_store_busy_retries_total", "counter", "Jobs retried after a lock or serialization conflict.",
         st.busy_retries},
        {"mps_store_holds_merged_total", "counter",
         "PostgreSQL: statements of a write group (writes and prefetched queries) sent inside another's, over arrays (D63).", st.holds_merged},
        {"mps_store_group_reruns_total", "counter",
         "Group transactions run again: SQLite with a savepoint per job, PostgreSQL each job alone.", st.group_reruns},
        {"mps_store_jobs_inline_total", "counter",
         "SQLite read jobs run on the HTTP thread that received them.", st.jobs_inline},
        {"mps_store_round_trips_total", "counter",
         "PostgreSQL: answers the store jobs waited for from the server (a pipeline, a statement alone, a prepare; D46).",
         st.round_trips},
        {"mps_store_wal_syncs_total", "counter",
         "fdatasync() calls of the SQLite WAL by the sync thread (each covers every commit before it).",
         st.wal_syncs},
        {"mps_store_writer_checkpoints_total", "counter",
         "SQLite checkpoints run by the writer so that the WAL starts over (D48).", st.writer_checkpoints},
        {"mps_store_durable_waits_total", "counter",
         "SQLite reads answered only after a sync, because they saw a commit not yet durable.",
         st.durable_waits},
        {"mps_store_rejected_total", "counter", "Jobs refused because the queue was full or stopping.",
         st.rejected},
        {"mps_store_queue_depth", "gauge", "Store jobs waiting now.", st.queue_depth},
    };
    for (size_t i = 0; i < sizeof store / sizeof store[0]; i++) {
      emit(&b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", store[i].name, store[i].help, store[i].name,
           store[i].type, store[i].name, (unsigned long long)store[i].value);
    }
    render_stages(&b, &st);
  }
  emit(&b, "# HELP mps_build_info Version and revision of this mpsd.\n"
           "# TYPE mps_build_info gauge\nmps_build_info{version=\"%s\",revision=\"%s\"} 1\n",
       MPS_VERSION, MPS_REVISION);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  *len = b.len;
  return b.p;
}
