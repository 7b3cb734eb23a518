/* SPDX-License-Identifier: MIT */
/*
 * Reading the shared volume without trusting it: every path component is
 * opened with O_NOFOLLOW relative to the coverage directory, and only
 * regular files are ever read or removed.
 */
#ifndef COVSHIP_FSUTIL_H
#define COVSHIP_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Identity of a file as planned: a file whose identity changed is not the
 * file that was planned (it is being rewritten, or was replaced). */
struct file_id {
	uint64_t size;
	uint64_t ino;
	int64_t mtime_ns;
};

void file_id_from_stat(const struct stat *st, struct file_id *id);
bool file_id_equal(const struct file_id *a, const struct file_id *b);

/* true when relpath is non-empty, relative, and has no empty, "." or ".."
 * component. */
bool relpath_safe(const char *relpath);

/* Open the directory holding relpath (every component O_NOFOLLOW) and
 * return its fd; *name points at the last component inside relpath.
 * Returns -errno. */
int open_parent(int rootfd, const char *relpath, const char **name);

/* Open a regular file for reading (O_NOFOLLOW, O_NONBLOCK so a FIFO swapped
 * in never blocks) and fstat it. -ELOOP for a symlink, -EINVAL for anything
 * that is not a regular file, other -errno as they come. */
int open_regular(int rootfd, const char *relpath, struct stat *st);

/* Prefix of the private name unlink_if_same() moves a file to before it
 * removes it; never coverage data (the sidecar's matcher refuses it). */
#define FSUTIL_UNLINK_PREFIX ".covship-unlink."

/* Remove relpath only if it is still the regular file `id`: it is moved to
 * a private name in its directory (FSUTIL_UNLINK_PREFIX, never replacing),
 * checked there and unlinked, so a file renamed over relpath meanwhile is
 * never deleted; one that is not `id` is moved back without replacing. The
 * caller makes the removal durable with fsync_parent() (once per
 * directory). 0 when removed or already gone, -ESTALE when it changed
 * (kept at relpath), other -errno (then it is kept: at relpath, or, when
 * it cannot go back, e.g. -EEXIST as relpath was taken again, under the
 * private name, with a warning naming it). When relpath is already gone, a
 * private name left by an interrupted earlier call for the same file (same
 * identity) is removed: that removal is finished. */
int unlink_if_same(int rootfd, const char *relpath, const struct file_id *id);
/* fsync the directory holding relpath; 0 when it is gone. -errno. */
int fsync_parent(int rootfd, const char *relpath);

/* mkdir -p with mode for the last components. Returns -errno. */
int mkdir_p(const char *path, unsigned int mode);

/* SHA-256 of a file as 64 hex digits. Returns -errno (or -EIO for a libcrypto failure). */
int sha256_file(const char *path, char hex[65]);
void sha256_to_hex(const unsigned char *md, char hex[65]);

#endif
