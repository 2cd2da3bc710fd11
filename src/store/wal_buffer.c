/* wal_buffer.c — the VFS of wal_buffer.h: a connection's contiguous WAL writes gathered in
 * a buffer and written in one pwrite() before anything depends on them. */
#include "store/wal_buffer.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define WB_FIRST_CAP (256 * 1024)   /* the first buffer; doubled as a commit needs */
#define WB_MAX_CAP (8 * 1024 * 1024) /* a longer run of writes is written as it comes */
#define WB_PIECE (64 * 1024)          /* bytes per write() of a flush */

struct wb_file {
  sqlite3_file base; /* pMethods = &wb_io */
  sqlite3_file *real; /* the wrapped VFS's file, right after this struct */
  bool wal;
  char *buf;
  size_t len, cap;
  sqlite3_int64 off; /* the file offset of buf[0] */
};

static sqlite3_vfs *real_vfs;
/* this thread's buffered WAL, if any: the only file with bytes in its buffer (a write to any
 * other file flushes it first) */
static _Thread_local struct wb_file *pending;
static atomic_ullong n_asked, n_written;       /* wal_buffer_counts */

/* In pieces: the unix VFS writes at most 128 KiB - 1 bytes per call (it masks longer ones). */
static int wb_flush(struct wb_file *f) {
  if (pending == f) pending = NULL;
  int rc = SQLITE_OK;
  for (size_t done = 0; done < f->len && rc == SQLITE_OK; done += WB_PIECE) {
    size_t n = f->len - done < WB_PIECE ? f->len - done : WB_PIECE;
    rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)n, f->off + (sqlite3_int64)done);
    atomic_fetch_add_explicit(&n_written, 1, memory_order_relaxed);
  }
  f->len = 0;
  return rc;
}

static int flush_pending(void) { return pending ? wb_flush(pending) : SQLITE_OK; }

/* Buffer a write that starts where the buffer ends (or start a new buffer); false when it
 * does not fit, and the caller writes it through. */
static bool wb_append(struct wb_file *f, const void *data, size_t n, sqlite3_int64 ofst) {
  if (f->len > 0 && ofst != f->off + (sqlite3_int64)f->len) return false;
  size_t need = f->len + n;
  if (need > WB_MAX_CAP) return false;
  if (need > f->cap) {
    size_t cap = f->cap ? f->cap : WB_FIRST_CAP;
    while (cap < need) cap *= 2; /* bounded: need <= WB_MAX_CAP, a power-of-two multiple of the first */
    char *buf = realloc(f->buf, cap);
    if (buf == NULL) return false;
    f->buf = buf;
    f->cap = cap;
  }
  if (f->len == 0) f->off = ofst;
  memcpy(f->buf + f->len, data, n);
  f->len = need;
  pending = f;
  return true;
}

/* ---- file methods: flush first wherever the written bytes could matter ---------------- */

static int wb_close(sqlite3_file *file) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = wb_flush(f);
  int crc = f->real->pMethods->xClose(f->real);
  free(f->buf);
  f->buf = NULL;
  f->cap = 0;
  return rc != SQLITE_OK ? rc : crc;
}

static int wb_read(sqlite3_file *file, void *out, int amt, sqlite3_int64 ofst) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = f->wal ? wb_flush(f) : SQLITE_OK;
  return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, amt, ofst);
}

static int wb_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 ofst) {
  struct wb_file *f = (struct wb_file *)file;
  if (pending != NULL && pending != f) { /* another file's bytes go first, in order */
    int rc = flush_pending();
    if (rc != SQLITE_OK) return rc;
  }
  if (f->wal && amt > 0) {
    atomic_fetch_add_explicit(&n_asked, 1, memory_order_relaxed);
    if (wb_append(f, data, (size_t)amt, ofst)) return SQLITE_OK;
    int rc = wb_flush(f); /* not contiguous, or too long: what is buffered first */
    if (rc != SQLITE_OK) return rc;
    if (wb_append(f, data, (size_t)amt, ofst)) return SQLITE_OK;
    atomic_fetch_add_explicit(&n_written, 1, memory_order_relaxed);
  }
  return f->real->pMethods->xWrite(f->real, data, amt, ofst);
}

