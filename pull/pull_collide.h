/* SPDX-License-Identifier: MIT */
/*
 * Output-directory collisions, checked before anything is downloaded.
 *
 * A bundle at PREFIX/K.tar.gz is extracted to DIR/K (pull.c, output_rel), so
 * two bundles of one listing can name one directory: K.tar.gz and K.tar.zst,
 * or P//K and P/K (leading slashes of the part below the prefix are
 * dropped), or one directory can contain another's (K.tar.gz and K/x.tar.gz).
 * Placing both would silently replace (or bury) one of them while the
 * summary counts both, so such a listing is refused as a whole.
 *
 * An existing directory may only be replaced when an earlier pull left it:
 * pull writes covship-manifest.json into every directory it places, so a
 * directory holding that file (a regular file, not a symlink) is ours, and
 * anything else at that path (the user's own files) is never replaced.
 */
#ifndef COVSHIP_PULL_COLLIDE_H
#define COVSHIP_PULL_COLLIDE_H

#include <stddef.h>

/* rel[i] is bundle i's output directory below out_fd (NULL: unsafe key,
 * skipped here, refused later), key[i] its key for messages. Logs one line
 * per collision or foreign directory, naming both bundles (or the bundle
 * and the directory) and how to fix it. Returns how many were found (0:
 * go ahead), or -1 when memory ran out (logged). */
long pull_collisions_check(int out_fd, const char *out_abs, char *const *rel,
			   const char *const *key, size_t n);

#endif
