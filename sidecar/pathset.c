/* SPDX-License-Identifier: MIT */
#include "pathset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pathset_add(struct pathset *s, const char *path, const struct file_id *id)
{
	static const struct file_id none;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct pathset_item *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].path = strdup(path);
	if (!s->v[s->n].path)
		return -ENOMEM;
	s->v[s->n].id = id ? *id : none;
	s->n++;
	s->sorted = false;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pathset_item *)a)->path, ((const struct pathset_item *)b)->path);
}

bool pathset_contains(struct pathset *s, const char *path, const struct file_id *id)
{
	size_t lo = 0, hi, i;

	if (!s->n)
		return false;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), item_cmp);
		s->sorted = true;
	}
	hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->v[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < s->n && !strcmp(s->v[i].path, path); i++)
		if (!id || file_id_equal(&s->v[i].id, id))
			return true;
	return false;
}

void pathset_filter(struct pathset *s, bool (*keep)(const struct pathset_item *, void *),
		    void *ctx)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++) {
		if (keep(&s->v[i], ctx))
			s->v[n++] = s->v[i]; /* in order: a sorted set stays sorted */
		else
			free(s->v[i].path);
	}
	s->n = n;
}

void pathset_clear(struct pathset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
