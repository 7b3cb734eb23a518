/* SPDX-License-Identifier: MIT */
/*
 * Directory chores of pull, all relative to directory fds and never
 * following a symlink: the output tree is named by object keys, which come
 * from a bucket anyone with write access could have filled.
 */
#ifndef COVSHIP_PULL_FS_H
#define COVSHIP_PULL_FS_H

/* Open (creating as needed) the directory rel below dirfd, component by
 * component, refusing symlinks. Returns an fd or -errno. */
int pull_open_dirs_at(int dirfd, const char *rel);

/* Remove the tree dirfd/name (a file or a directory), not following
 * symlinks. Returns 0 or -errno; a missing name is not an error. */
int pull_rmtree_at(int dirfd, const char *name);

/* Move the directory from_dirfd/from to to_dirfd/rel (parents created). An
 * existing rel — the same bundle pulled before — is replaced, atomically for
 * readers. Returns 0 or -errno. */
int pull_place_dir(int from_dirfd, const char *from, int to_dirfd, const char *rel);

#endif
