/* SPDX-License-Identifier: MIT */
/*
 * Verify-and-extract of one bundle. The manifest is the archive's last
 * entry, so files are written to an empty staging directory while they are
 * hashed, and checked against the manifest once it has been read; the caller
 * moves the staging directory into place only on PULL_EXTRACT_OK and removes
 * it otherwise, so nothing of a bad bundle is ever extracted.
 */
#ifndef COVSHIP_PULL_EXTRACT_H
#define COVSHIP_PULL_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "pull_limits.h"

enum pull_extract_result {
	PULL_EXTRACT_OK = 0,
	PULL_EXTRACT_BAD = 1, /* corrupt, unsafe or not matching its manifest */
	PULL_EXTRACT_IO = 2,  /* local failure (disk full, permissions) */
	PULL_EXTRACT_LIMIT = 3, /* a size limit (pull_limits.h) was hit: err names it */
};

struct pull_extracted {
	struct manifest m;
	char format[16];   /* the manifest's "format" ("python", ...), "" if absent */
	uint64_t bytes;    /* total size of the extracted files */
};

/* Read the bundle from fd (any position is fine, it is read from the
 * current offset), extract its files below the empty directory staging_fd
 * and verify every one of them against the manifest, which is also written
 * there as covship-manifest.json. On PULL_EXTRACT_OK the caller owns
 * out->m (manifest_free). */
enum pull_extract_result pull_extract(int fd, int staging_fd, struct pull_extracted *out,
				      char *err, size_t errlen);

/* pull_extract under the caps of lim (NULL: none), checked as the data is
 * written, so a bomb stops at the cap: PULL_EXTRACT_LIMIT, with err naming
 * the limit and the option that raises it; the staging directory then holds
 * a partial extraction that the caller removes. lim->used_total is read,
 * not updated (the caller adds out->bytes once the bundle is placed). The
 * compressed size for --max-ratio is fd's size (fstat). */
enum pull_extract_result pull_extract_limited(int fd, int staging_fd,
					      const struct pull_limits *lim,
					      struct pull_extracted *out, char *err,
					      size_t errlen);

/* An archive path pull accepts: relative, no empty, "." or ".."
 * components, no trailing '/'. */
bool pull_path_safe(const char *path, size_t len);

#endif
