/* wal_sync.h — making an SQLite write-ahead log durable from a thread of our own.
 *
 * The executor's writer commits with synchronous=NORMAL: COMMIT writes the transaction's
 * frames to the WAL file and returns without waiting for the disk. The sync thread then calls
 * wal_sync_now(), whose fdatasync() covers every frame written before it started, and only
 * after that are the commits acknowledged (exec.c). So the writer runs the next group while
 * the disk syncs the last one, and nothing is acknowledged before it is on disk.
 *
 * The file is opened read-only by path (fdatasync() needs no write access on Linux). SQLite
 * takes no locks on the WAL file itself (they are on the database and its -shm), so our own
 * descriptor of it, and closing it, leave SQLite's locks alone. When the path names another
 * file than the one open (the WAL was deleted and made again), the new one is opened and its
 * directory synced, so that the file's name is durable too. */
#ifndef MPS_STORE_WAL_SYNC_H
#define MPS_STORE_WAL_SYNC_H

#include <stddef.h>
#include <sys/types.h>

struct wal_sync {
  char path[4096];
  int fd; /* -1 until the first sync */
  dev_t dev;
  ino_t ino;
};

/* 0, or -1 when the path does not fit. */
int wal_sync_init(struct wal_sync *w, const char *wal_path);
/* fdatasync() of the WAL file (opened first, or again when the path names another file).
 * 0, or -1 with the reason in err: the caller cannot know what reached the disk. */
int wal_sync_now(struct wal_sync *w, char *err, size_t err_len);
void wal_sync_close(struct wal_sync *w);

#endif
