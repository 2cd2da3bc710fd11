/* loadgen.c — a small HTTP/1.1 load generator for mpsd (keep-alive, epoll, raw sockets;
 * libsodium for the callback HMAC, jansson to read the 202 body). Built by bench/run.sh.
 *
 *   loadgen --url http://127.0.0.1:PORT --mode ext|pay|read --seed DIR --token TOKEN
 *           [--secret S] [--connections 64] [--threads 2] [--duration 10] [--warmup 0]
 *           [--amount N] [--store LABEL]
 *
 * Modes (every connection has one request in flight; members are picked at random from
 * DIR/members.txt, for ext from DIR/members_ext.txt: bench/seed.c):
 *   ext   external payment then its signed callback, per iteration:
 *           1. POST /api/payment/verify with orderAmount = --amount (more than any wallet
 *              holds): expects 202 and reads paymentIntent.{paymentTxnId, amount};
 *           2. POST /api/payment/callback {merchantId, paymentTxnId, externalTxnId,
 *              status:"SUCCEEDED", paidAmount, callbackId} with X-Payment-Signature = hex
 *              HMAC-SHA256(secret, raw body): expects 200.
 *         Rows: ext-flow (both steps, latency from step 1 sent to step 2 answered),
 *         ext-verify, ext-callback.
 *   pay   POST /api/payment/verify, expects 200 (PAID at once). Row: pay.
 *   read  round robin of POST /api/payment/quote, GET /api/wallet and
 *         GET /api/merchants/{m}/transactions?limit=20, each expecting 200.
 *         Rows: read (all), read-quote, read-wallet, read-txlist.
 * A request counts when its answer arrives inside the measured window (after --warmup);
 * an unexpected status, a replayed answer (Idempotent-Replayed), an answer that is not what
 * was asked (a pay not PAID, a callback not SETTLED, a 202 without its paymentIntent) or a
 * socket error is an error (wrong_answer counts the replies with the right status but the
 * wrong content). Prints one JSON
 * line per row (the fields of bench/README.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { K_PAY, K_EXT_VERIFY, K_CALLBACK, K_QUOTE, K_WALLET, K_TXLIST, K_FLOW, K_COUNT };
static const char *kind_row[K_COUNT] = {"pay", "ext-verify", "ext-callback", "read-quote",
                                        "read-wallet", "read-txlist", "ext-flow"};
static const int kind_expect[K_COUNT] = {200, 202, 200, 200, 200, 200, 0};

enum mode { M_PAY, M_EXT, M_READ };

static struct {
  enum mode mode;
  struct sockaddr_in addr;
  char host[128];
  char token[2048];
  char secret[256];
  char merchant[65];
  char (*members)[65];
  int member_count;
  int64_t amount;
  int64_t win_start, win_end;
  char nonce[32];
} cfg;

struct stat_row {
  uint64_t ok, errors, socket_errors;
  uint64_t bad_status[6]; /* 2xx other, 4xx, 409, 422, 5xx, other */
  uint32_t *lat;
  size_t n, cap;
};

struct conn {
  int fd;
  bool connected, want_out;
  enum kind kind;     /* the request in flight */
  int read_turn;      /* read mode: next of quote/wallet/txlist */
  char out[8192];
  size_t out_len, out_off;
  char *in;
  size_t in_len, in_cap;
  int64_t sent_ns, flow_ns;
  char pay_id[65];
  int64_t pay_amount;
  int member;
  uint64_t seq;
  struct worker *w;
};

