/* SPDX-License-Identifier: MIT */
#include "proctree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pidvec_push(struct pidvec *pv, pid_t pid)
{
	for (size_t i = 0; i < pv->n; i++)
		if (pv->v[i] == pid)
			return 0; /* a child listed by two threads' files while moving */
	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 32;
		pid_t *v = realloc(pv->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pv->v = v;
		pv->cap = cap;
	}
	pv->v[pv->n++] = pid;
	return 0;
}

void pidvec_free(struct pidvec *pv)
{
	free(pv->v);
	pv->v = NULL;
	pv->n = pv->cap = 0;
}

/* Whole file into a growing buffer: a pid must never be cut in two. */
static int slurp(int fd, char **data)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t n;

		if (cap - len < 1024) {
			char *p = realloc(buf, cap ? cap * 2 : 4096);

			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
			cap = cap ? cap * 2 : 4096;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno == ESRCH ? 0 : -errno; /* thread exited meanwhile */

			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*data = buf;
	return 0;
}

/* One children file: space-separated pids. */
static int read_children_file(const char *path, struct pidvec *out)
{
	char *data = NULL, *p, *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -errno; /* thread gone */
	err = slurp(fd, &data);
	(void)close(fd);
	if (err || !data)
		return err;
	for (p = data; !err; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		err = pidvec_push(out, (pid_t)pid);
	}
	free(data);
	return err;
}

int proctree_children(pid_t pid, struct pidvec *out)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -errno; /* the process is gone: no children */
	while ((errno = 0, de = readdir(dir)) != NULL) {
		char file[128];

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(file, sizeof(file), "/proc/%ld/task/%.20s/children", (long)pid,
			 de->d_name);
		err = read_children_file(file, out);
		if (err)
			break;
	}
	if (!err && errno)
		err = -errno;
	(void)closedir(dir);
	return err;
}

int proctree_descendants(pid_t pid, struct pidvec *out)
{
	size_t first = out->n;
	int err = proctree_children(pid, out);

	/* Breadth first: out doubles as the queue. */
	for (size_t i = first; !err && i < out->n; i++)
		err = proctree_children(out->v[i], out);
	return err;
}

void proctree_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	snprintf(buf, len, "?");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	(void)close(fd);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

bool proctree_usable(void)
{
	char link[32];
	char want[32];
	ssize_t n = readlink("/proc/self", link, sizeof(link) - 1);

	if (n <= 0)
		return false;
	link[n] = '\0';
	snprintf(want, sizeof(want), "%ld", (long)getpid());
	return strcmp(link, want) == 0;
}

bool proctree_is_zombie(pid_t pid)
{
	char path[64], buf[512];
	const char *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* gone or unreadable: let kill() find out */
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may contain anything, even ") ". */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}
