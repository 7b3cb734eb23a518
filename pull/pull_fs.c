/* SPDX-License-Identifier: MIT */
#include "pull_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pull_open_dirs_at(int dirfd, const char *rel)
{
	char buf[PATH_MAX];
	char *part, *save = NULL;
	int fd, next;

	if (strlen(rel) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, rel);
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (mkdirat(fd, part, 0755) < 0 && errno != EEXIST) {
			next = -errno;
			close(fd);
			return next;
		}
		next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			next = -errno;
			close(fd);
			return next;
		}
		close(fd);
		fd = next;
	}
	return fd;
}

static int rm_children(int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0, r;

	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = pull_rmtree_at(dirfd(d), de->d_name);
		if (r < 0 && rc == 0)
			rc = r;
	}
	closedir(d);
	return rc;
}

int pull_rmtree_at(int dirfd, const char *name)
{
	int fd, rc;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = rm_children(fd);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int split_parent(const char *rel, char *parent, size_t plen, const char **leaf)
{
	const char *slash = strrchr(rel, '/');

	if (!slash) {
		snprintf(parent, plen, ".");
		*leaf = rel;
		return 0;
	}
	if ((size_t)(slash - rel) >= plen)
		return -ENAMETOOLONG;
	memcpy(parent, rel, (size_t)(slash - rel));
	parent[slash - rel] = '\0';
	*leaf = slash + 1;
	return 0;
}

int pull_place_dir(int from_dirfd, const char *from, int to_dirfd, const char *rel)
{
	char parent[PATH_MAX];
	const char *leaf;
	int pfd, rc = 0;

	rc = split_parent(rel, parent, sizeof(parent), &leaf);
	if (rc < 0)
		return rc;
	pfd = pull_open_dirs_at(to_dirfd, parent);
	if (pfd < 0)
		return pfd;
	if (renameat2(from_dirfd, from, pfd, leaf, RENAME_NOREPLACE) < 0) {
		if (errno != EEXIST) {
			rc = -errno;
		} else if (renameat2(from_dirfd, from, pfd, leaf, RENAME_EXCHANGE) < 0) {
			rc = -errno;
		} else {
			/* The previous copy now sits at the staging name. */
			rc = pull_rmtree_at(from_dirfd, from);
		}
	}
	close(pfd);
	return rc;
}
