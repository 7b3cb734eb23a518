/* SPDX-License-Identifier: MIT */
/* The s3://bucket/prefix destination (see dest.h and docs/s3.md). */
#include "dest_s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3.h"

struct dest_s3 {
	struct dest base; /* first: dest_s3 is reached from struct dest * */
	struct s3_client *client;
	char bucket[64];
	char prefix[1024];
	char *spool_dir;
	int parallel_bundles; /* deliver_many's default: COVSHIP_S3_PARALLEL_BUNDLES */
};

/* The key exists (412 on If-None-Match): delivered iff it holds our bytes. */
static enum dest_result verify_existing(struct dest_s3 *d, const char *key, const char *sha256_hex,
					char *err, size_t errlen)
{
	struct s3_object_info info;
	char herr[512];
	int rc = s3_head_object(d->client, d->bucket, key, &info, herr, sizeof(herr));

	if (rc == S3_ERR_NOT_FOUND) { /* gone again (deleted meanwhile): try later */
		snprintf(err, errlen, "s3://%s/%s existed a moment ago and is gone now", d->bucket, key);
		return DEST_RETRY;
	}
	if (rc != S3_OK) {
		snprintf(err, errlen, "%s", herr);
		return rc == S3_ERR_RETRY ? DEST_RETRY : DEST_FATAL;
	}
	if (sha256_hex && strcasecmp(info.covship_sha256, sha256_hex) == 0)
		return DEST_OK;
	snprintf(err, errlen,
		 "s3://%s/%s already exists with other content (SHA-256 %s, ours %s); refusing to "
		 "overwrite it: remove it or change --key-template",
		 d->bucket, key, info.covship_sha256[0] ? info.covship_sha256 : "unknown",
		 sha256_hex ? sha256_hex : "unknown");
	return DEST_FATAL;
}

/* PREFIX/key (a '/' added when the prefix does not end in one); malloc'ed. */
static char *full_key(const struct dest_s3 *d, const char *key)
{
	size_t n = strlen(d->prefix) + strlen(key) + 2;
	char *full = malloc(n);

	if (!full)
		return NULL;
	if (d->prefix[0] && d->prefix[strlen(d->prefix) - 1] != '/')
		snprintf(full, n, "%s/%s", d->prefix, key);
	else
		snprintf(full, n, "%s%s", d->prefix, key);
	return full;
}

/* An s3_put_file/s3_put_objects result as a dest_result (err explains). */
static enum dest_result outcome(struct dest_s3 *d, int rc, const char *full,
				const char *sha256_hex, char *err, size_t errlen)
{
	switch (rc) {
	case S3_OK:
		return DEST_OK;
	case S3_ERR_EXISTS:
		return verify_existing(d, full, sha256_hex, err, errlen);
	case S3_ERR_RETRY:
		return DEST_RETRY;
	case S3_ERR_CORRUPT:
		return DEST_CORRUPT;
	default:
		return DEST_FATAL;
	}
}

static enum dest_result s3_deliver(struct dest *base, const char *path, const char *key,
				   const char *sha256_hex, char *err, size_t errlen)
{
	struct dest_s3 *d = (struct dest_s3 *)base;
	struct s3_put_opts po = { .if_none_match = true, .sha256_hex = sha256_hex,
				  .state_dir = d->spool_dir };
	char *full = full_key(d, key);
	enum dest_result res;
	int rc;

	if (!full) {
		snprintf(err, errlen, "out of memory");
		return DEST_RETRY;
	}
	rc = s3_put_file(d->client, d->bucket, full, path, &po, err, errlen);
	res = outcome(d, rc, full, sha256_hex, err, errlen);
	free(full);
	return res;
}

struct many_ctx {
	struct dest_s3 *d;
	struct dest_item *items;
	struct s3_put_job *jobs;
	const struct dest_many_hook *hook;
};

/* s3_put_objects ended job i: its dest_result (a 412 verified by HEAD now,
 * between the other transfers), then the caller's hook. */
