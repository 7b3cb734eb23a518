/* SPDX-License-Identifier: MIT */
#include "snapmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct snapmap_node {
	struct snapmap_node *next;
	struct snap_info info;
	char path[];
};

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static int grow(struct snapmap *m)
{
	size_t nb = m->nbuckets ? m->nbuckets * 2 : 256, i;
	struct snapmap_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return -1;
	for (i = 0; i < m->nbuckets; i++) {
		struct snapmap_node *n = m->buckets[i], *next;

		for (; n; n = next) {
			size_t k = hash(n->path) % nb;

			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
	return 0;
}

struct snap_info *snapmap_get(struct snapmap *m, const char *path, int create)
{
	struct snapmap_node *n;
	size_t len = strlen(path);

	if (m->nbuckets) {
		for (n = m->buckets[hash(path) % m->nbuckets]; n; n = n->next)
			if (!strcmp(n->path, path))
				return &n->info;
	}
	if (!create)
		return NULL;
	if ((m->n + 1 > m->nbuckets * 2 || !m->nbuckets) && grow(m) < 0)
		return NULL;
	n = calloc(1, sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	memcpy(n->path, path, len + 1);
	n->next = m->buckets[hash(path) % m->nbuckets];
	m->buckets[hash(path) % m->nbuckets] = n;
	m->n++;
	return &n->info;
}

void snapmap_remove(struct snapmap *m, const char *path)
{
	struct snapmap_node **pp;

	if (!m->nbuckets)
		return;
	for (pp = &m->buckets[hash(path) % m->nbuckets]; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->path, path)) {
			struct snapmap_node *n = *pp;

			*pp = n->next;
			free(n);
			m->n--;
			return;
		}
	}
}

void snapmap_free(struct snapmap *m)
{
	size_t i;

	for (i = 0; i < m->nbuckets; i++) {
		struct snapmap_node *n = m->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}
