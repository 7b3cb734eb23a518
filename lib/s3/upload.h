/* SPDX-License-Identifier: MIT */
/*
 * The pieces of an upload (internal to lib/s3): the PutObject request
 * (put.c) that single and batched uploads share, and multipart
 * (multipart.c) for files at or above the threshold.
 */
#ifndef COVSHIP_S3_UPLOAD_H
#define COVSHIP_S3_UPLOAD_H

#include "digest.h"
#include "request.h"

/* A PutObject of fd's first size bytes with the digests d: Content-MD5,
 * x-amz-checksum-sha256, x-amz-meta-covship-sha256, the signed payload hash
 * and, when asked, If-None-Match: *. d must live as long as r. */
void s3_put_req_fill(struct s3_req *r, const char *bucket, const char *key, int fd,
		     uint64_t size, const struct s3_digests *d, bool if_none_match);

/* The part size for a file of size bytes: want (cfg->part_size), raised to
 * a whole number of MiB when that is needed to stay within 10,000 parts. */
uint64_t s3_part_size(uint64_t size, uint64_t want);

/* Multipart upload of fd (the file path, size bytes, SHA-256 sha256_hex),
 * resumable from po->state_dir, aborted when giving up on a fatal error.
 * The parts sent must hash to sha256_hex, checked before Complete: else
 * aborted, the state removed, S3_ERR_CORRUPT. */
int s3_put_multipart(struct s3_client *c, const char *bucket, const char *key, const char *path,
		     int fd, uint64_t size, const char *sha256_hex, const struct s3_put_opts *po,
		     char *err, size_t errlen);

#endif
