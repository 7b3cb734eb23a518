/* SPDX-License-Identifier: MIT */
/*
 * Up to max_parallel requests at once over one libcurl multi handle, each
 * retried on its own (internal to lib/s3). prepare() fills request i just
 * before it first starts (what it points to must live until done(i));
 * done() gets the final result and response of request i and returns
 * non-zero to start no further requests (those in flight still finish).
 */
#ifndef COVSHIP_S3_BATCH_H
#define COVSHIP_S3_BATCH_H

#include "request.h"

struct s3_batch_ops {
	int (*prepare)(void *ctx, size_t i, struct s3_req *r, char *err, size_t errlen);
	int (*done)(void *ctx, size_t i, int rc, struct http_xfer *x, const char *err);
};
/* Run requests [0, n) as above; returns once every started one is done. */
void s3_run_batch(struct s3_client *c, size_t n, int max_parallel, const struct s3_batch_ops *ops,
		  void *ctx);

#endif
