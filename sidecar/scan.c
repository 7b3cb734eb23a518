/* SPDX-License-Identifier: MIT */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define SCAN_MAX_DEPTH 64

int filelist_add(struct filelist *l, const char *path, const struct file_id *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct scan_file *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].path = strdup(path);
	if (!l->v[l->n].path)
		return -ENOMEM;
	l->v[l->n].id = *id;
	l->n++;
	return 0;
}

void filelist_free(struct filelist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static const char *kind(mode_t m)
{
	if (S_ISLNK(m))
		return "symlink (never followed)";
	if (S_ISFIFO(m))
		return "FIFO";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "device file";
	return "non-regular file";
}

static void warn_once(struct scanner *s, const char *path, mode_t mode)
{
	char **w;
	size_t i;

	for (i = 0; i < s->nwarned; i++)
		if (!strcmp(s->warned[i], path))
			return;
	log_warn("skipping %s: %s", path, kind(mode));
	w = realloc(s->warned, (s->nwarned + 1) * sizeof(*w));
	if (!w)
		return;
	s->warned = w;
	s->warned[s->nwarned] = strdup(path);
	if (s->warned[s->nwarned])
		s->nwarned++;
}

static int walk(struct scanner *s, int dfd, const char *prefix, int depth, struct filelist *out);

static int visit(struct scanner *s, int dfd, const char *prefix, const char *name, int depth,
		 struct filelist *out)
{
	char path[4096];
	struct stat st;
	struct file_id id;

	if (snprintf(path, sizeof(path), "%s%s", prefix, name) >= (int)sizeof(path)) {
		log_warn("skipping a path longer than %zu bytes under %s", sizeof(path), prefix);
		return 0;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		int sub;

		if ((depth == 0 && (!strcmp(name, SCAN_MARKER_DIR) ||
				    !strcmp(name, SCAN_SPOOL_DIR))) ||
		    (st.st_dev == s->skip_dev && st.st_ino == s->skip_ino))
			return 0;
		if (strlen(path) + 2 > sizeof(path)) {
			log_warn("skipping a directory path longer than %zu bytes", sizeof(path));
			return 0;
		}
		sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno != ENOENT)
				log_warn("cannot read directory %s: %s", path, strerror(errno));
			return 0;
		}
		strcat(path, "/");
		return walk(s, sub, path, depth + 1, out);
	}
	if (!matcher_match(s->matcher, path))
		return 0;
	if (!S_ISREG(st.st_mode)) {
		warn_once(s, path, st.st_mode);
		return 0;
	}
	file_id_from_stat(&st, &id);
	return filelist_add(out, path, &id);
}

/* Takes ownership of dfd. */
static int walk(struct scanner *s, int dfd, const char *prefix, int depth, struct filelist *out)
{
	DIR *d;
	struct dirent *de;
	int e = 0;

	if (depth > SCAN_MAX_DEPTH) {
		log_warn("not descending below %s: deeper than %d levels", prefix, SCAN_MAX_DEPTH);
		close(dfd);
		return 0;
	}
	d = fdopendir(dfd);
	if (!d) {
		e = -errno;
		close(dfd);
		return e;
	}
	while (!e) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				e = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		e = visit(s, dirfd(d), prefix, de->d_name, depth, out);
	}
	closedir(d);
	return e;
}

int scan_tree(struct scanner *s, struct filelist *out)
{
	int fd = openat(s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return walk(s, fd, "", 0, out);
}

void scanner_free(struct scanner *s)
{
	size_t i;

	for (i = 0; i < s->nwarned; i++)
		free(s->warned[i]);
	free(s->warned);
	s->warned = NULL;
	s->nwarned = 0;
}
