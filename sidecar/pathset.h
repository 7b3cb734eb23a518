/* SPDX-License-Identifier: MIT */
/* A set of relative paths (optionally with the file identity), for "already
 * in a pending bundle" and "already delivered" checks over many files. */
#ifndef COVSHIP_PATHSET_H
#define COVSHIP_PATHSET_H

#include <stdbool.h>
#include <stddef.h>

#include "fsutil.h"

struct pathset_item {
	char *path;
	struct file_id id;
};

struct pathset {
	struct pathset_item *v;
	size_t n, cap;
	bool sorted;
};

int pathset_add(struct pathset *s, const char *path, const struct file_id *id);
/* id NULL: match by path only. */
bool pathset_contains(struct pathset *s, const char *path, const struct file_id *id);
/* Keep only the items keep(item, ctx) says true for (the others are
 * freed); their order is kept. */
void pathset_filter(struct pathset *s, bool (*keep)(const struct pathset_item *, void *),
		    void *ctx);
void pathset_clear(struct pathset *s);

#endif
