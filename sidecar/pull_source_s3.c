/* SPDX-License-Identifier: MIT */
/*
 * s3://bucket/prefix source on the S3 module: paginated ListObjectsV2, then
 * parallel GETs (one libcurl multi handle, bounded) into temporary files.
 */
#include "pull_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dest.h"

#ifdef COVSHIP_PULL_S3

#include "s3.h"

struct s3_source {
	struct pull_source base;
	struct s3_client *client;
	char bucket[256];
	char prefix[1024];
};

struct list_ctx {
	struct s3_source *src;
	struct pull_bundle_list *out;
};

static int on_key(void *vctx, const char *key, uint64_t size, const char *etag)
{
	struct list_ctx *ctx = vctx;
	size_t plen = strlen(ctx->src->prefix);

	(void)etag;
	if (!pull_is_bundle_name(key) || strncmp(key, ctx->src->prefix, plen) != 0)
		return 0;
	return pull_bundle_list_add(ctx->out, key, key + plen, size) < 0 ? 1 : 0;
}

static int s3src_list(struct pull_source *s, struct pull_bundle_list *out, char *err,
		      size_t errlen)
{
	struct s3_source *src = (struct s3_source *)s;
	struct list_ctx ctx = { src, out };
	int rc;

	rc = s3_list_objects(src->client, src->bucket, src->prefix, on_key, &ctx, err, errlen);
	if (rc == 1) {
		snprintf(err, errlen, "listing s3://%s/%s: out of memory", src->bucket,
			 src->prefix);
		return -1;
	}
	if (rc != 0)
		return -1;
	pull_bundle_list_sort(out);
	return 0;
}

/* Every download gets its file before any transfer starts: when the
 * temporary directory refuses one, it would refuse the rest too. */
static int create_files(struct s3_get_job *job, struct pull_bundle *b, size_t n, int tmpdir_fd)
{
	char name[32];
	size_t i;

	for (i = 0; i < n; i++) {
		job[i].key = b[i].key;
		snprintf(name, sizeof(name), "dl-%06zu", i);
		job[i].fd = openat(tmpdir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (job[i].fd < 0) {
			snprintf(b[i].err, sizeof(b[i].err), "cannot create a download file: %s",
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

static size_t s3src_fetch(struct pull_source *s, struct pull_bundle *b, size_t n, int tmpdir_fd,
			  int jobs)
{
	struct s3_source *src = (struct s3_source *)s;
	struct s3_get_job *job = calloc(n ? n : 1, sizeof(*job));
	size_t i, failed = 0;
	int ok;

	if (!job) {
		for (i = 0; i < n; i++)
			snprintf(b[i].err, sizeof(b[i].err), "out of memory");
		return n;
	}
	for (i = 0; i < n; i++)
		job[i].fd = -1;
	ok = create_files(job, b, n, tmpdir_fd) == 0;
	if (ok && n)
		s3_get_objects(src->client, src->bucket, job, n, jobs);
	for (i = 0; i < n; i++) {
		if (ok && job[i].result == S3_OK && lseek(job[i].fd, 0, SEEK_SET) == 0) {
			b[i].fd = job[i].fd;
			continue;
		}
		if (!ok && !b[i].err[0])
			snprintf(b[i].err, sizeof(b[i].err), "not downloaded (no download file)");
		else if (ok)
			snprintf(b[i].err, sizeof(b[i].err), "download failed: %s",
				 job[i].result == S3_OK ? strerror(errno) : job[i].err);
		if (job[i].fd >= 0)
			close(job[i].fd);
		failed++;
	}
	free(job);
	return failed;
}

static void s3src_close(struct pull_source *s)
{
	struct s3_source *src = (struct s3_source *)s;

	s3_client_free(src->client);
	free(src);
}

static const struct pull_source_ops s3src_ops = {
	.list = s3src_list,
	.fetch = s3src_fetch,
	.close = s3src_close,
};

int pull_source_s3_open(const char *url, const struct dest_options *opts, struct pull_source **out,
			char *err, size_t errlen)
{
	struct s3_source *src = calloc(1, sizeof(*src));
	struct s3_config cfg;
	size_t plen;

	if (!src) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	src->base.ops = &s3src_ops;
	if (s3_parse_url(url, src->bucket, sizeof(src->bucket), src->prefix,
			 sizeof(src->prefix) - 1, err, errlen) < 0 ||
	    s3_config_resolve(&cfg, opts, err, errlen) < 0)
		goto fail;
	/* A prefix names a "directory", as for `aws s3 cp --recursive`:
	 * s3://b/build-4 must not also pull build-42/. */
	plen = strlen(src->prefix);
	if (plen && src->prefix[plen - 1] != '/') {
		src->prefix[plen] = '/';
		src->prefix[plen + 1] = '\0';
	}
	src->client = s3_client_new(&cfg, err, errlen);
	if (!src->client)
		goto fail;
	*out = &src->base;
	return 0;
fail:
	free(src);
	return -1;
}

#else

int pull_source_s3_open(const char *url, const struct dest_options *opts, struct pull_source **out,
			char *err, size_t errlen)
{
	(void)url;
	(void)opts;
	*out = NULL;
	snprintf(err, errlen, "this build of covship has no S3 client; use a file:// source");
	return -1;
}

#endif
