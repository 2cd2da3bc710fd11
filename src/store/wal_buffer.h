/* wal_buffer.h — an SQLite VFS that turns a commit's WAL writes into a few large writes.
 *
 * SQLite writes each WAL frame with two write() calls (its 24-byte header, then the page), so
 * a group commit of a few hundred pages made a few hundred system calls, and each 4 KiB page
 * of the file was touched twice (frames are 4120 bytes long: they straddle pages). This VFS
 * wraps the default one ("unix") and keeps the WAL writes of a connection in a buffer while
 * they are contiguous, then writes the buffer in 64 KiB pwrite()s before anything can depend on
 * it: before SQLite publishes a commit in the wal-index (every xShm* call, xShmBarrier
 * included, flushes first), before any other call on the WAL file (read, sync, size,
 * truncate, close, file control) and before any write or sync of another file by the same
 * thread. The buffer is found through the thread that wrote it, so only a connection that one
 * thread uses for its whole life may be opened with this VFS: the executor's SQLite writer
 * (frames written mid-transaction, when the page cache spills, stay buffered until the
 * commit, and a commit on another thread would not find them).
 *
 * Readers cannot see buffered frames: another connection reads only the frames a published
 * wal-index header names, and the header is published only after the flush. A crash loses
 * the buffer only with what was not yet published, as if the process had stopped before its
 * write() calls; recovery ignores frames without a valid commit frame either way. A failed
 * flush inside xShmBarrier (which cannot report an error) aborts the process: SQLite would
 * otherwise publish frames that are not in the file. */
#ifndef MPS_STORE_WAL_BUFFER_H
#define MPS_STORE_WAL_BUFFER_H

#define WAL_BUFFER_VFS "mps-wal-buffer"

/* Register the VFS (not as the default), wrapping the current default one. Once per process,
 * before a connection names it; SQLITE_OK or an SQLite error code. */
int wal_buffer_register(void);

/* Since the start of the process: WAL writes SQLite asked for, and write() calls made for
 * them (tests check that the second is the smaller). */
void wal_buffer_counts(unsigned long long *asked, unsigned long long *written);

#endif
