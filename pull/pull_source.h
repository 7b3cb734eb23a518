/* SPDX-License-Identifier: MIT */
/*
 * Where `covship pull` reads bundles from: a file:///dir tree (what the
 * file:// destination wrote, or a host-mounted directory) or an s3://bucket/
 * prefix. A source lists the bundles under its root and makes each one
 * readable through a file descriptor; verification and extraction do not care
 * where the bytes came from.
 */
#ifndef COVSHIP_PULL_SOURCE_H
#define COVSHIP_PULL_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "pull_bundle_list.h"

struct s3_options;

struct pull_source;

/* A fetched bundle, handed over as soon as it is readable (b->fd), or
 * failed (b->fd < 0, err one line). */
typedef void (*pull_ready_fn)(void *ctx, struct pull_bundle *b, const char *err);

struct pull_source_ops {
	/* Every bundle (name ends in .tar.gz or .tar.zst) under the root,
	 * sorted by key. Returns 0 or -1 with one line in err. */
	int (*list)(struct pull_source *s, struct pull_bundle_list *out, char *err, size_t errlen);
	/* Make the bundles readable one by one, at most `jobs` downloads at
	 * a time (small ones in memory, larger ones in unnamed files in
	 * tmpdir), and hand each to ready() as soon as it is: b->fd readable
	 * from offset 0, or b->fd < 0 and one line in err. The fd is the
	 * source's, closed when ready() returns: open files and temporary
	 * space stay bounded by `jobs`. Returns how many failed. */
	size_t (*fetch)(struct pull_source *s, struct pull_bundle *b, size_t n, int tmpdir_fd,
			int jobs, pull_ready_fn ready, void *ctx);
	void (*close)(struct pull_source *s);
};

struct pull_source {
	const struct pull_source_ops *ops;
};

/* Parse a source URL (file:///abs/dir or s3://bucket[/prefix]) and open it.
 * Returns 0, or -1 with a one-line message naming what is wrong and how to
 * fix it (a configuration error: exit 2). */
int pull_source_open(const char *url, const struct s3_options *opts, struct pull_source **out,
		     char *err, size_t errlen);

/* The implementations (pull_source_file.c, pull_source_s3.c). */
int pull_source_file_open(const char *url, struct pull_source **out, char *err, size_t errlen);
int pull_source_s3_open(const char *url, const struct s3_options *opts, struct pull_source **out,
			char *err, size_t errlen);

#endif
