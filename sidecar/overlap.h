/* SPDX-License-Identifier: MIT */
/*
 * Paths that must stay apart: a file:// destination and --dir (neither
 * inside the other), and a spool inside --dir. Checked once at start-up,
 * on canonical paths (realpath), compared component by component: "/a/bc"
 * is not inside "/a/b".
 */
#ifndef COVSHIP_OVERLAP_H
#define COVSHIP_OVERLAP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "options.h"

/* Canonical absolute form of path, which need not exist yet: realpath() of
 * its longest existing ancestor, the rest appended with "." and ".."
 * resolved by name. Returns 0, or -errno (e.g. -ENOTDIR under a file). */
int path_canonical(const char *path, char out[PATH_MAX]);

/* true when the canonical path inner is outer itself or below it. */
bool path_within(const char *outer, const char *inner);

/* The start-up rule for o (dest_root: the file:// destination's directory,
 * NULL for other schemes). Returns 0, or -1 with one line in err (exit 2).
 * A path that cannot be resolved is left to the check that opens it. */
int overlap_check(const struct options *o, const char *dest_root, char *err, size_t errlen);

#endif
