/* SPDX-License-Identifier: MIT */
#include "overlap.h"
#include "scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Move the last component of head (not "/") to the front of tail. */
static int shift_last(char *head, char *tail, size_t taillen)
{
	char tmp[PATH_MAX];
	char *slash;
	size_t n = strlen(head);

	while (n > 1 && head[n - 1] == '/')
		head[--n] = '\0';
	slash = strrchr(head, '/');
	if (snprintf(tmp, sizeof(tmp), "%s/%s", slash ? slash + 1 : head, tail) >=
	    (int)sizeof(tmp) || strlen(tmp) >= taillen)
		return -ENAMETOOLONG;
	strcpy(tail, tmp);
	if (!slash)
		strcpy(head, "."); /* a relative name: its parent is the cwd */
	else if (slash == head)
		head[1] = '\0'; /* "/x" -> "/" */
	else
		*slash = '\0';
	return 0;
}

int path_canonical(const char *path, char out[PATH_MAX])
{
	char head[PATH_MAX], tail[PATH_MAX] = "";
	char *comp, *save = NULL;
	size_t n;

	if (!*path)
		return -ENOENT;
	if (snprintf(head, sizeof(head), "%s", path) >= (int)sizeof(head))
		return -ENAMETOOLONG;
	/* realpath() wants every component to exist: the spool may not yet
	 * (spool_open creates it), so resolve what exists and append the rest,
	 * which, not existing, holds no symlink. */
	while (!realpath(head, out)) {
		int e = errno;

		if (e != ENOENT || !strcmp(head, "/") || !strcmp(head, "."))
			return -e;
		e = shift_last(head, tail, sizeof(tail));
		if (e < 0)
			return e;
	}
	for (comp = strtok_r(tail, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (!strcmp(comp, "."))
			continue;
		n = strlen(out);
		if (!strcmp(comp, "..")) {
			char *slash = strrchr(out, '/');

			if (slash == out)
				out[1] = '\0';
			else if (slash)
				*slash = '\0';
			continue;
		}
		if (n + 1 + strlen(comp) >= PATH_MAX)
			return -ENAMETOOLONG;
		snprintf(out + n, PATH_MAX - n, "%s%s", n > 1 ? "/" : "", comp);
	}
	return 0;
}

bool path_within(const char *outer, const char *inner)
{
	size_t n = strlen(outer);

	if (n == 1 && outer[0] == '/')
		return inner[0] == '/';
	return !strncmp(outer, inner, n) && (inner[n] == '\0' || inner[n] == '/');
}

/*
 * May the spool (canonical path spool) lie inside --dir (canonical dir)?
 * Only the default spool, DIR/.covship-spool, whether given by --spool or
 * not: it is excluded by name, so the scanner and covship-idle never read
 * it, and spool_open_private() makes sure it is the sidecar's alone. Any
 * other spool there shares the volume with the app, and every other spool
 * directory in the volume (an earlier run's --spool) is plain files to the
 * scanner: with --include '*', its bundles would be bundled and removed.
 */
static bool spool_may_be_inside(const char *dir, const char *spool)
{
	size_t n = strlen(dir);

	return !strncmp(spool, dir, n) && spool[n] == '/' && !strcmp(spool + n + 1, SCAN_SPOOL_DIR);
}

int overlap_check(const struct options *o, const char *dest_root, char *err, size_t errlen)
{
	char dir[PATH_MAX], other[PATH_MAX];

	if (path_canonical(o->dir, dir) < 0)
		return 0; /* opened a moment ago; whatever broke shows up when it is read */
	if (dest_root && path_canonical(dest_root, other) == 0) {
		if (path_within(dir, other)) {
			snprintf(err, errlen,
				 "--dest %s is inside --dir %s (resolved: %s in %s): delivered bundles "
				 "would be bundled again and removed; deliver outside the coverage "
				 "directory", o->dest, o->dir, other, dir);
			return -1;
		}
		if (path_within(other, dir)) {
			snprintf(err, errlen,
				 "--dir %s is inside --dest %s (resolved: %s in %s): bundles would be "
				 "written among the coverage files; keep the coverage directory out "
				 "of the destination", o->dir, o->dest, dir, other);
			return -1;
		}
	}
	if (path_canonical(o->spool, other) == 0 && path_within(dir, other) &&
	    !spool_may_be_inside(dir, other)) {
		snprintf(err, errlen,
			 "--spool %s is inside --dir %s (resolved: %s in %s): the app container "
			 "could touch undelivered bundles, and another run could bundle them as "
			 "coverage; put the spool outside the coverage directory",
			 o->spool, o->dir, other, dir);
		return -1;
	}
	return 0;
}
