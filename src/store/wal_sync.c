/* wal_sync.c — fdatasync() of an SQLite WAL file from our own descriptor (wal_sync.h). */
#include "store/wal_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int wal_sync_init(struct wal_sync *w, const char *wal_path) {
  memset(w, 0, sizeof *w);
  w->fd = -1;
  size_t n = strlen(wal_path);
  if (n == 0 || n >= sizeof w->path) return -1;
  memcpy(w->path, wal_path, n + 1);
  return 0;
}

/* fsync() of the directory that holds path: a new file's name reaches the disk. */
static int sync_dir(const char *path) {
  char dir[sizeof ((struct wal_sync *)0)->path];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

/* The descriptor names the file at path now: open it (again) when it does not. */
static int ensure_open(struct wal_sync *w, char *err, size_t err_len) {
  struct stat st;
  if (w->fd >= 0 && stat(w->path, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino) return 0;
  if (w->fd >= 0) close(w->fd);
  w->fd = open(w->path, O_RDONLY | O_CLOEXEC);
  if (w->fd < 0 || fstat(w->fd, &st) != 0 || sync_dir(w->path) != 0) {
    snprintf(err, err_len, "WAL file %s: %s", w->path, strerror(errno));
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    return -1;
  }
  w->dev = st.st_dev;
  w->ino = st.st_ino;
  return 0;
}

int wal_sync_now(struct wal_sync *w, char *err, size_t err_len) {
  if (ensure_open(w, err, err_len) != 0) return -1;
  if (fdatasync(w->fd) != 0) {
    snprintf(err, err_len, "fdatasync of WAL file %s: %s", w->path, strerror(errno));
    return -1;
  }
  return 0;
}

void wal_sync_close(struct wal_sync *w) {
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
}
