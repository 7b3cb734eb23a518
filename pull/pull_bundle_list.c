/* SPDX-License-Identifier: MIT */
/* The list of bundles a source found: names, keys, sizes, order. */
#include "pull_bundle_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && memcmp(s + n - m, suffix, m) == 0;
}

int pull_is_bundle_name(const char *key)
{
	return ends_with(key, ".tar.gz") || ends_with(key, ".tar.zst");
}

int pull_bundle_list_add(struct pull_bundle_list *l, const char *key, const char *rel,
			 uint64_t size)
{
	struct pull_bundle *v, *b;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;

		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	b = &l->v[l->n];
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->size = size;
	b->key = strdup(key);
	b->rel = strdup(rel);
	if (!b->key || !b->rel) {
		free(b->key);
		free(b->rel);
		return -1;
	}
	l->n++;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct pull_bundle *)a)->key, ((const struct pull_bundle *)b)->key);
}

void pull_bundle_list_sort(struct pull_bundle_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_key);
}

void pull_bundle_list_free(struct pull_bundle_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].rel);
		if (l->v[i].fd >= 0)
			close(l->v[i].fd);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}