struct worker {
  int id, nconn, ep;
  struct conn *conns;
  struct stat_row rows[K_COUNT];
  uint32_t rng;
  pthread_t th;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool in_window(int64_t t) { return t >= cfg.win_start && t < cfg.win_end; }

static void lat_add(struct stat_row *r, int64_t ns) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8192;
    uint32_t *v = realloc(r->lat, cap * sizeof *v);
    if (!v) return;
    r->lat = v;
    r->cap = cap;
  }
  int64_t us = ns / 1000;
  r->lat[r->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static uint32_t rnd(struct worker *w) {
  uint32_t x = w->rng;
  x ^= x << 13, x ^= x >> 17, x ^= x << 5;
  return w->rng = x;
}

/* ---- requests ---- */

static void build(struct conn *c, const char *method, const char *path, const char *extra_headers,
                  const char *body) {
  size_t blen = body ? strlen(body) : 0;
  int n = snprintf(c->out, sizeof c->out, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%sContent-Length: %zu\r\n\r\n%s",
                   method, path, cfg.host, extra_headers, body ? "Content-Type: application/json\r\n" : "", blen,
                   body ? body : "");
  c->out_len = n > 0 && (size_t)n < sizeof c->out ? (size_t)n : 0;
  c->out_off = 0;
}

static void next_request(struct conn *c) {
  struct worker *w = c->w;
  char headers[2400], body[1024], path[512];
  c->seq++;
  if (cfg.mode == M_EXT && c->kind == K_EXT_VERIFY && c->pay_id[0]) { /* step 2: the callback */
    snprintf(body, sizeof body,
             "{\"merchantId\":\"%s\",\"paymentTxnId\":\"%s\",\"externalTxnId\":\"gx-%s-%d-%d-%llu\","
             "\"status\":\"SUCCEEDED\",\"paidAmount\":%lld,\"callbackId\":\"cb-%s-%d-%d-%llu\"}",
             cfg.merchant, c->pay_id, cfg.nonce, w->id, (int)(c - w->conns), (unsigned long long)c->seq,
             (long long)c->pay_amount, cfg.nonce, w->id, (int)(c - w->conns), (unsigned long long)c->seq);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)cfg.secret, strlen(cfg.secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(headers, sizeof headers, "X-Payment-Signature: %s\r\n", hex);
    c->kind = K_CALLBACK;
    build(c, "POST", "/api/payment/callback", headers, body);
    return;
  }
  c->member = (int)(rnd(w) % (uint32_t)cfg.member_count);
  const char *member = cfg.members[c->member];
  if (cfg.mode == M_PAY || cfg.mode == M_EXT) {
    c->kind = cfg.mode == M_PAY ? K_PAY : K_EXT_VERIFY;
    c->pay_id[0] = '\0';
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nIdempotency-Key: lg-%s-%d-%d-%llu\r\n",
             cfg.token, cfg.nonce, w->id, (int)(c - w->conns), (unsigned long long)c->seq);
    snprintf(body, sizeof body, "{\"merchantId\":\"%s\",\"userId\":\"%s\",\"orderAmount\":%lld}", cfg.merchant,
             member, (long long)cfg.amount);
    build(c, "POST", "/api/payment/verify", headers, body);
    return;
  }
  snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\n", cfg.token);
  switch (c->read_turn++ % 3) {
    case 0:
      c->kind = K_QUOTE;
      snprintf(body, sizeof body, "{\"merchantId\":\"%s\",\"userId\":\"%s\",\"orderAmount\":5200}", cfg.merchant, member);
      build(c, "POST", "/api/payment/quote", headers, body);
      break;
    case 1:
      c->kind = K_WALLET;
      snprintf(path, sizeof path, "/api/wallet?merchantId=%s&userId=%s", cfg.merchant, member);
      build(c, "GET", path, headers, NULL);
      break;
    default:
      c->kind = K_TXLIST;
      snprintf(path, sizeof path, "/api/merchants/%s/transactions?limit=20", cfg.merchant);
      build(c, "GET", path, headers, NULL);
      break;
  }
}

/* ---- connections ---- */

static int conn_open(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->connected = false;
  c->want_out = true;
  c->in_len = 0;
  if (connect(c->fd, (struct sockaddr *)&cfg.addr, sizeof cfg.addr) != 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  return 0;
}

static void conn_reset(struct conn *c) {
  if (c->fd >= 0) {
    epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->kind = K_PAY;
  c->pay_id[0] = '\0';
  if (conn_open(c) != 0) usleep(1000);
}

static void want(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void fail(struct conn *c, int status);

/* Write what is left of the request; wait for EPOLLOUT only when the socket is full. */
static void flush(struct conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c->want_out) want(c, EPOLLIN | EPOLLOUT);
      c->want_out = true;
      return;
    }
    if (n <= 0) {
      fail(c, 0);
      conn_reset(c);
      return;
    }
    c->out_off += (size_t)n;
  }
  if (c->want_out) want(c, EPOLLIN);
  c->want_out = false;
}

static void start(struct conn *c) {
  next_request(c);
  c->sent_ns = now_ns();
  if (c->kind != K_CALLBACK) c->flow_ns = c->sent_ns;
  flush(c);
}

