/* SPDX-License-Identifier: MIT */
/*
 * s3_put_objects: many small PutObjects in flight at once. One PutObject of
 * a 1 MiB bundle is a chain of CPU work (our digests, then the server's
 * digests, index update and store) with little overlap; several in flight
 * keep client and server busy at the same time.
 */
#include "batch.h"
#include "upload.h"
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
	bool reported;       /* the hook was told */
	struct s3_digests d; /* the request's headers point here */
};

struct put_batch {
	struct s3_client *c;
	const char *bucket;
	struct s3_put_job *jobs;
	struct put_entry *e;
	bool if_none_match;
	const struct s3_put_hook *hook;
};

static void tell(const struct s3_put_hook *hook, size_t job)
{
	if (hook && hook->done)
		hook->done(hook->ctx, job);
}

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
		return S3_ERR_CORRUPT; /* sending it again cannot help */
	}
	memcpy(b->jobs[e->job].sha256_read, e->d.sha256_hex, sizeof(e->d.sha256_hex));
	s3_put_req_fill(r, b->bucket, j->key, e->fd, (uint64_t)st.st_size, &e->d,
			b->if_none_match);
	return S3_OK;
}

/* The SHA-256 of path (hex) into out. Returns S3_OK, or as put_prepare
 * would: S3_ERR_FATAL when it cannot be opened, S3_ERR_RETRY when reading
 * fails (err says why). */
static int sha256_of(const char *path, char out[65], char *err, size_t errlen)
{
	struct s3_digests d;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = S3_OK;

	if (fd < 0 || fstat(fd, &st) != 0) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		rc = S3_ERR_FATAL;
	} else if (s3_digest_range(fd, 0, (uint64_t)st.st_size, &d, false) != 0) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		rc = S3_ERR_RETRY;
	} else {
		memcpy(out, d.sha256_hex, sizeof(d.sha256_hex));
	}
	if (fd >= 0)
		close(fd);
	return rc;
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
	/* Its file is closed and its result final: the caller may clean up
	 * after it now, while the others are still on the wire. */
	e->reported = true;
	tell(b->hook, e->job);
	return 0; /* the other uploads are independent: go on */
}

size_t s3_put_objects(struct s3_client *c, const char *bucket, struct s3_put_job *jobs, size_t n,
		      int max_parallel, const struct s3_put_opts *po,
		      const struct s3_put_hook *hook)
{
	static const struct s3_batch_ops ops = { put_prepare, put_done };
	struct put_batch b = { c, bucket, jobs, NULL, po && po->if_none_match, hook };
	struct s3_put_opts one = { 0 };
	size_t i, k = 0, small = 0, failed = 0;

	b.e = calloc(n ? n : 1, sizeof(*b.e));
	for (i = 0; i < n; i++) {
		struct stat st;

		set_job_err(&jobs[i], S3_ERR_RETRY, b.e ? "not uploaded" : "out of memory");
		jobs[i].sha256_read[0] = '\0';
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
			/* not started: the transfer engine gave up early ("not uploaded") */
			if (!b.e[k++].reported)
				tell(hook, i);
			continue;
		}
		jobs[i].err[0] = '\0';
		/* Unknown SHA-256: it is needed for If-None-Match's 412 (is the
		 * existing object ours?), so read it here; s3_put_file then checks
		 * the file against it as it sends it. */
		if (!jobs[i].sha256_hex) {
			jobs[i].result = sha256_of(jobs[i].path, jobs[i].sha256_read, jobs[i].err,
						   sizeof(jobs[i].err));
			if (jobs[i].result != S3_OK) {
				tell(hook, i);
				continue;
			}
		}
		one.sha256_hex = jobs[i].sha256_hex ? jobs[i].sha256_hex : jobs[i].sha256_read;
		jobs[i].result = s3_put_file(c, bucket, jobs[i].key, jobs[i].path, &one,
					     jobs[i].err, sizeof(jobs[i].err));
		tell(hook, i);
	}
	for (i = 0; !b.e && i < n; i++)
		tell(hook, i); /* out of memory: each job failed, and is told so */
	for (i = 0; i < n; i++)
		failed += jobs[i].result != S3_OK;
	free(b.e);
	return failed;
}
