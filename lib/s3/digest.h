/* SPDX-License-Identifier: MIT */
/* The digests an upload sends (internal to lib/s3), read in one pass. */
#ifndef COVSHIP_S3_DIGEST_H
#define COVSHIP_S3_DIGEST_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

struct s3_digests {
	char sha256_hex[65];
	char sha256_b64[48];
	char md5_b64[32];
};

/* One pass over fd's bytes [off, off + len): hex SHA-256, base64 SHA-256
 * and, when md5 is set, base64 MD5 (else md5_b64 is ""). 0 or -1 (errno). */
int s3_digest_range(int fd, uint64_t off, uint64_t len, struct s3_digests *d, bool md5);

/* s3_digest_range that also feeds the same bytes to also (when not NULL),
 * e.g. the running SHA-256 of a whole file read part by part, in order.
 * On failure also may have taken part of the range. 0 or -1 (errno). */
int s3_digest_range_feed(int fd, uint64_t off, uint64_t len, struct s3_digests *d, bool md5,
			 EVP_MD_CTX *also);

#endif