static int wb_truncate(sqlite3_file *file, sqlite3_int64 size) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = f->wal ? wb_flush(f) : SQLITE_OK;
  return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *file, int flags) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = flush_pending(); /* f's own bytes too: only the pending file holds any */
  return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_file_size(sqlite3_file *file, sqlite3_int64 *size) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = f->wal ? wb_flush(f) : SQLITE_OK;
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wb_lock(sqlite3_file *file, int level) {
  struct wb_file *f = (struct wb_file *)file;
  return f->real->pMethods->xLock(f->real, level);
}

static int wb_unlock(sqlite3_file *file, int level) {
  struct wb_file *f = (struct wb_file *)file;
  return f->real->pMethods->xUnlock(f->real, level);
}

static int wb_check_reserved(sqlite3_file *file, int *out) {
  struct wb_file *f = (struct wb_file *)file;
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wb_file_control(sqlite3_file *file, int op, void *arg) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = f->wal ? wb_flush(f) : SQLITE_OK;
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wb_sector_size(sqlite3_file *file) {
  struct wb_file *f = (struct wb_file *)file;
  return f->real->pMethods->xSectorSize(f->real);
}

static int wb_device_characteristics(sqlite3_file *file) {
  struct wb_file *f = (struct wb_file *)file;
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* The wal-index (shared memory) belongs to the database file; every call on it flushes this
 * thread's WAL buffer first, so no header ever names a frame that is not in the file. */
static int wb_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = flush_pending();
  return rc != SQLITE_OK ? rc : f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}

static int wb_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = flush_pending();
  return rc != SQLITE_OK ? rc : f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void wb_shm_barrier(sqlite3_file *file) {
  struct wb_file *f = (struct wb_file *)file;
  errno = 0;
  int rc = flush_pending();
  if (rc != SQLITE_OK) { /* cannot be reported: SQLite would publish the frames */
    int e = errno;         /* the failed write's: ENOSPC or EFBIG for a full disk */
    fprintf(stderr, "store: fatal: writing the SQLite WAL failed (%s%s%s); stopping\n", sqlite3_errstr(rc),
            e ? ": " : "", e ? strerror(e) : "");
    abort();
  }
  f->real->pMethods->xShmBarrier(f->real);
}

static int wb_shm_unmap(sqlite3_file *file, int delete_flag) {
  struct wb_file *f = (struct wb_file *)file;
  int rc = flush_pending();
  return rc != SQLITE_OK ? rc : f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int wb_fetch(sqlite3_file *file, sqlite3_int64 ofst, int amt, void **out) {
  struct wb_file *f = (struct wb_file *)file;
  return f->real->pMethods->xFetch(f->real, ofst, amt, out);
}

static int wb_unfetch(sqlite3_file *file, sqlite3_int64 ofst, void *p) {
  struct wb_file *f = (struct wb_file *)file;
  return f->real->pMethods->xUnfetch(f->real, ofst, p);
}

/* The methods of every file; v3 adds shared memory and memory mapping. */
#define WB_IO_V1                                                                          \
  .xClose = wb_close, .xRead = wb_read, .xWrite = wb_write, .xTruncate = wb_truncate,    \
  .xSync = wb_sync, .xFileSize = wb_file_size, .xLock = wb_lock, .xUnlock = wb_unlock,   \
  .xCheckReservedLock = wb_check_reserved, .xFileControl = wb_file_control,             \
  .xSectorSize = wb_sector_size, .xDeviceCharacteristics = wb_device_characteristics

static const sqlite3_io_methods wb_io = {
    .iVersion = 3,
    WB_IO_V1,
    .xShmMap = wb_shm_map,
    .xShmLock = wb_shm_lock,
    .xShmBarrier = wb_shm_barrier,
    .xShmUnmap = wb_shm_unmap,
    .xFetch = wb_fetch,
    .xUnfetch = wb_unfetch,
};

/* A file of the real VFS without shared memory or memory mapping (a temporary file, say). */
static const sqlite3_io_methods wb_io_v1 = {.iVersion = 1, WB_IO_V1};

/* ---- the VFS: opens wrap the real files; everything else is the real VFS's ---------- */

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
  (void)vfs;
  struct wb_file *f = (struct wb_file *)file;
  memset(f, 0, sizeof *f);
  f->real = (sqlite3_file *)(f + 1);
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
  /* SQLite closes a file whose pMethods is set, whatever xOpen returned */
  const sqlite3_io_methods *m = f->real->pMethods;
  bool v3 = m != NULL && m->iVersion >= 3 && m->xShmMap && m->xShmLock && m->xShmBarrier &&
            m->xShmUnmap && m->xFetch && m->xUnfetch;
  f->base.pMethods = m == NULL ? NULL : (v3 ? &wb_io : &wb_io_v1);
  return rc;
}

static int wb_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs;
  return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int wb_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  (void)vfs;
  return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int wb_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
  (void)vfs;
  return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *wb_dl_open(sqlite3_vfs *vfs, const char *name) {
  (void)vfs;
  return real_vfs->xDlOpen(real_vfs, name);
}

static void wb_dl_error(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  real_vfs->xDlError(real_vfs, n, out);
}

static void (*wb_dl_sym(sqlite3_vfs *vfs, void *handle, const char *sym))(void) {
  (void)vfs;
  return real_vfs->xDlSym(real_vfs, handle, sym);
}

static void wb_dl_close(sqlite3_vfs *vfs, void *handle) {
  (void)vfs;
  real_vfs->xDlClose(real_vfs, handle);
}

static int wb_randomness(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  return real_vfs->xRandomness(real_vfs, n, out);
}

static int wb_sleep(sqlite3_vfs *vfs, int us) {
  (void)vfs;
  return real_vfs->xSleep(real_vfs, us);
}

static int wb_current_time(sqlite3_vfs *vfs, double *out) {
  (void)vfs;
  return real_vfs->xCurrentTime(real_vfs, out);
}

static int wb_last_error(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  return real_vfs->xGetLastError(real_vfs, n, out);
}

static int wb_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
  (void)vfs;
  return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static sqlite3_vfs wb_vfs = {
    .iVersion = 2,
    .zName = WAL_BUFFER_VFS,
    .xOpen = wb_open,
    .xDelete = wb_delete,
    .xAccess = wb_access,
    .xFullPathname = wb_full_pathname,
    .xDlOpen = wb_dl_open,
    .xDlError = wb_dl_error,
    .xDlSym = wb_dl_sym,
    .xDlClose = wb_dl_close,
    .xRandomness = wb_randomness,
    .xSleep = wb_sleep,
    .xCurrentTime = wb_current_time,
    .xGetLastError = wb_last_error,
    .xCurrentTimeInt64 = wb_current_time_int64,
};

void wal_buffer_counts(unsigned long long *asked, unsigned long long *written) {
  *asked = atomic_load_explicit(&n_asked, memory_order_relaxed);
  *written = atomic_load_explicit(&n_written, memory_order_relaxed);
}

int wal_buffer_register(void) {
  if (real_vfs != NULL) return SQLITE_OK;
  sqlite3_vfs *def = sqlite3_vfs_find(NULL);
  if (def == NULL || def->iVersion < 2 || def->xCurrentTimeInt64 == NULL) return SQLITE_ERROR;
  real_vfs = def;
  wb_vfs.szOsFile = (int)sizeof(struct wb_file) + def->szOsFile;
  wb_vfs.mxPathname = def->mxPathname;
  return sqlite3_vfs_register(&wb_vfs, 0);
}
