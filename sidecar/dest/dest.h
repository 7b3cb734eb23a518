/* SPDX-License-Identifier: MIT */
/*
 * Destinations: where a finished bundle goes. One small interface so that
 * the watcher does not care whether it writes to a host-mounted directory
 * (file:///path) or to S3 (s3://bucket/prefix).
 *
 * Contract: deliver() returns DEST_OK only once the bundle is durably stored
 * under `key` (fsynced and renamed; S3 answered 200 and the checksum was
 * confirmed). Only then may the caller delete the spooled bundle and the
 * source files. Delivering the same key twice with the same bytes must be
 * harmless (bundle names are deterministic, re-delivery after a crash is
 * normal): an object already there with the same SHA-256 is DEST_OK. An
 * object there with other bytes is never replaced: DEST_FATAL, one line
 * naming it. deliver_many() gives each item exactly deliver()'s result.
 *
 * A destination never stores a file whose bytes do not hash to the
 * sha256_hex it was given: it answers DEST_CORRUPT instead (the spooled
 * bundle is damaged, or changed while it was read; nothing was stored, and
 * delivering the same file again cannot help: the caller rebuilds it or
 * gives it up).
 */
#ifndef COVSHIP_DEST_H
#define COVSHIP_DEST_H

#include <stdbool.h>
#include <stddef.h>

#include "s3.h"

enum dest_result {
	DEST_OK = 0,
	DEST_RETRY = 1, /* transient (network, 5xx, disk full): keep it, try later */
	DEST_FATAL = 2, /* permanent (access denied, bad bucket): keep it, stop trying */
	DEST_CORRUPT = 3, /* the file does not hash to sha256_hex: nothing stored, never resend it */
};

/* Settings a destination may need; parsed by the command line of watch/push
 * (and pull, for sources). Unset strings are NULL; the S3 module falls back
 * to the AWS environment variables for endpoint and region. */
struct dest_options {
	const char *spool_dir; /* for the destination's own resumable state */
	/* The destination was checked when the watcher started (it is coming
	 * back from covship-idle): open it without probing that it exists
	 * and is writable now; a problem found later is a delivery error,
	 * retried, not a configuration error. */
	bool skip_probe;
	struct s3_options s3;  /* --endpoint, --region, --ca-bundle, ... (s3.h) */
};

struct dest;

/* One bundle of a dest_deliver_many() call. */
struct dest_item {
	const char *path;
	const char *key;
	const char *sha256_hex; /* NULL only where dest_ops.many_hashes */
	enum dest_result result; /* out */
	char err[512];           /* out: one line when result != DEST_OK */
};

/* Told about item i of a dest_deliver_many() as soon as its result (and
 * err) is final, while other items may still be in flight: the caller can
 * clean up after a confirmed bundle during the others' network time. Once
 * per item, in the order they end, on the calling thread. */
struct dest_many_hook {
	void (*done)(void *ctx, size_t i);
	void *ctx;
};

struct dest_ops {
	const char *scheme;
	/* Store the complete local file `path` (SHA-256 `sha256_hex`) as `key`
	 * under the destination's prefix. On failure, writes one line (no
	 * secrets) to err. */
	enum dest_result (*deliver)(struct dest *d, const char *path, const char *key,
				    const char *sha256_hex, char *err, size_t errlen);
	/* Optional (NULL: dest_deliver_many() calls deliver() for each item).
	 * Several bundles at once, up to max_parallel in flight (<= 0: the
	 * destination's own default); each item's result and err mean exactly
	 * what deliver()'s would; hook (may be NULL) hears of each as it
	 * ends. Returns how many items are not DEST_OK. */
	size_t (*deliver_many)(struct dest *d, struct dest_item *items, size_t n,
			       int max_parallel, const struct dest_many_hook *hook);
	/* deliver_many takes items without sha256_hex: it hashes each file
	 * itself while sending it (one read instead of two) and uses that
	 * SHA-256 as deliver() uses the given one. */
	bool many_hashes;
	/* Optional: the local directory the bundles go under (file://), for
	 * the start-up check that it and --dir stay apart; NULL elsewhere. */
	const char *(*local_dir)(const struct dest *d);
	void (*close)(struct dest *d);
};

struct dest {
	const struct dest_ops *ops;
};

/* Parse a destination URL and open it. Returns 0, or -1 with a one-line
 * message in err naming what is wrong and how to fix it. */
int dest_open(const char *url, const struct dest_options *opts, struct dest **out, char *err,
	      size_t errlen);

static inline enum dest_result dest_deliver(struct dest *d, const char *path, const char *key,
					    const char *sha256_hex, char *err, size_t errlen)
{
	return d->ops->deliver(d, path, key, sha256_hex, err, errlen);
}

/* Deliver items[0..n) (in parallel where the destination can); each item
 * gets its own result, and hook (may be NULL) hears of it as it ends.
 * Returns the number of items not DEST_OK. */
static inline size_t dest_deliver_many(struct dest *d, struct dest_item *items, size_t n,
				       int max_parallel, const struct dest_many_hook *hook)
{
	size_t i, failed = 0;

	if (d->ops->deliver_many)
		return d->ops->deliver_many(d, items, n, max_parallel, hook);
	for (i = 0; i < n; i++) {
		items[i].err[0] = '\0';
		items[i].result = dest_deliver(d, items[i].path, items[i].key,
					       items[i].sha256_hex, items[i].err,
					       sizeof(items[i].err));
		failed += items[i].result != DEST_OK;
		if (hook && hook->done)
			hook->done(hook->ctx, i);
	}
	return failed;
}

/* The local directory bundles go under (file://), or NULL. */
static inline const char *dest_local_dir(const struct dest *d)
{
	return d->ops->local_dir ? d->ops->local_dir(d) : NULL;
}

static inline void dest_close(struct dest *d)
{
	if (d)
		d->ops->close(d);
}

#endif
