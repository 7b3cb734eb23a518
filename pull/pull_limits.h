/* SPDX-License-Identifier: MIT */
/*
 * Size limits of `covship pull`: a bucket anyone with write access could
 * have filled must not be able to fill the agent's disk. Three caps, checked
 * while a bundle is being extracted (pull_extract.c), so a refused bundle
 * never gets further than its staging directory: bytes extracted from one
 * bundle, bytes extracted in the whole pull, and the ratio of a bundle's
 * extracted bytes to its compressed size (a zstd bomb of 33 KB inflating to
 * 1 GiB has a ratio of ~32000; real coverage.py data compresses 5-20x).
 * Downloads are capped separately, at their listed size (pull_source_*.c).
 */
#ifndef COVSHIP_PULL_LIMITS_H
#define COVSHIP_PULL_LIMITS_H

#include <stdint.h>

#define PULL_DEFAULT_MAX_BUNDLE_BYTES ((uint64_t)4 << 30) /* 4 GiB */
#define PULL_DEFAULT_MAX_TOTAL_BYTES ((uint64_t)64 << 30) /* 64 GiB */
#define PULL_DEFAULT_MAX_RATIO 1000u
/* Below this many extracted bytes the ratio is not checked: a bundle of a
 * few tiny files has a large fixed tar overhead and compresses absurdly
 * well (a 1 MiB file of zeros is 1:1000 in zstd). */
#define PULL_RATIO_FLOOR ((uint64_t)1 << 20)

struct pull_limits {
	uint64_t max_bundle_bytes; /* extracted bytes of one bundle */
	uint64_t max_total_bytes;  /* extracted bytes of the whole pull */
	uint64_t max_ratio;        /* extracted bytes / compressed bytes */
	uint64_t used_total;       /* extracted so far in this pull (placed bundles) */
};

/* The defaults above, nothing used yet. */
void pull_limits_default(struct pull_limits *l);

/* Parse a size: a decimal number of bytes, optionally followed by K, M, G
 * or T (powers of 1024, an optional "iB" or "B" after it). Returns 0, or -1
 * for anything else (garbage, 0, overflow). */
int pull_parse_size(const char *s, uint64_t *out);

/* Parse a ratio: a whole number >= 1. Returns 0 or -1. */
int pull_parse_ratio(const char *s, uint64_t *out);

/* Set limit `which` (0 --max-bundle-bytes, 1 --max-total-bytes, 2
 * --max-ratio) from its text. Returns 0, or -1 after logging one line
 * naming the option and what it accepts. */
int pull_limits_option(struct pull_limits *l, int which, const char *v);

/* The same from COVSHIP_PULL_MAX_BUNDLE_BYTES, _MAX_TOTAL_BYTES and
 * _MAX_RATIO when set (the command line, parsed later, wins). */
int pull_limits_env(struct pull_limits *l);

/* Does a bundle of `compressed` bytes that has so far produced `bundle`
 * extracted bytes stay within l (total: l->used_total + bundle)? Returns
 * NULL when it does, else which limit it broke, as the option's name. */
const char *pull_limits_exceeded(const struct pull_limits *l, uint64_t compressed,
				 uint64_t bundle);

#endif
