/* SPDX-License-Identifier: MIT */
/*
 * Write one bundle: the planned files (streamed, SHA-256 on the way) and
 * covship-manifest.json last, as pax + gzip or zstd, into the spool via a
 * temporary name, fsync and rename. Memory does not grow with file sizes.
 */
#ifndef COVSHIP_BUNDLE_H
#define COVSHIP_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "spool.h"
#include "tarwriter.h"

struct stage;

/* Writes spool_dir/p->bundle. Planned files that vanished or changed since
 * they were planned are left out (logged; a changed one stays in place for
 * a later bundle). On success, sha256 holds the bundle's digest (also
 * recorded in p's plan file, durable with the bundle) and *nwritten the
 * number of coverage files in it. Returns 0, or -errno with
 * one line in err (ENOSPC and friends: nothing is left behind, retry later).
 *
 * stage (NULL: none) holds members compressed ahead (stage.h). The bundle
 * is then the proven-equal staged members, in plan order, followed by one
 * last member written as without a stage (the other files, the manifest,
 * the end-of-archive blocks). Without staged members the bytes are those of
 * a single writer, as they always were. */
int bundle_build(const struct bundle_params *bp, const char *spool_dir, const struct plan *p,
		 struct stage *stage, char sha256[65], size_t *nwritten, char *err,
		 size_t errlen);

#endif
