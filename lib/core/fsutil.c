/* SPDX-License-Identifier: MIT */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"

void file_id_from_stat(const struct stat *st, struct file_id *id)
{
	id->size = (uint64_t)st->st_size;
	id->ino = (uint64_t)st->st_ino;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

bool file_id_equal(const struct file_id *a, const struct file_id *b)
{
	return a->size == b->size && a->ino == b->ino && a->mtime_ns == b->mtime_ns;
}

bool relpath_safe(const char *p)
{
	const char *seg = p;

	if (!*p || *p == '/')
		return false;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);

		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && !memcmp(seg, "..", 2)))
			return false;
		if (!end)
			return true;
		seg = end + 1;
	}
}

int open_parent(int rootfd, const char *relpath, const char **name)
{
	const char *seg = relpath, *slash;
	int fd;

	if (!relpath_safe(relpath))
		return -EINVAL;
	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((slash = strchr(seg, '/'))) {
		char comp[NAME_MAX + 1];
		size_t n = (size_t)(slash - seg);
		int next;

		if (n > NAME_MAX) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, seg, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		close(fd);
		fd = next;
		seg = slash + 1;
	}
	*name = seg;
	return fd;
}

int open_regular(int rootfd, const char *relpath, struct stat *st)
{
	const char *name;
	int dfd = open_parent(rootfd, relpath, &name), fd, e = 0;

	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		e = -errno;
	close(dfd);
	if (fd < 0)
		return e;
	if (fstat(fd, st) < 0)
		e = -errno;
	else if (!S_ISREG(st->st_mode))
		e = -EINVAL;
	if (e) {
		close(fd);
		return e;
	}
	return fd;
}

/* A fresh private name: pid, then 64 random bits (the time and a counter
 * when the kernel has no randomness yet; a clash only costs a retry, as
 * every use of the name refuses to replace). */
static void private_name(char *buf, size_t len)
{
	static _Atomic uint64_t counter;
	struct timespec ts;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
			ts.tv_sec = ts.tv_nsec = 0;
		r = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
		    atomic_fetch_add(&counter, 1);
	}
	snprintf(buf, len, FSUTIL_UNLINK_PREFIX "%ld.%016llx", (long)getpid(),
		 (unsigned long long)r);
}

/* Move name to a new private name (written to priv) in the same directory,
 * never replacing anything there. Returns 0 or -errno (-ENOENT: name is
 * gone). */
