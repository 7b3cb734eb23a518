/* SPDX-License-Identifier: MIT */
/*
 * s3://bucket/prefix source on the S3 module: paginated ListObjectsV2, then
 * parallel GETs (one libcurl multi handle, bounded), each download handed
 * to the caller as soon as it is complete.
 */
#include "pull_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* A download of at most MEM_BUNDLE_MAX bytes (as listed) goes to memory,
 * up to MEM_BUDGET bytes at once: a memfd, so no inode is allocated on (and
 * freed again from) the output file system, which on ext4 without a journal
 * costs a synchronous discard per freed file and slows later inode
 * allocations; never mapped, it does not add to our RSS. Larger downloads,
 * or more at once, go to unnamed files in the work directory. */
#define MEM_BUNDLE_MAX ((uint64_t)8 << 20)
#define MEM_BUDGET ((uint64_t)64 << 20)

struct fetch_ctx {
	struct pull_bundle *b;
	int *fd;           /* the download file of each bundle in flight */
	uint64_t *charged; /* memory budget taken by each bundle in flight */
	uint64_t mem_used;
	size_t failed;
	int tmpdir_fd;
	pull_ready_fn ready;
	void *ready_ctx;
};

/* A file on disk that disappears with its descriptor. */
static int unnamed_file(int dirfd, size_t i)
{
	char name[40];
	int fd, e;

	snprintf(name, sizeof(name), "dl-%06zu", i);
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (unlinkat(dirfd, name, 0) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int fetch_start(void *vctx, size_t i, const char **key, int *fd, char *err,
		       size_t errlen)
{
	struct fetch_ctx *f = vctx;
	uint64_t size = f->b[i].size;

	*key = f->b[i].key;
	f->fd[i] = -1;
	if (size <= MEM_BUNDLE_MAX && f->mem_used + size <= MEM_BUDGET) {
		f->fd[i] = memfd_create("covship-pull", MFD_CLOEXEC);
		if (f->fd[i] >= 0) {
			f->charged[i] = size;
			f->mem_used += size;
		}
	}
	if (f->fd[i] < 0)
		f->fd[i] = unnamed_file(f->tmpdir_fd, i);
	if (f->fd[i] < 0) {
		snprintf(err, errlen, "cannot create a download file in the work directory: %s",
			 strerror(errno));
		return -1;
	}
	*fd = f->fd[i];
	return 0;
}

/* Hand the finished download over at once (pull extracts it while the
 * other transfers go on), then release its file and memory. */
static void fetch_done(void *vctx, size_t i, int rc, const char *err)
{
	struct fetch_ctx *f = vctx;
	struct pull_bundle *b = &f->b[i];
	char why[320];

	if (rc == S3_OK && lseek(f->fd[i], 0, SEEK_SET) == 0) {
		b->fd = f->fd[i];
		f->ready(f->ready_ctx, b, NULL);
	} else {
		snprintf(why, sizeof(why), "download failed: %s",
			 rc == S3_OK ? strerror(errno) : err);
		f->failed++;
		f->ready(f->ready_ctx, b, why);
	}
	b->fd = -1;
	if (f->fd[i] >= 0)
		close(f->fd[i]);
	f->fd[i] = -1;
	f->mem_used -= f->charged[i];
	f->charged[i] = 0;
}

/* Every download is capped at its listed size: the memory budget above
 * trusts it, and a server sending more would otherwise fill memory or disk. */
static uint64_t fetch_max(void *vctx, size_t i)
{
	struct fetch_ctx *f = vctx;

	return f->b[i].size ? f->b[i].size : 1; /* 0 would mean "no cap" */
}

static size_t s3src_fetch(struct pull_source *s, struct pull_bundle *b, size_t n, int tmpdir_fd,
			  int jobs, pull_ready_fn ready, void *ready_ctx)
{
	struct s3_source *src = (struct s3_source *)s;
	struct fetch_ctx f = { b, NULL, NULL, 0, 0, tmpdir_fd, ready, ready_ctx };
	struct s3_get_hooks hooks = { fetch_start, fetch_done, &f, fetch_max };
	size_t i;

	f.fd = calloc(n ? n : 1, sizeof(*f.fd));
	f.charged = calloc(n ? n : 1, sizeof(*f.charged));
	if (!f.fd || !f.charged) {
		free(f.fd);
		free(f.charged);
		for (i = 0; i < n; i++)
			ready(ready_ctx, &b[i], "out of memory");
		return n;
	}
	for (i = 0; i < n; i++)
		f.fd[i] = -1;
	s3_get_each(src->client, src->bucket, n, jobs, &hooks);
	free(f.fd);
	free(f.charged);
	return f.failed;
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

int pull_source_s3_open(const char *url, const struct s3_options *opts, struct pull_source **out,
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