static void fail(struct conn *c, int status) {
  int64_t t = now_ns();
  struct worker *w = c->w;
  if (!in_window(t)) return;
  struct stat_row *r = &w->rows[c->kind];
  r->errors++;
  if (status == 0) r->socket_errors++;
  else if (status / 100 == 2) r->bad_status[0]++;
  else if (status == 409) r->bad_status[2]++;
  else if (status == 422) r->bad_status[3]++;
  else if (status / 100 == 4) r->bad_status[1]++;
  else if (status / 100 == 5) r->bad_status[4]++;
  else r->bad_status[5]++;
  if (c->kind == K_EXT_VERIFY || c->kind == K_CALLBACK) w->rows[K_FLOW].errors++;
}

static bool parse_intent(struct conn *c, const char *body, size_t len) {
  json_t *j = json_loadb(body, len, 0, NULL);
  if (!j) return false;
  json_t *pi = json_object_get(j, "paymentIntent");
  const char *id = json_string_value(json_object_get(pi, "paymentTxnId"));
  json_t *amount = json_object_get(pi, "amount");
  bool ok = id && strlen(id) < sizeof c->pay_id && json_is_integer(amount);
  if (ok) {
    snprintf(c->pay_id, sizeof c->pay_id, "%s", id);
    c->pay_amount = json_integer_value(amount);
  }
  json_decref(j);
  return ok;
}

#define has(buf, len, lit) (memmem((buf), (len), (lit), sizeof(lit) - 1) != NULL)

/* A whole response is in c->in: account for it and send the next request. */
static void on_response(struct conn *c, int status, bool replayed, const char *body, size_t body_len) {
  int64_t t = now_ns();
  struct worker *w = c->w;
  bool ok = status == kind_expect[c->kind] && !replayed;
  if (ok && c->kind == K_EXT_VERIFY) ok = parse_intent(c, body, body_len);
  if (ok && c->kind == K_CALLBACK) ok = has(body, body_len, "\"outcome\":\"SETTLED\"");
  if (ok && c->kind == K_PAY) ok = has(body, body_len, "\"status\":\"PAID\"");
  if (!ok && status == kind_expect[c->kind]) status = 1; /* right status, wrong answer */
  if (!ok) {
    fail(c, status);
    c->pay_id[0] = '\0';
    c->kind = K_PAY; /* restart the flow */
    start(c);
    return;
  }
  if (in_window(t)) {
    struct stat_row *r = &w->rows[c->kind];
    r->ok++;
    lat_add(r, t - c->sent_ns);
    if (c->kind == K_CALLBACK) {
      w->rows[K_FLOW].ok++;
      lat_add(&w->rows[K_FLOW], t - c->flow_ns);
    }
  }
  if (c->kind == K_CALLBACK) c->pay_id[0] = '\0';
  start(c);
}

static const char *find_header_end(const char *s, size_t n) {
  for (size_t i = 3; i < n; i++) {
    if (s[i] == '\n' && s[i - 1] == '\r' && s[i - 2] == '\n' && s[i - 3] == '\r') return s + i + 1;
  }
  return NULL;
}

static long content_length(const char *head, size_t n) {
  const char *p = head, *end = head + n;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) break;
    if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) return strtol(p + 15, NULL, 10);
    p = eol + 1;
  }
  return -1;
}

static void on_readable(struct conn *c) {
  for (;;) {
    if (c->in_cap - c->in_len < 4096) {
      size_t cap = c->in_cap ? c->in_cap * 2 : 16384;
      char *b = realloc(c->in, cap);
      if (!b) abort();
      c->in = b;
      c->in_cap = cap;
    }
    ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0) { /* closed or failed: count the request in flight, reconnect */
      if (c->out_len) fail(c, 0);
      conn_reset(c);
      return;
    }
    c->in_len += (size_t)r;
    const char *body = find_header_end(c->in, c->in_len);
    if (!body) continue;
    size_t head_len = (size_t)(body - c->in);
    long cl = content_length(c->in, head_len);
    if (cl < 0) cl = 0;
    if (c->in_len < head_len + (size_t)cl) continue;
    int status = c->in_len > 12 ? atoi(c->in + 9) : 0;
    bool replayed = has(c->in, head_len, "Idempotent-Replayed");
    c->in_len = 0; /* one request in flight: nothing follows */
    on_response(c, status, replayed, body, (size_t)cl);
    return;
  }
}

