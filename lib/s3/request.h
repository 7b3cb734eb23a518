/* SPDX-License-Identifier: MIT */
/*
 * One logical S3 request (internal to lib/s3). s3_request() signs it, sends
 * it and retries it; batch.c runs the same attempts (s3_attempt_prepare,
 * s3_attempt_judge) for many requests over one multi handle, so a request
 * is retried and judged alike whichever way it is sent.
 */
#ifndef COVSHIP_S3_REQUEST_H
#define COVSHIP_S3_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "sigv4.h"
#include "strbuf.h"

#define S3_MAX_PARAMS 8
#define S3_MAX_HEADERS 12

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
	uint64_t out_max; /* cap on the body written to out_fd (0: none) */
};

/* An empty request of method on bucket/key (key NULL: the bucket). */
void s3_req_init(struct s3_req *r, const char *method, const char *bucket, const char *key);
/* Add a query parameter / header (name and value must outlive r). */
void s3_req_param(struct s3_req *r, const char *name, const char *value);
void s3_req_header(struct s3_req *r, const char *name, const char *value);

/* Signs, sends, retries. On return *x holds the last response (caller calls
 * http_response_reset). Returns S3_OK for 2xx, else S3_ERR_* with err. */
int s3_request(struct s3_client *c, const struct s3_req *r, struct http_xfer *x, char *err,
	       size_t errlen);

/* The URL, headers and signature of one attempt (secrets wiped on free). */
struct s3_built {
	struct strbuf url;
	struct strbuf path;
	char host[320];
	struct curl_slist *hdrs;
};
/* Free b, wiping the Authorization and token headers first. */
void s3_built_free(struct s3_built *b);

/* Per-request retry bookkeeping. */
struct s3_attempt {
	int attempt;
	int taken; /* quota tokens this request's retries took */
	bool refreshed, skew_fixed, force;
};

enum s3_verdict {
	S3_V_DONE,    /* *rc holds the result */
	S3_V_AGAIN,   /* retry at once (fresh credentials, corrected clock) */
	S3_V_BACKOFF, /* retry after retry_backoff_ms() */
};

/* Credentials, URL, headers and signature for one attempt of r into x and b.
 * Returns 0, or an S3_ERR_* with err. */
int s3_attempt_prepare(struct s3_client *c, const struct s3_req *r, struct s3_attempt *st,
		       struct http_xfer *x, struct s3_built *b, char *err, size_t errlen);
/* What to do after an attempt finished (x holds the response). */
enum s3_verdict s3_attempt_judge(struct s3_client *c, const struct s3_req *r,
				 struct s3_attempt *st, struct http_xfer *x, int *rc, char *err,
				 size_t errlen);

#endif
