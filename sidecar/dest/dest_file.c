/* SPDX-License-Identifier: MIT */
/*
 * file:///path: copy the bundle to path/key through a temporary name, fsync,
 * rename, fsync the directory; the copy is hashed and must match the
 * bundle's SHA-256 before it is renamed into place. On the spool's file
 * system the bundle is hard-linked instead of copied (link_into_place).
 */
#include "dest_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "atomic_file.h"
#include "fsutil.h"

struct dest_file {
	struct dest base;
	char root[PATH_MAX];
};

/* Out of space, I/O trouble, interrupted: worth retrying. Permissions,
 * read-only file systems, names that cannot exist: not. */
static enum dest_result classify(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EIO:
	case EAGAIN:
	case EINTR:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case EBUSY:
	case ETIMEDOUT:
	case ESTALE:
	case ENOENT: /* the mount went away for a moment */
		return DEST_RETRY;
	default:
		return DEST_FATAL;
	}
}

static enum dest_result fail(int e, char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "file destination: %s %s: %s", what, path, strerror(e));
	return classify(e);
}

static int copy_hashed(int in, int out, char hex[65])
{
	unsigned char buf[256 * 1024], md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int e = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return ENOMEM;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			e = EIO;
			break;
		}
		e = -write_all_fd(out, buf, (size_t)n);
		if (e)
			break;
	}
	if (!e && !EVP_DigestFinal_ex(ctx, md, NULL))
		e = EIO;
	if (!e)
		sha256_to_hex(md, hex);
	EVP_MD_CTX_free(ctx);
	return e;
}

/* A crash mid-copy leaves ".<name>.tmp.<pid>" behind; the retry of the same
 * key (after a restart, another pid) removes it. */
static void remove_stale_tmps(const char *dir, const char *name)
{
	char prefix[NAME_MAX + 8];
	struct dirent *de;
	DIR *d;
	int n = snprintf(prefix, sizeof(prefix), ".%s.tmp.", name);

	if (n < 0 || n >= (int)sizeof(prefix) || !(d = opendir(dir)))
		return;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, (size_t)n))
			(void)unlinkat(dirfd(d), de->d_name, 0); /* best effort */
	closedir(d);
}

/*
 * Same file system: the spooled bundle is itself linked into place. It is
 * complete, fsynced and never written again (the spool replaces files by
 * rename only), so no byte is copied, written or can differ from what was
 * hashed as it was written; the spool's name goes at clean-up and the
 * destination keeps the file. The new names are made durable by the fsync
 * of the directory that holds them. Returns 0, 1 when no link could be
 * made (another file system, no hard links there: copy instead; a real
 * problem is then reported by the copy), or -errno.
 */
static int link_into_place(const char *path, const char *tmp, const char *dst, const char *dir)
{
	struct stat a, b;

	/* already there (a delivery repeated after a crash): rename() would
	 * do nothing and leave tmp behind */
	if (stat(path, &a) == 0 && stat(dst, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return fsync_dir(dir);
	if (link(path, tmp) < 0)
		return 1;
	if (rename(tmp, dst) < 0) {
		int e = -errno;

		(void)unlink(tmp);
		return e;
	}
	return fsync_dir(dir);
}

static enum dest_result file_deliver(struct dest *d, const char *path, const char *key,
				     const char *sha256_hex, char *err, size_t errlen)
{
	struct dest_file *f = (struct dest_file *)d;
	char dst[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX], hex[65];
	int in, out, e;
	char *slash;

	if (!relpath_safe(key) ||
	    snprintf(dst, sizeof(dst), "%s/%s", f->root, key) >= (int)sizeof(dst)) {
		snprintf(err, errlen, "file destination: key '%s' is not a safe relative path", key);
		return DEST_FATAL;
	}
	snprintf(dir, sizeof(dir), "%s", dst);
	slash = strrchr(dir, '/');
	*slash = '\0';
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", dir, slash + 1, (long)getpid()) >=
	    (int)sizeof(tmp))
		return fail(ENAMETOOLONG, err, errlen, "writing", dst);
	e = -mkdir_p(dir, 0755);
	if (e)
		return fail(e, err, errlen, "creating", dir);
	remove_stale_tmps(dir, slash + 1);
	e = link_into_place(path, tmp, dst, dir);
	if (e < 0)
		return fail(-e, err, errlen, "writing", dst);
	if (e == 0)
		return DEST_OK;
	in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return fail(errno, err, errlen, "reading", path);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (out < 0) {
		e = errno;
		close(in);
		return fail(e, err, errlen, "creating", tmp);
	}
	e = copy_hashed(in, out, hex);
	close(in);
	if (!e && fsync(out) < 0)
		e = errno;
	if (close(out) < 0 && !e)
		e = errno;
	if (!e && strcmp(hex, sha256_hex)) {
		unlink(tmp);
		snprintf(err, errlen, "file destination: %s has SHA-256 %s, expected %s: the "
			 "spooled bundle is damaged", path, hex, sha256_hex);
		return DEST_CORRUPT;
	}
	if (!e && rename(tmp, dst) < 0)
		e = errno;
	if (!e)
		e = -fsync_dir(dir);
	if (e) {
		(void)unlink(tmp); /* best effort; the error reported is the first */
		return fail(e, err, errlen, "writing", dst);
	}
	return DEST_OK;
}

static void file_close(struct dest *d)
{
	free(d);
}

static const struct dest_ops file_ops = {
	.scheme = "file",
	.deliver = file_deliver,
	.close = file_close, /* no deliver_many: dest_deliver_many() loops */
};

int dest_file_open(const char *url, const struct dest_options *opts, struct dest **out,
		   char *err, size_t errlen)
{
	const char *path = url + 7;
	struct dest_file *f;
	struct stat st;

	(void)opts;
	if (!strncmp(path, "localhost/", 10))
		path += 9;
	if (path[0] != '/' || strlen(path) >= sizeof(f->root) - 256) {
		snprintf(err, errlen, "destination '%s': a file URL needs an absolute path, e.g. "
			 "file:///srv/coverage", url);
		return -1;
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "destination '%s': %s is not a directory; create it or mount "
			 "the host directory there", url, path);
		return -1;
	}
	if (access(path, W_OK) < 0) {
		snprintf(err, errlen, "destination '%s': %s is not writable (%s)", url, path,
			 strerror(errno));
		return -1;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f->base.ops = &file_ops;
	snprintf(f->root, sizeof(f->root), "%s", path);
	/* trailing slashes would double up in every path we build */
	while (strlen(f->root) > 1 && f->root[strlen(f->root) - 1] == '/')
		f->root[strlen(f->root) - 1] = '\0';
	*out = &f->base;
	return 0;
}
