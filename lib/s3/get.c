/* SPDX-License-Identifier: MIT */
/* GetObject: one into a file descriptor, or many at once (s3_get_each). */
#include "batch.h"

#include <stdio.h>

int s3_get_object_to_fd(struct s3_client *c, const char *bucket, const char *key, int fd,
			char *err, size_t errlen)
{
	struct s3_req r;
	struct http_xfer x;
	int rc;

	s3_req_init(&r, "GET", bucket, key);
	r.out_fd = fd;
	rc = s3_request(c, &r, &x, err, errlen);
	http_response_reset(&x.resp);
	return rc;
}

/* s3_get_each as a batch of GETs. */
struct get_batch {
	const char *bucket;
	const struct s3_get_hooks *hooks;
	size_t started; /* jobs [0, started) were handed to the batch */
};

static int get_prepare(void *ctx, size_t i, struct s3_req *r, char *err, size_t errlen)
{
	struct get_batch *g = ctx;
	const char *key = NULL;
	int fd = -1;

	g->started = i + 1; /* the batch starts jobs in order */
	if (g->hooks->start(g->hooks->ctx, i, &key, &fd, err, errlen) < 0)
		return S3_ERR_FATAL;
	s3_req_init(r, "GET", g->bucket, key);
	r->out_fd = fd;
	if (g->hooks->max_bytes)
		r->out_max = g->hooks->max_bytes(g->hooks->ctx, i);
	return S3_OK;
}

static int get_done(void *ctx, size_t i, int rc, struct http_xfer *x, const char *err)
{
	struct get_batch *g = ctx;

	(void)x;
	g->hooks->done(g->hooks->ctx, i, rc, err);
	return 0;
}

size_t s3_get_each(struct s3_client *c, const char *bucket, size_t n, int max_parallel,
		   const struct s3_get_hooks *hooks)
{
	static const struct s3_batch_ops ops = { get_prepare, get_done };
	struct get_batch g = { bucket, hooks, 0 };
	size_t i;

	s3_run_batch(c, n, max_parallel, &ops, &g);
	/* Never started: the transfer engine gave up early. */
	for (i = g.started; i < n; i++)
		hooks->done(hooks->ctx, i, S3_ERR_RETRY, "not downloaded");
	return n - g.started;
}

/* s3_get_objects on s3_get_each: the jobs array holds keys and fds. */
static int jobs_start(void *ctx, size_t i, const char **key, int *fd, char *err, size_t errlen)
{
	struct s3_get_job *jobs = ctx;

	(void)err;
	(void)errlen;
	*key = jobs[i].key;
	*fd = jobs[i].fd;
	return 0;
}

static void jobs_done(void *ctx, size_t i, int rc, const char *err)
{
	struct s3_get_job *jobs = ctx;

	jobs[i].result = rc;
	/* The job keeps one line; a longer message is cut, on purpose. */
	snprintf(jobs[i].err, sizeof(jobs[i].err), "%.*s", (int)sizeof(jobs[i].err) - 1, err);
}

int s3_get_objects(struct s3_client *c, const char *bucket, struct s3_get_job *jobs, size_t n,
		   int max_parallel)
{
	struct s3_get_hooks hooks = { jobs_start, jobs_done, jobs, NULL };
	int failed = 0;
	size_t i;

	s3_get_each(c, bucket, n, max_parallel, &hooks);
	for (i = 0; i < n; i++)
		failed += jobs[i].result != S3_OK;
	return failed;
}
