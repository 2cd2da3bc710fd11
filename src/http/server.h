/* server.h — the HTTP server: libmicrohttpd with its epoll thread pool, the request
 * lifecycle (headers -> bounded body -> route -> handler -> optional store job with the
 * connection suspended -> reply -> access log + metrics), and graceful shutdown. */
#ifndef MPS_HTTP_SERVER_H
#define MPS_HTTP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "http/router.h"
#include "store/exec.h"

#define APP_STOP_HOOKS 8

struct app {
  struct mps_config cfg;
  db_exec *exec;
  const struct route *routes;
  size_t route_count;
  int port; /* the bound port (cfg.port may be 0) */
  int64_t started_ms;
  atomic_bool stopping;
  void *daemon; /* struct MHD_Daemon * */
  /* background workers' stop functions (server_on_stop), run newest first by
   * server_shutdown before the store executor stops */
  struct {
    void (*fn)(void *arg);
    void *arg;
  } on_stop[APP_STOP_HOOKS];
  int on_stop_count;
};

/* Bind and start serving. 0, or -1 with a message. */
int server_start(struct app *app, char *err, size_t err_len);
/* Register fn(arg) to run at shutdown before the store executor stops (a background
 * worker that submits store jobs). 0, or -1 when APP_STOP_HOOKS are taken. */
int server_on_stop(struct app *app, void (*fn)(void *arg), void *arg);
/* Stop accepting, let in-flight requests finish (bounded by cfg.shutdown_timeout_s),
 * run the stop hooks, stop the store executor (which finishes its queue), then stop the
 * daemon. */
void server_shutdown(struct app *app);

#endif
