/* SPDX-License-Identifier: MIT */
/*
 * The bundles a source found (pull_source.h): key, name below the source
 * root, listed size, and the descriptor while one is being read. Shared by
 * the source kinds, so that both name, sort and free bundles alike.
 */
#ifndef COVSHIP_PULL_BUNDLE_LIST_H
#define COVSHIP_PULL_BUNDLE_LIST_H

#include <stddef.h>
#include <stdint.h>

struct pull_bundle {
	char *key;     /* object key (s3) or path below the root (file) */
	char *rel;     /* key relative to the source root: names the output dir */
	uint64_t size; /* as listed */
	int fd;        /* in ready(): readable at offset 0, else -1 */
};

struct pull_bundle_list {
	struct pull_bundle *v;
	size_t n, cap;
};

/* Non-zero when key names a bundle (ends in .tar.gz or .tar.zst). */
int pull_is_bundle_name(const char *key);
/* Append a bundle (copies key and rel); returns 0 or -1 (allocation). */
int pull_bundle_list_add(struct pull_bundle_list *l, const char *key, const char *rel,
			 uint64_t size);
/* Sort by key (byte order). */
void pull_bundle_list_sort(struct pull_bundle_list *l);
/* Free every entry (closing open descriptors) and empty the list. */
void pull_bundle_list_free(struct pull_bundle_list *l);

#endif
