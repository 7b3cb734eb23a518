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
 * normal).
 */
#ifndef COVSHIP_DEST_H
#define COVSHIP_DEST_H

#include <stdbool.h>
#include <stddef.h>

enum dest_result {
	DEST_OK = 0,
	DEST_RETRY = 1, /* transient (network, 5xx, disk full): keep it, try later */
	DEST_FATAL = 2, /* permanent (access denied, bad bucket): keep it, stop trying */
};

/* Settings a destination may need; parsed by the command line of watch/push
 * (and pull, for sources). Unset strings are NULL; the S3 module falls back
 * to the AWS environment variables for endpoint and region. */
struct dest_options {
	const char *spool_dir; /* for the destination's own resumable state */
	const char *endpoint;  /* --endpoint */
	const char *region;    /* --region */
	const char *ca_bundle; /* --ca-bundle */
	bool insecure;         /* --insecure */
	bool path_style;       /* --path-style (else virtual-hosted when possible) */
};

struct dest;

struct dest_ops {
	const char *scheme;
	/* Store the complete local file `path` (SHA-256 `sha256_hex`) as `key`
	 * under the destination's prefix. On failure, writes one line (no
	 * secrets) to err. */
	enum dest_result (*deliver)(struct dest *d, const char *path, const char *key,
				    const char *sha256_hex, char *err, size_t errlen);
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

static inline void dest_close(struct dest *d)
{
	if (d)
		d->ops->close(d);
}

#endif
