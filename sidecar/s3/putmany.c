/* SPDX-License-Identifier: MIT */
/*
 * s3_put_objects: many small PutObjects in flight at once. One PutObject of
 * a 1 MiB bundle is a chain of CPU work (our digests, then the server's
 * digests, index update and store) with little overlap; several in flight
 * keep client and server busy at the same time.
 */
#include "s3_internal.h"
#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* One small file of the batch while its upload is in flight. */
struct put_entry {
	size_t job;
	int fd;
	struct s3_digests d; /* the request's headers point here */
};

struct put_batch {
	struct s3_client *c;
	const char *bucket;
	struct s3_put_job *jobs;
	struct put_entry *e;
	bool if_none_match;
};

static void set_job_err(struct s3_put_job *j, int rc, const char *err)
{
	j->result = rc;
	/* The job keeps one line; a longer message is cut, on purpose. */
	snprintf(j->err, sizeof(j->err), "%.*s", (int)sizeof(j->err) - 1, err);
}

/* Open and digest the file of entry i, then describe its PutObject. */
static int put_prepare(void *ctx, size_t i, struct s3_req *r, char *err, size_t errlen)
{
	struct put_batch *b = ctx;
	struct put_entry *e = &b->e[i];
	const struct s3_put_job *j = &b->jobs[e->job];
	struct stat st;

	e->fd = open(j->path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0 || fstat(e->fd, &st) != 0) {
		set_err(err, errlen, "cannot read %s: %s", j->path, strerror(errno));
		return S3_ERR_FATAL;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s is not a regular file", j->path);
		return S3_ERR_FATAL;
	}
	if (s3_digest_range(e->fd, 0, (uint64_t)st.st_size, &e->d, true) != 0) {
		set_err(err, errlen, "cannot read %s: %s", j->path, strerror(errno));
		return S3_ERR_RETRY;
	}
	if (j->sha256_hex && strcasecmp(j->sha256_hex, e->d.sha256_hex) != 0) {
		set_err(err, errlen, "%s changed: its SHA-256 is not the expected %s", j->path,
			j->sha256_hex);
		return S3_ERR_FATAL;
	}
	s3_put_req_fill(r, b->bucket, j->key, e->fd, (uint64_t)st.st_size, &e->d,
			b->if_none_match);
	return S3_OK;
}

static int put_done(void *ctx, size_t i, int rc, struct http_xfer *x, const char *err)
{
	struct put_batch *b = ctx;
	struct put_entry *e = &b->e[i];

	(void)x;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	set_job_err(&b->jobs[e->job], rc, err);
	return 0; /* the other uploads are independent: go on */
}

size_t s3_put_objects(struct s3_client *c, const char *bucket, struct s3_put_job *jobs, size_t n,
		      int max_parallel, const struct s3_put_opts *po)
{
	static const struct s3_batch_ops ops = { put_prepare, put_done };
	struct put_batch b = { c, bucket, jobs, NULL, po && po->if_none_match };
	struct s3_put_opts one = { 0 };
	size_t i, k = 0, small = 0, failed = 0;

	b.e = calloc(n ? n : 1, sizeof(*b.e));
	for (i = 0; i < n; i++) {
		struct stat st;

		set_job_err(&jobs[i], S3_ERR_RETRY, b.e ? "not uploaded" : "out of memory");
		/* A file that cannot be stat'ed fails in put_prepare with its reason. */
		if (b.e && (stat(jobs[i].path, &st) != 0 ||
			    (uint64_t)st.st_size < c->cfg.multipart_threshold)) {
			b.e[small].job = i;
			b.e[small++].fd = -1;
		}
	}
	if (b.e && small)
		s3_run_batch(c, small, max_parallel, &ops, &b);
	if (po)
		one = *po;
	for (i = 0; b.e && i < n; i++) {
		if (k < small && b.e[k].job == i) { /* sent in the batch */
			k++;
			continue;
		}
		one.sha256_hex = jobs[i].sha256_hex;
		jobs[i].err[0] = '\0';
		jobs[i].result = s3_put_file(c, bucket, jobs[i].key, jobs[i].path, &one,
					     jobs[i].err, sizeof(jobs[i].err));
	}
	for (i = 0; i < n; i++)
		failed += jobs[i].result != S3_OK;
	free(b.e);
	return failed;
}