static int move_private(int dfd, const char *name, char *priv, size_t len)
{
	struct stat st;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		private_name(priv, len);
		if (renameat2(dfd, name, dfd, priv, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL && errno != ENOSYS)
			return -errno;
		/* No RENAME_NOREPLACE on this file system (NFS): a plain rename.
		 * A hard link and an unlink of `name` would bring the window back
		 * (the unlink goes by name); the private name is random and found
		 * free just before, and nobody else makes such names. */
		if (fstatat(dfd, priv, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (errno != ENOENT)
			return -errno;
		if (renameat(dfd, name, dfd, priv) < 0)
			return -errno;
		return 0;
	}
	return -EEXIST;
}

/* Move priv back to name, never replacing: renameat2(RENAME_NOREPLACE),
 * or where the file system cannot (EINVAL, ENOSYS) a hard link and the
 * removal of the private name. Returns 0 or -errno (-EEXIST: name is taken
 * again; priv is then still there). */
static int move_back(int dfd, const char *priv, const char *name)
{
	if (renameat2(dfd, priv, dfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(dfd, priv, dfd, name, 0) < 0)
		return -errno;
	/* `name` holds the file now; the private name is ours alone */
	if (unlinkat(dfd, priv, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Put a file that must stay back under its name. If that fails, it stays
 * under the private name, never deleted, and one line says where and what
 * to do (advice). Returns `kept` when it is back, the error otherwise. */
static int keep(int dfd, const char *relpath, const char *name, const char *priv, int kept,
		const char *advice)
{
	int e = move_back(dfd, priv, name);

	if (e == 0)
		return kept;
	log_warn("%s: kept as %.*s%s, as it could not be put back (%s): %s", relpath,
		 (int)(name - relpath), relpath, priv, strerror(-e), advice);
	return e;
}

/*
 * Checking the identity and then unlinking by name would delete a file
 * renamed over the path between the two. So the file is moved to a private
 * name first (only this process uses it: nothing can be renamed over it),
 * checked again there, and only then unlinked; a file that is not the
 * planned one goes back.
 */
/*
 * relpath is gone: if an earlier unlink_if_same() of this very file was cut
 * short between its move to a private name and the unlink (a crash, a
 * SIGKILL), the file is still there under that name, delivered but never
 * removed. Finish that removal: a private name holding a regular file of
 * identity id (the same inode, size and mtime) is that file. Only then is
 * a directory read, so the usual path costs nothing. 0 or -errno.
 */
static int finish_private(int dfd, const struct file_id *id)
{
	size_t plen = strlen(FSUTIL_UNLINK_PREFIX);
	struct dirent *de;
	struct file_id now;
	struct stat st;
	int fd = dup(dfd), e = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		e = -errno;
		close(fd);
		return e;
	}
	while ((errno = 0, de = readdir(d))) {
		if (strncmp(de->d_name, FSUTIL_UNLINK_PREFIX, plen) != 0 ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		file_id_from_stat(&st, &now);
		if (file_id_equal(&now, id) && unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT)
			e = -errno;
	}
	if (!e && errno)
		e = -errno;
	closedir(d);
	return e;
}

int unlink_if_same(int rootfd, const char *relpath, const struct file_id *id)
{
	char priv[NAME_MAX + 1];
	const char *name;
	struct file_id now;
	struct stat st;
	int dfd = open_parent(rootfd, relpath, &name), e = 0;

	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	/* a first look, so that a file that changed is not even moved (a writer
	 * would see it vanish for a moment) */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		e = errno == ENOENT ? finish_private(dfd, id) : -errno;
		goto out;
	}
	file_id_from_stat(&st, &now);
	if (!S_ISREG(st.st_mode) || !file_id_equal(&now, id)) {
		e = -ESTALE;
		goto out;
	}
	e = move_private(dfd, name, priv, sizeof(priv));
	if (e < 0) {
		if (e == -ENOENT)
			e = 0;
		goto out;
	}
	if (fstatat(dfd, priv, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		/* removed under our private name by someone else: gone all the same */
		e = errno == ENOENT ? 0 : keep(dfd, relpath, name, priv, -errno,
						"check it, and give it a new coverage file name if "
						"no delivered bundle holds it");
		goto out;
	}
	file_id_from_stat(&st, &now);
	if (!S_ISREG(st.st_mode) || !file_id_equal(&now, id)) {
		e = keep(dfd, relpath, name, priv, -ESTALE,
			 "it replaced the delivered file during clean-up and is not "
			 "delivered; give it a new coverage file name");
		goto out;
	}
	if (unlinkat(dfd, priv, 0) < 0 && errno != ENOENT)
		e = keep(dfd, relpath, name, priv, -errno, /* back: the next clean-up retries */
			 "it was delivered; remove it");
out:
	close(dfd);
	return e;
}

int fsync_parent(int rootfd, const char *relpath)
{
	const char *name;
	int dfd = open_parent(rootfd, relpath, &name), e = 0;

	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	if (fsync(dfd) < 0)
		e = -errno;
	close(dfd);
	return e;
}

int mkdir_p(const char *path, unsigned int mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = i == n ? '\0' : '/';
	}
	return 0;
}

void sha256_to_hex(const unsigned char *md, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

int sha256_file(const char *path, char hex[65])
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd, e = 0;
	ssize_t n;

	if (!ctx)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		e = -errno;
		EVP_MD_CTX_free(ctx);
		return e;
	}
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		e = -EIO;
	while (!e && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			e = -errno;
		else if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			e = -EIO;
	}
	if (!e && !EVP_DigestFinal_ex(ctx, md, NULL))
		e = -EIO;
	if (!e)
		sha256_to_hex(md, hex);
	close(fd);
	EVP_MD_CTX_free(ctx);
	return e;
}
