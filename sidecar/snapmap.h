/* SPDX-License-Identifier: MIT */
/* Per-file event history for the snapshot rule: relative path -> snap_info. */
#ifndef COVSHIP_SNAPMAP_H
#define COVSHIP_SNAPMAP_H

#include <stddef.h>

#include "finality.h"

struct snapmap_node;

struct snapmap {
	struct snapmap_node **buckets;
	size_t nbuckets, n;
};

/* The entry for path, created (zeroed) when missing; NULL when out of memory. */
struct snap_info *snapmap_get(struct snapmap *m, const char *path, int create);
void snapmap_remove(struct snapmap *m, const char *path);
void snapmap_free(struct snapmap *m);

#endif
