/* SPDX-License-Identifier: MIT */
#include "pull_collide.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "manifest.h"

struct ent {
	const char *rel;
	size_t i;
};

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = strcmp(x->rel, y->rel);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The first entry whose rel equals the first len bytes of s, or NULL. */
static const struct ent *find(const struct ent *v, size_t n, const char *s, size_t len)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strncmp(v[mid].rel, s, len);
		if (c == 0 && v[mid].rel[len] != '\0')
			c = 1; /* longer than the prefix: sorts after it */
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strlen(v[lo].rel) == len && !strncmp(v[lo].rel, s, len) ? &v[lo] :
									   NULL;
}

/* 0: rel does not exist; 1: a directory an earlier pull placed (holds a
 * regular covship-manifest.json); -1: something else is there. Components
 * are opened without following symlinks: a symlink is "something else". */
static int existing(int out_fd, const char *rel)
{
	struct stat st;
	int fd, rc;

	fd = openat(out_fd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		close(fd);
		return -1;
	}
	rc = fstatat(fd, MANIFEST_ENTRY_NAME, &st, AT_SYMLINK_NOFOLLOW);
	close(fd);
	return rc == 0 && S_ISREG(st.st_mode) ? 1 : -1;
}

long pull_collisions_check(int out_fd, const char *out_abs, char *const *rel,
			   const char *const *key, size_t n)
{
	struct ent *v = calloc(n ? n : 1, sizeof(*v));
	const struct ent *hit;
	size_t i, k = 0, j;
	long found = 0;

	if (!v) {
		log_error("out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (rel[i])
			v[k++] = (struct ent){ rel[i], i };
	qsort(v, k, sizeof(*v), cmp_ent);
	for (j = 0; j < k; j++) {
		const char *s = v[j].rel;
		const char *slash;

		/* Same directory: sorted next to each other. */
		if (j > 0 && !strcmp(v[j - 1].rel, s)) {
			log_error("bundles %s and %s would both be extracted to %s/%s; pull one "
				  "of them (rename or remove the other) or pull them into separate "
				  "--out directories", key[v[j - 1].i], key[v[j].i], out_abs, s);
			found++;
			continue;
		}
		/* A directory inside another bundle's: look up every ancestor. */
		for (slash = strchr(s, '/'); slash; slash = strchr(slash + 1, '/')) {
			hit = find(v, k, s, (size_t)(slash - s));
			if (hit) {
				log_error("bundle %s would be extracted inside %s/%s, the directory "
					  "of bundle %s; pull them into separate --out directories",
					  key[v[j].i], out_abs, hit->rel, key[hit->i]);
				found++;
				break;
			}
		}
		if (existing(out_fd, s) < 0) {
			log_error("bundle %s: %s/%s exists and was not left by covship pull (no "
				  "%s in it); move it away or choose another --out", key[v[j].i],
				  out_abs, s, MANIFEST_ENTRY_NAME);
			found++;
		}
	}
	free(v);
	return found;
}
