/* SPDX-License-Identifier: MIT */
#include "origin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"

/* strdup that keeps NULL as NULL; false only when it ran out of memory. */
static bool dup_opt(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

int origin_current(struct plan_origin *out, const char *url, const char *dir, int rootfd,
		   char *err, size_t errlen)
{
	char abs[PATH_MAX];
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (fstat(rootfd, &st) < 0 || !realpath(dir, abs)) {
		snprintf(err, errlen, "--dir %s: %s", dir, strerror(errno));
		return -1;
	}
	out->dev = (uint64_t)st.st_dev;
	out->ino = (uint64_t)st.st_ino;
	out->dirlen = strlen(abs);
	if (!dup_opt(&out->dest, url) || !dup_opt(&out->dir, abs)) {
		origin_free(out);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void origin_free(struct plan_origin *o)
{
	free(o->dest);
	free(o->dir);
	memset(o, 0, sizeof(*o));
}

int origin_copy(struct plan_origin *dst, const struct plan_origin *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->dev = src->dev;
	dst->ino = src->ino;
	dst->dirlen = src->dirlen;
	if (!dup_opt(&dst->dest, src->dest)) {
		origin_free(dst);
		return -ENOMEM;
	}
	/* a directory name may hold any byte but NUL: copied by length */
	if (src->dir) {
		dst->dir = malloc(src->dirlen + 1);
		if (!dst->dir) {
			origin_free(dst);
			return -ENOMEM;
		}
		memcpy(dst->dir, src->dir, src->dirlen + 1);
	}
	return 0;
}

bool origin_known(const struct plan_origin *o)
{
	return o->dest != NULL;
}

/* NULL-safe string equality: absent equals absent only. */
static int cmp_opt(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

bool origin_same_dest(const struct plan_origin *a, const struct plan_origin *b)
{
	return !cmp_opt(a->dest, b->dest);
}

bool origin_same_dir(const struct plan_origin *a, const struct plan_origin *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

int origin_cmp(const struct plan_origin *a, const struct plan_origin *b)
{
	int c = cmp_opt(a->dest, b->dest);

	if (!c && a->dev != b->dev)
		c = a->dev < b->dev ? -1 : 1;
	if (!c && a->ino != b->ino)
		c = a->ino < b->ino ? -1 : 1;
	return c;
}

/* A number as a JSON string: exact beyond 2^53 (st_dev, st_ino). */
static bool put_u64(cJSON *o, const char *k, uint64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return cJSON_AddStringToObject(o, k, num) != NULL;
}

cJSON *origin_to_json(const struct plan_origin *o)
{
	cJSON *j = cJSON_CreateObject();

	if (!j || !cJSON_AddStringToObject(j, "dest", o->dest) ||
	    manifest_put_path(j, o->dir, o->dirlen) < 0 ||
	    !put_u64(j, "dev", o->dev) || !put_u64(j, "ino", o->ino)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* A string member, copied; false when absent, not a string or ENOMEM. */
static bool get_str(const cJSON *j, const char *k, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	*out = NULL;
	return cJSON_IsString(v) && dup_opt(out, v->valuestring);
}

static bool get_u64(const cJSON *j, const char *k, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
	char *end;

	if (!cJSON_IsString(v) || !v->valuestring[0])
		return false;
	errno = 0;
	*out = strtoull(v->valuestring, &end, 10);
	return !errno && !*end;
}

int origin_from_json(const cJSON *j, struct plan_origin *o)
{
	memset(o, 0, sizeof(*o));
	if (!cJSON_IsObject(j) || !get_str(j, "dest", &o->dest) ||
	    !(o->dir = manifest_get_path(j, &o->dirlen)) || o->dir[0] != '/' ||
	    !get_u64(j, "dev", &o->dev) || !get_u64(j, "ino", &o->ino)) {
		origin_free(o);
		return -1;
	}
	return 0;
}

int origin_open_dir(const struct plan_origin *o)
{
	int fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	/* Another directory under the recorded path (a new volume mounted
	 * there, a directory re-created) holds other files: the plan's
	 * relative paths must never be resolved against it. */
	if ((uint64_t)st.st_dev != o->dev || (uint64_t)st.st_ino != o->ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

int origin_open_dest(const struct plan_origin *o, const struct dest_options *opts,
		     struct dest **out, char *err, size_t errlen)
{
	/* This run's settings (endpoint, region, credentials, CA bundle):
	 * what an operator fixes between two runs applies to waiting plans. */
	return dest_open(o->dest, opts, out, err, errlen);
}
