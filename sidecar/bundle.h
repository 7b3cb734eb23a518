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

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "options.h"
#include "spool.h"

struct bundle_params {
	int rootfd;               /* the coverage directory */
	enum compression compression;
	int level;                /* -1: library default */
	const char *format;       /* preset name for the manifest */
	const cJSON *metadata;
};

struct stage;

const char *bundle_extension(enum compression c);

/* Writes spool_dir/p->bundle. Planned files that vanished or changed since
 * they were planned are left out (logged; a changed one stays in place for
 * a later bundle). On success, sha256 holds the bundle's digest and
 * *nwritten the number of coverage files in it. Returns 0, or -errno with
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

/* Append to out_fd (positioned at its end) one complete gzip member / zstd
 * frame holding exactly the tar entry of path: pax header(s), the size
 * bytes read from in_fd, padding, and no end-of-archive blocks. out_md (may
 * be NULL) is updated with the bytes written; sha256 gets the content's
 * digest. buf: a scratch buffer of BUNDLE_CHUNK bytes. Returns 0 or -errno
 * with one line in err (the caller discards what was appended). */
#define BUNDLE_CHUNK (256 * 1024)
int bundle_member(const struct bundle_params *bp, int in_fd, const char *path, uint64_t size,
		  time_t mtime, int out_fd, EVP_MD_CTX *out_md, unsigned char *buf,
		  char sha256[65], char *err, size_t errlen);

#endif
