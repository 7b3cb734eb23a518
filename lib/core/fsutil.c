/* SPDX-License-Identifier: MIT */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

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

int unlink_if_same(int rootfd, const char *relpath, const struct file_id *id)
{
	const char *name;
	struct file_id now;
	struct stat st;
	int dfd = open_parent(rootfd, relpath, &name), e = 0;

	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		e = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	file_id_from_stat(&st, &now);
	if (!S_ISREG(st.st_mode) || !file_id_equal(&now, id)) {
		e = -ESTALE;
		goto out;
	}
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		e = -errno;
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
