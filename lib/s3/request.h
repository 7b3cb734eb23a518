/* SPDX-License-Identifier: MIT */
/* Shared between s3.c (operations) and multipart.c; not a public header. */
#ifndef COVSHIP_S3_INTERNAL_H
#define COVSHIP_S3_INTERNAL_H

#include "credentials.h"
#include "http.h"
#include "retry.h"
#include "s3.h"
#include "sigv4.h"

struct s3_client {
	struct s3_config cfg;
	struct http_tls tls;
	struct cred_chain *creds;
	struct retry_quota quota;
	long clock_offset_s; /* server time - our time, learnt from RequestTimeTooSkewed */
	CURL *h;
	char scheme[8];
	char hostport[256];
};

#define S3_MAX_PARAMS 8
#define S3_MAX_HEADERS 12

/* One logical S3 request; s3_request() signs and sends it, retrying. */
struct s3_req {
	const char *method;
	const char *bucket;
	const char *key; /* NULL/"" for bucket-level requests */
	struct sigv4_kv params[S3_MAX_PARAMS];
	size_t nparams;
	struct sigv4_kv headers[S3_MAX_HEADERS]; /* besides host/date/sha256/token */
	size_t nheaders;
	const char *body_mem;
	size_t body_mem_len;
	int body_fd;
	uint64_t body_off, body_len;
	bool has_body;
	const char *payload_hash; /* hex; NULL = hash of body_mem or "" */
	int out_fd;
};

void s3_req_init(struct s3_req *r, const char *method, const char *bucket, const char *key);
void s3_req_param(struct s3_req *r, const char *name, const char *value);
void s3_req_header(struct s3_req *r, const char *name, const char *value);

/* Signs, sends, retries. On return *x holds the last response (caller calls
 * http_response_reset). Returns S3_OK for 2xx, else S3_ERR_* with err. */
int s3_request(struct s3_client *c, const struct s3_req *r, struct http_xfer *x, char *err,
	       size_t errlen);

/* Up to max_parallel requests at once over one libcurl multi handle, each
 * retried on its own. prepare() fills request i just before it first
 * starts (what it points to must live until done(i)); done() gets the
 * final result and response of request i and returns non-zero to start no
 * further requests (those in flight still finish). */
struct s3_batch_ops {
	int (*prepare)(void *ctx, size_t i, struct s3_req *r, char *err, size_t errlen);
	int (*done)(void *ctx, size_t i, int rc, struct http_xfer *x, const char *err);
};
void s3_run_batch(struct s3_client *c, size_t n, int max_parallel, const struct s3_batch_ops *ops,
		  void *ctx);

/* One pass over a file range: hex SHA-256, base64 SHA-256 and, when md5 is
 * set, base64 MD5 (else md5_b64 is ""). */
struct s3_digests {
	char sha256_hex[65];
	char sha256_b64[48];
	char md5_b64[32];
};
int s3_digest_range(int fd, uint64_t off, uint64_t len, struct s3_digests *d, bool md5);

/* A PutObject of fd's first size bytes with the digests d: Content-MD5,
 * x-amz-checksum-sha256, x-amz-meta-covship-sha256, the signed payload hash
 * and, when asked, If-None-Match: *. d must live as long as r. */
void s3_put_req_fill(struct s3_req *r, const char *bucket, const char *key, int fd,
		     uint64_t size, const struct s3_digests *d, bool if_none_match);

/* The part size for a file of size bytes: want (cfg->part_size), raised to
 * a whole number of MiB when that is needed to stay within 10,000 parts. */
uint64_t s3_part_size(uint64_t size, uint64_t want);

int s3_put_multipart(struct s3_client *c, const char *bucket, const char *key, int fd,
		     uint64_t size, const char *sha256_hex, const struct s3_put_opts *po,
		     char *err, size_t errlen);

#endif
