/* SPDX-License-Identifier: MIT */
/*
 * file:///path: copy the bundle to path/key through a temporary name, fsync,
 * rename, fsync the directory; the copy is hashed and must match the
 * bundle's SHA-256 before it is renamed into place. On the spool's file
 * system the bundle is hard-linked instead of copied (link_into_place).
 *
 * An object is never replaced: keys are meant to be unique, so an object
 * already at the key is either this bundle, delivered before a crash (same
 * SHA-256: delivered), or another bundle (fatal: replacing it would lose
 * the coverage it holds). Both ways of publishing refuse an existing name:
 * link(2), and renameat2(RENAME_NOREPLACE) (or link + unlink where the
 * file system has no RENAME_NOREPLACE).
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

/* SHA-256 of what is read from in, written to out as it goes (out < 0:
 * only hashed). Returns 0 or an errno. */
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
		e = out < 0 ? 0 : -write_all_fd(out, buf, (size_t)n);
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
 * rename only), so no byte is copied or written; the spool's name goes at
 * clean-up and the destination keeps the file. It is read once, all the
 * same, and must hash to sha256_hex: a link makes no copy that would
 * otherwise catch a bundle damaged in the spool (a failing disk, something
 * writing there), and a damaged one must never become the delivered
 * object. link(2) never replaces, so the key's name is made directly; it
 * is made durable by the fsync of the directory that holds it. Returns 0,
 * 1 when no link could be made (another file system, no hard links there:
 * copy instead, which hashes as it copies; a real problem is then reported
 * by the copy), -EEXIST when something else is at dst, -EBADMSG when the
 * bundle does not hash to sha256_hex (hex: what it hashes to), or -errno.
 */
