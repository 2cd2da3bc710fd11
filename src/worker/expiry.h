/* expiry.h — the background expiry sweep: a thread that every interval submits one WRITE
 * job (service/expiry.h) to the store executor and waits for it (db_exec_run_sync: never
 * on an HTTP or store thread). When a batch was full it goes again at once. Stops promptly:
 * it waits on a condition variable with a timeout, not in sleep(). Stop it before the
 * executor (server_shutdown runs the app's stop hooks first). */
#ifndef MPS_WORKER_EXPIRY_H
#define MPS_WORKER_EXPIRY_H

#include "store/exec.h"

struct expiry_worker;

/* Start the sweep every interval_s seconds (>= 1). NULL with a message on failure. */
struct expiry_worker *expiry_worker_start(db_exec *ex, int interval_s, char *err, size_t err_len);
/* Wake it, wait for a running batch to finish, join, free. NULL is fine. The signature
 * fits server_on_stop(). */
void expiry_worker_stop(void *worker);

#endif