static void on_writable(struct conn *c) {
  if (!c->connected) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      conn_reset(c);
      return;
    }
    c->connected = true;
    c->want_out = true; /* registered for EPOLLOUT while connecting */
    start(c);
    return;
  }
  flush(c);
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  w->ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < w->nconn; i++) {
    w->conns[i].w = w;
    w->conns[i].fd = -1;
    conn_open(&w->conns[i]);
  }
  struct epoll_event evs[256];
  int64_t revive_ns = 0;
  while (now_ns() < cfg.win_end) {
    if (now_ns() > revive_ns) { /* connections that could not even reconnect: try again */
      for (int i = 0; i < w->nconn; i++) {
        if (w->conns[i].fd < 0) conn_open(&w->conns[i]);
      }
      revive_ns = now_ns() + 100000000LL;
    }
    int n = epoll_wait(w->ep, evs, 256, 10);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
        if (c->connected && c->out_len) fail(c, 0);
        conn_reset(c);
        continue;
      }
      if (evs[i].events & EPOLLOUT) on_writable(c);
      if (c->fd >= 0 && (evs[i].events & EPOLLIN) && c->connected) on_readable(c);
    }
  }
  for (int i = 0; i < w->nconn; i++) {
    if (w->conns[i].fd >= 0) close(w->conns[i].fd);
    free(w->conns[i].in);
  }
  close(w->ep);
  return NULL;
}

/* ---- results ---- */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(const struct stat_row *r, double p) {
  if (!r->n) return 0;
  size_t i = (size_t)(p / 100.0 * (double)r->n);
  if (i >= r->n) i = r->n - 1;
  return r->lat[i] / 1000.0;
}

static void merge(struct stat_row *into, const struct stat_row *from) {
  into->ok += from->ok;
  into->errors += from->errors;
  into->socket_errors += from->socket_errors;
  for (int i = 0; i < 6; i++) into->bad_status[i] += from->bad_status[i];
  for (size_t i = 0; i < from->n; i++) lat_add(into, (int64_t)from->lat[i] * 1000);
}

static void print_row(const char *name, struct stat_row *r, const char *store, int conns, double secs) {
  qsort(r->lat, r->n, sizeof *r->lat, cmp_u32);
  printf("{\"workload\":\"%s\",\"store\":\"%s\",\"tool\":\"loadgen\",\"connections\":%d,\"seconds\":%.3f,"
         "\"requests\":%llu,\"rps\":%.1f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
         "\"errors\":%llu,\"socket_errors\":%llu,\"status_2xx_other\":%llu,\"status_4xx\":%llu,"
         "\"status_409\":%llu,\"status_422\":%llu,\"status_5xx\":%llu,\"wrong_answer\":%llu}\n",
         name, store, conns, secs, (unsigned long long)r->ok, (double)r->ok / secs, pct(r, 50), pct(r, 95),
         pct(r, 99), pct(r, 100), (unsigned long long)r->errors, (unsigned long long)r->socket_errors,
         (unsigned long long)r->bad_status[0], (unsigned long long)r->bad_status[1],
         (unsigned long long)r->bad_status[2], (unsigned long long)r->bad_status[3],
         (unsigned long long)r->bad_status[4], (unsigned long long)r->bad_status[5]);
}

static const char *opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return def;
}

