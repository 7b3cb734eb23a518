/* SPDX-License-Identifier: MIT */
/*
 * file:///dir source: the tree the file:// destination writes (or any
 * host-mounted directory). Bundles are read in place, nothing is copied.
 * Symlinks are never followed: the tree may come from a container volume.
 */
#include "pull_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define MAX_DEPTH 32

struct file_source {
	struct pull_source base;
	int root_fd;
	char root[PATH_MAX];
};

static int walk(int dfd, const char *rel, int depth, struct pull_bundle_list *out, char *err,
		size_t errlen);

static int walk_entry(int dfd, const char *rel, const char *name, int depth,
		      struct pull_bundle_list *out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	int n, sub, rc;

	n = snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_warn("file source: skipping a path longer than PATH_MAX under '%s'", rel);
		return 0;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0; /* removed while we listed */
		snprintf(err, errlen, "file source: cannot stat '%s': %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		if (depth >= MAX_DEPTH) {
			log_warn("file source: '%s' is nested deeper than %d levels, skipped", path,
				 MAX_DEPTH);
			return 0;
		}
		sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			snprintf(err, errlen, "file source: cannot open directory '%s': %s", path,
				 strerror(errno));
			return -1;
		}
		rc = walk(sub, path, depth + 1, out, err, errlen);
		return rc;
	}
	if (!pull_is_bundle_name(name))
		return 0;
	if (!S_ISREG(st.st_mode)) {
		log_warn("file source: '%s' is not a regular file (symlink?), skipped", path);
		return 0;
	}
	if (pull_bundle_list_add(out, path, path, (uint64_t)st.st_size) < 0) {
		snprintf(err, errlen, "file source: out of memory");
		return -1;
	}
	return 0;
}

/* Takes ownership of dfd. */
static int walk(int dfd, const char *rel, int depth, struct pull_bundle_list *out, char *err,
		size_t errlen)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		snprintf(err, errlen, "file source: cannot read directory '%s': %s",
			 *rel ? rel : ".", strerror(errno));
		close(dfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				snprintf(err, errlen, "file source: cannot read directory '%s': %s",
					 *rel ? rel : ".", strerror(errno));
				rc = -1;
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rc = walk_entry(dirfd(d), rel, de->d_name, depth, out, err, errlen);
		if (rc < 0)
			break;
	}
	closedir(d);
	return rc;
}

static int file_list(struct pull_source *s, struct pull_bundle_list *out, char *err,
		     size_t errlen)
{
	struct file_source *fs = (struct file_source *)s;
	int dfd = openat(fs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0) {
		snprintf(err, errlen, "file source: cannot open '%s': %s", fs->root,
			 strerror(errno));
		return -1;
	}
	if (walk(dfd, "", 0, out, err, errlen) < 0)
		return -1;
	pull_bundle_list_sort(out);
	return 0;
}

static int open_bundle(struct file_source *fs, struct pull_bundle *b, char *err, size_t errlen)
{
	struct stat st;
	int fd = openat(fs->root_fd, b->key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "file source: cannot open %.100s/%.100s: %s", fs->root,
			 b->key, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "file source: %.100s/%.100s is no longer a regular file",
			 fs->root, b->key);
		close(fd);
		return -1;
	}
	/* Read in place, so "capped at its listed size" means: not larger
	 * than when it was listed (a file still being written is refused). */
	if ((uint64_t)st.st_size > b->size) {
		snprintf(err, errlen, "file source: %.40s/%.80s grew from %llu to %llu bytes "
			 "since it was listed; pull again once it is complete", fs->root, b->key,
			 (unsigned long long)b->size, (unsigned long long)st.st_size);
		close(fd);
		return -1;
	}
	b->fd = fd;
	return 0;
}

static size_t file_fetch(struct pull_source *s, struct pull_bundle *b, size_t n, int tmpdir_fd,
			 int jobs, pull_ready_fn ready, void *ctx)
{
	struct file_source *fs = (struct file_source *)s;
	size_t i, failed = 0;
	char err[320];

	(void)tmpdir_fd; /* read in place */
	(void)jobs;      /* local reads: parallelism buys nothing */
	for (i = 0; i < n; i++) {
		if (open_bundle(fs, &b[i], err, sizeof(err)) < 0) {
			failed++;
			ready(ctx, &b[i], err);
			continue;
		}
		ready(ctx, &b[i], NULL);
		close(b[i].fd);
		b[i].fd = -1;
	}
	return failed;
}

static void file_close(struct pull_source *s)
{
	struct file_source *fs = (struct file_source *)s;

	if (fs->root_fd >= 0)
		close(fs->root_fd);
	free(fs);
}

static const struct pull_source_ops file_ops = {
	.list = file_list,
	.fetch = file_fetch,
	.close = file_close,
};

int pull_source_file_open(const char *url, struct pull_source **out, char *err, size_t errlen)
{
	const char *path = url + strlen("file://");
	struct file_source *fs;

	if (path[0] != '/') {
		snprintf(err, errlen,
			 "source URL '%s': a file URL needs an absolute path (file:///dir)", url);
		return -1;
	}
	if (strlen(path) >= PATH_MAX) {
		snprintf(err, errlen, "source URL: path longer than PATH_MAX");
		return -1;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fs->base.ops = &file_ops;
	strcpy(fs->root, path);
	fs->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->root_fd < 0) {
		snprintf(err, errlen, "source directory '%s': %s; check the file:// URL", path,
			 strerror(errno));
		free(fs);
		return -1;
	}
	*out = &fs->base;
	return 0;
}