static void many_done(void *ctx, size_t i)
{
	struct many_ctx *m = ctx;
	struct dest_item *it = &m->items[i];
	struct s3_put_job *j = &m->jobs[i];
	const char *sha = it->sha256_hex;

	if (!sha && j->sha256_read[0])
		sha = j->sha256_read; /* what was sent: the file is not read twice */
	if (!j->key)
		return; /* told before: once per item */
	snprintf(it->err, sizeof(it->err), "%s", j->err);
	it->result = outcome(m->d, j->result, j->key, sha, it->err, sizeof(it->err));
	free((char *)j->key);
	j->key = NULL;
	if (m->hook && m->hook->done)
		m->hook->done(m->hook->ctx, i);
}

/* Bundles below the multipart threshold go up to max_parallel at once
 * (s3_put_objects); larger ones one after the other, as their parts are
 * parallel already. */
static size_t s3_deliver_many(struct dest *base, struct dest_item *items, size_t n,
			      int max_parallel, const struct dest_many_hook *hook)
{
	struct dest_s3 *d = (struct dest_s3 *)base;
	struct s3_put_opts po = { .if_none_match = true, .state_dir = d->spool_dir };
	struct many_ctx m = { d, items, NULL, hook };
	struct s3_put_hook ph = { many_done, &m };
	struct s3_put_job *jobs;
	size_t i, failed = 0;

	if (max_parallel <= 0)
		max_parallel = d->parallel_bundles;
	jobs = calloc(n ? n : 1, sizeof(*jobs));
	for (i = 0; jobs && i < n; i++) {
		jobs[i].path = items[i].path;
		jobs[i].sha256_hex = items[i].sha256_hex;
		if (!(jobs[i].key = full_key(d, items[i].key)))
			break;
	}
	if (!jobs || i < n) {
		for (i = 0; i < n; i++) {
			items[i].result = DEST_RETRY;
			snprintf(items[i].err, sizeof(items[i].err), "out of memory");
			if (jobs)
				free((char *)jobs[i].key);
			if (hook && hook->done)
				hook->done(hook->ctx, i);
		}
		free(jobs);
		return n;
	}
	m.jobs = jobs;
	s3_put_objects(d->client, d->bucket, jobs, n, max_parallel, &po, &ph);
	for (i = 0; i < n; i++) {
		many_done(&m, i); /* a no-op for each job told already, i.e. all */
		failed += items[i].result != DEST_OK;
	}
	free(jobs);
	return failed;
}

static void s3_close(struct dest *base)
{
	struct dest_s3 *d = (struct dest_s3 *)base;

	s3_client_free(d->client);
	free(d->spool_dir);
	free(d);
}

static const struct dest_ops s3_ops = {
	.scheme = "s3",
	.deliver = s3_deliver,
	.deliver_many = s3_deliver_many,
	.many_hashes = true, /* put_prepare digests every file anyway */
	.close = s3_close,
};

int dest_s3_open(const char *url, const struct dest_options *opts, struct dest **out, char *err,
		 size_t errlen)
{
	struct dest_s3 *d;
	struct s3_config cfg;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->base.ops = &s3_ops;
	if (s3_parse_url(url, d->bucket, sizeof(d->bucket), d->prefix, sizeof(d->prefix), err,
			 errlen) ||
	    s3_config_resolve(&cfg, opts ? &opts->s3 : NULL, err, errlen)) {
		free(d);
		return -1;
	}
	d->parallel_bundles = cfg.max_parallel_bundles;
	if (opts && opts->spool_dir) {
		d->spool_dir = strdup(opts->spool_dir);
		if (!d->spool_dir) {
			snprintf(err, errlen, "out of memory");
			free(d);
			return -1;
		}
	}
	d->client = s3_client_new(&cfg, err, errlen);
	if (!d->client) {
		free(d->spool_dir);
		free(d);
		return -1;
	}
	*out = &d->base;
	return 0;
}