static int load_seed(const char *dir, const char *members_file) {
  char path[4096], line[512];
  snprintf(path, sizeof path, "%s/seed.env", dir);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "MERCHANT_ID=", 12) == 0) snprintf(cfg.merchant, sizeof cfg.merchant, "%.64s", line + 12);
  }
  fclose(f);
  snprintf(path, sizeof path, "%s/%s", dir, members_file);
  f = fopen(path, "r");
  if (!f) return -1;
  int cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) continue;
    if (cfg.member_count == cap) {
      cap = cap ? 2 * cap : 1024;
      cfg.members = realloc(cfg.members, (size_t)cap * sizeof *cfg.members);
      if (!cfg.members) abort();
    }
    snprintf(cfg.members[cfg.member_count++], 65, "%.64s", line);
  }
  fclose(f);
  return cfg.merchant[0] && cfg.member_count ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *url = opt(argc, argv, "--url", NULL);
  const char *mode = opt(argc, argv, "--mode", "ext");
  const char *seed = opt(argc, argv, "--seed", NULL);
  const char *token = opt(argc, argv, "--token", NULL);
  const char *store = opt(argc, argv, "--store", "");
  int conns = atoi(opt(argc, argv, "--connections", "64"));
  int threads = atoi(opt(argc, argv, "--threads", "2"));
  double duration = atof(opt(argc, argv, "--duration", "10"));
  double warmup = atof(opt(argc, argv, "--warmup", "0"));
  snprintf(cfg.secret, sizeof cfg.secret, "%s", opt(argc, argv, "--secret", ""));
  cfg.amount = strtoll(opt(argc, argv, "--amount", "0"), NULL, 10);
  cfg.mode = strcmp(mode, "pay") == 0 ? M_PAY : strcmp(mode, "read") == 0 ? M_READ : M_EXT;
  unsigned port = 0;
  char ip[64] = "";
  if (!url || sscanf(url, "http://%63[0-9.]:%u", ip, &port) != 2 || !seed || !token || conns < 1 ||
      threads < 1 || duration <= 0 || (strcmp(mode, "ext") && strcmp(mode, "pay") && strcmp(mode, "read")) ||
      (cfg.mode == M_EXT && !cfg.secret[0])) {
    fprintf(stderr, "usage: loadgen --url http://IP:PORT --mode ext|pay|read --seed DIR --token TOKEN "
                    "[--secret S] [--connections N] [--threads N] [--duration S] [--warmup S] [--amount N]\n");
    return 2;
  }
  /* ext: more than an external member's wallet (bench/seed.c --fund-ext, 1000) holds, and below
   * 2^31: larger amounts trip a PostgreSQL int4 parameter in ledger.c (docs/PERFORMANCE.md) */
  if (cfg.amount <= 0) cfg.amount = cfg.mode == M_EXT ? 5000000 : 100;
  if (sodium_init() < 0) return 1;
  /* external payments drain a wallet: they use members of their own (bench/seed.c) */
  const char *members_file = cfg.mode == M_EXT ? "members_ext.txt" : "members.txt";
  if (load_seed(seed, members_file) != 0) {
    fprintf(stderr, "loadgen: cannot read %s/seed.env and %s\n", seed, members_file);
    return 1;
  }
  snprintf(cfg.token, sizeof cfg.token, "%s", token);
  snprintf(cfg.host, sizeof cfg.host, "%s:%u", ip, port);
  cfg.addr.sin_family = AF_INET;
  cfg.addr.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, ip, &cfg.addr.sin_addr);
  snprintf(cfg.nonce, sizeof cfg.nonce, "%llx", (unsigned long long)(now_ns() / 1000) ^ (unsigned long long)getpid());
  if (threads > conns) threads = conns;
  int64_t t0 = now_ns();
  cfg.win_start = t0 + (int64_t)(warmup * 1e9);
  cfg.win_end = cfg.win_start + (int64_t)(duration * 1e9);
  struct worker *ws = calloc((size_t)threads, sizeof *ws);
  for (int i = 0; i < threads; i++) {
    ws[i].id = i;
    ws[i].nconn = conns / threads + (i < conns % threads);
    ws[i].conns = calloc((size_t)ws[i].nconn, sizeof *ws[i].conns);
    ws[i].rng = 0x9e3779b9u * (uint32_t)(i + 1) ^ (uint32_t)getpid();
    pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
  }
  struct stat_row total[K_COUNT] = {0};
  for (int i = 0; i < threads; i++) {
    pthread_join(ws[i].th, NULL);
    for (int k = 0; k < K_COUNT; k++) merge(&total[k], &ws[i].rows[k]);
  }
  if (cfg.mode == M_PAY) {
    print_row("pay", &total[K_PAY], store, conns, duration);
  } else if (cfg.mode == M_EXT) {
    print_row("ext-flow", &total[K_FLOW], store, conns, duration);
    print_row(kind_row[K_EXT_VERIFY], &total[K_EXT_VERIFY], store, conns, duration);
    print_row(kind_row[K_CALLBACK], &total[K_CALLBACK], store, conns, duration);
  } else {
    struct stat_row all = {0};
    for (int k = K_QUOTE; k <= K_TXLIST; k++) merge(&all, &total[k]);
    print_row("read", &all, store, conns, duration);
    for (int k = K_QUOTE; k <= K_TXLIST; k++) print_row(kind_row[k], &total[k], store, conns, duration);
  }
  return 0;
}
