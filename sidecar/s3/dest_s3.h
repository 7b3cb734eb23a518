/* SPDX-License-Identifier: MIT */
/* The s3://bucket/prefix destination (see ../dest.h). */
#ifndef COVSHIP_DEST_S3_H
#define COVSHIP_DEST_S3_H

#include "dest.h"

int dest_s3_open(const char *url, const struct dest_options *opts, struct dest **out, char *err,
		 size_t errlen);

/* dest_deliver for several spooled bundles at once. On an s3:// destination
 * the bundles below the multipart threshold are uploaded up to max_parallel
 * at once (s3_put_objects); each item's result means exactly what
 * dest_deliver's would. Any other destination delivers them one after the
 * other. Returns the number of items whose result is not DEST_OK. */
struct dest_item {
	const char *path;
	const char *key;
	const char *sha256_hex;
	enum dest_result result; /* out */
	char err[256];           /* out: one line when result != DEST_OK */
};
size_t dest_s3_deliver_many(struct dest *d, struct dest_item *items, size_t n, int max_parallel);

#endif