static int link_into_place(const char *path, const char *dst, const char *dir,
			   const char *sha256_hex, char hex[65])
{
	struct stat a, b;
	int fd, e;

	/* already there (a delivery repeated after a crash): done but for the
	 * directory's fsync, which the crash may have cut short */
	if (stat(path, &a) == 0 && lstat(dst, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return fsync_dir(dir);
	if (stat(dir, &b) < 0 || stat(path, &a) < 0 || a.st_dev != b.st_dev)
		return 1; /* no link across file systems: the copy reads it anyway */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	e = copy_hashed(fd, -1, hex);
	close(fd);
	if (e)
		return -e;
	if (strcmp(hex, sha256_hex))
		return -EBADMSG;
	if (link(path, dst) < 0)
		return errno == EEXIST ? -EEXIST : 1;
	return fsync_dir(dir);
}

/* Give the complete, fsynced tmp the name dst unless dst exists:
 * renameat2(RENAME_NOREPLACE), or where the file system cannot (EINVAL,
 * e.g. NFS; ENOSYS) a hard link, which never replaces either, and the
 * removal of tmp. A file system with neither fails here with the link's
 * error rather than risk a replacement. Returns 0, -EEXIST or -errno. */
static int publish(const char *tmp, const char *dst)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(tmp, dst) < 0)
		return -errno;
	/* dst is published; should tmp stay, the retry finds dst with our
	 * bytes (delivered) and remove_stale_tmps() removes tmp */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * Something is at dst, so our bundle (SHA-256 sha256_hex) could not be put
 * there. The same bytes are our bundle, delivered before (a retry after a
 * crash): made durable as a delivery would be (the file and its directory
 * fsynced), then DEST_OK. Anything else is left exactly as it is and the
 * bundle fails for good (DEST_FATAL).
 */
static enum dest_result existing(const char *dst, const char *dir, const char *sha256_hex,
				 char *err, size_t errlen)
{
	struct stat st;
	char hex[65];
	int fd, e;

	/* O_NONBLOCK: a FIFO at the key must not block us */
	fd = open(dst, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno != ELOOP)
		return fail(errno, err, errlen, "reading", dst); /* ENOENT: gone, retry */
	if (fd >= 0 && fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return fail(e, err, errlen, "reading", dst);
	}
	if (fd < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "file destination: %s already exists and is not a regular "
			 "file; refusing to replace it: remove it or deliver to another prefix", dst);
		return DEST_FATAL;
	}
	e = copy_hashed(fd, -1, hex);
	if (!e && !strcmp(hex, sha256_hex) && fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	if (e)
		return fail(e, err, errlen, "reading", dst);
	if (strcmp(hex, sha256_hex)) {
		snprintf(err, errlen, "file destination: %s already exists with other content "
			 "(SHA-256 %s, ours %s); refusing to replace it: remove it or deliver to "
			 "another prefix", dst, hex, sha256_hex);
		return DEST_FATAL;
	}
	e = -fsync_dir(dir);
	if (e)
		return fail(e, err, errlen, "writing", dst);
	return DEST_OK;
}

static enum dest_result file_deliver(struct dest *d, const char *path, const char *key,
				     const char *sha256_hex, char *err, size_t errlen)
{
	struct dest_file *f = (struct dest_file *)d;
	char dst[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX], hex[65];
	struct stat st;
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
	/* The destination itself must still be there: mkdir_p would make it
	 * afresh (on whatever file system is below it now) and deliver where
	 * nobody looks. Gone is worth retrying: a remount brings it back. */
	if (stat(f->root, &st) < 0)
		return fail(errno, err, errlen, "opening", f->root);
	if (!S_ISDIR(st.st_mode))
		return fail(ENOTDIR, err, errlen, "opening", f->root);
	e = -mkdir_p(dir, 0755);
	if (e)
		return fail(e, err, errlen, "creating", dir);
	remove_stale_tmps(dir, slash + 1);
	e = link_into_place(path, dst, dir, sha256_hex, hex);
	if (e == -EEXIST)
		return existing(dst, dir, sha256_hex, err, errlen);
	if (e == -EBADMSG) {
		snprintf(err, errlen, "file destination: %s has SHA-256 %s, expected %s: the "
			 "spooled bundle is damaged", path, hex, sha256_hex);
		return DEST_CORRUPT;
	}
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
	if (!e)
		e = -publish(tmp, dst);
	if (e == EEXIST) {
		enum dest_result r = existing(dst, dir, sha256_hex, err, errlen);

		/* a tmp left here is removed by the next delivery of this key */
		if (unlink(tmp) < 0 && errno != ENOENT && r == DEST_OK)
			r = fail(errno, err, errlen, "removing", tmp);
		return r;
	}
	if (!e)
		e = -fsync_dir(dir);
	if (e) {
		(void)unlink(tmp); /* best effort; the error reported is the first */
		return fail(e, err, errlen, "writing", dst);
	}
	return DEST_OK;
}

static const char *file_local_dir(const struct dest *d)
{
	return ((const struct dest_file *)d)->root;
}

static void file_close(struct dest *d)
{
	free(d);
}

static const struct dest_ops file_ops = {
	.scheme = "file",
	.deliver = file_deliver,
	.local_dir = file_local_dir,
	.close = file_close, /* no deliver_many: dest_deliver_many() loops */
};

int dest_file_open(const char *url, const struct dest_options *opts, struct dest **out,
		   char *err, size_t errlen)
{
	const char *path = url + 7;
	/* skip_probe: checked at start-up; file_deliver reports what changed */
	bool probe = !opts || !opts->skip_probe;
	struct dest_file *f;
	struct stat st;

	if (!strncmp(path, "localhost/", 10))
		path += 9;
	if (path[0] != '/' || strlen(path) >= sizeof(f->root) - 256) {
		snprintf(err, errlen, "destination '%s': a file URL needs an absolute path, e.g. "
			 "file:///srv/coverage", url);
		return -1;
	}
	if (probe && (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))) {
		snprintf(err, errlen, "destination '%s': %s is not a directory; create it or mount "
			 "the host directory there", url, path);
		return -1;
	}
	if (probe && access(path, W_OK) < 0) {
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
