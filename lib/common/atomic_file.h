/* SPDX-License-Identifier: MIT */
/*
 * Durable, atomic replacement of a small file: write DIR/.NAME.tmp.PID,
 * fsync it, rename it over DIR/NAME, fsync DIR. A reader sees either the old
 * file or the whole new one, and after a crash the new one is on disk.
 */
#ifndef COVSHIP_ATOMIC_FILE_H
#define COVSHIP_ATOMIC_FILE_H

#include <stddef.h>

/* Returns 0, or -errno of the step that failed (the temporary is removed). */
int atomic_write_file(const char *dir, const char *name, const void *data, size_t len,
		      unsigned int mode);

/* fsync a directory by path: makes a rename or unlink in it durable. */
int fsync_dir(const char *dir);

/* Write all of buf, retrying short writes and EINTR. Returns 0 or -errno. */
int write_all_fd(int fd, const void *buf, size_t len);

#endif
