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

/* Writes sp->dir/p->bundle. Planned files that vanished or changed since
 * they were planned are left out (logged; a changed one stays in place for
 * a later bundle); one that cannot be read is left out with its errno in
 * files[].unread (not logged: the caller does). Before the bundle has its
 * name, p is rewritten in the spool with its written set (files[].written
 * and sha256, p->bundled: exactly the manifest's list) and the bundle's
 * SHA-256 (p->bundle_sha256), made durable with the bundle's data. On
 * success, sha256 holds the bundle's digest and *nwritten the number of
 * coverage files in it. Returns 0, or -errno with
 * one line in err (ENOSPC and friends: nothing is left behind, retry later).
 *
 * stage (NULL: none) holds members compressed ahead (stage.h). The bundle
 * is then the proven-equal staged members, in plan order, followed by one
 * last member written as without a stage (the other files, the manifest,
 * the end-of-archive blocks). Without staged members the bytes are those of
 * a single writer, as they always were. */
int bundle_build(const struct bundle_params *bp, struct spool *sp, struct plan *p,
		 struct stage *stage, char sha256[65], size_t *nwritten, char *err,
		 size_t errlen);

#endif
