/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4 for S3, as pure functions (no clock, no I/O) so
 * that they can be unit-tested against published vectors and botocore, and
 * fuzzed. libcurl's CURLOPT_AWS_SIGV4 mis-signs S3 requests (see
 * docs/s3.md), hence our own.
 */
#ifndef COVSHIP_S3_SIGV4_H
#define COVSHIP_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

struct sigv4_kv {
	const char *name;
	const char *value; /* NULL for a valueless query parameter */
};

/* Append s percent-encoded: every byte but A-Z a-z 0-9 - . _ ~ (and '/'
 * when keep_slash) becomes %XX with uppercase hex. */
void sigv4_uri_encode(struct strbuf *b, const char *s, size_t len, bool keep_slash);

/* Canonical query string from raw (unencoded) parameters: names and values
 * encoded, sorted by encoded name then value, joined with '&', "name=" for
 * a valueless parameter. The result is also a valid request query. Returns
 * a malloc'd string or NULL on OOM. */
char *sigv4_canonical_query(const struct sigv4_kv *params, size_t n);

/* Index of the first header whose name or value holds CR or LF, or -1.
 * Such a header would inject lines into the request (and sign something
 * other than what is sent): every signing function below refuses it. */
long sigv4_bad_header(const struct sigv4_kv *hdrs, size_t n);

/* Canonical headers ("name:value\n" each, names lowercased, values trimmed
 * and inner runs of spaces collapsed, sorted by name only, a repeated name's
 * values joined with ',' in the order given) and the signed-headers list
 * ("a;b;c"). Both malloc'd; -1 on OOM or a CR/LF (sigv4_bad_header). */
int sigv4_canonical_headers(const struct sigv4_kv *hdrs, size_t n, char **canon,
			    char **signed_headers);

struct sigv4_input {
	const char *method;
	const char *path; /* raw, unencoded, starting with '/' (S3: never normalised) */
	const struct sigv4_kv *params;
	size_t nparams;
	const struct sigv4_kv *headers; /* must include host, x-amz-date, x-amz-content-sha256 */
	size_t nheaders;
	const char *payload_hash; /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
	const char *amz_date;     /* YYYYMMDDTHHMMSSZ */
	const char *region;
	const char *service;      /* "s3" */
	const char *access_key;
	const char *secret_key;
};

/* The pieces, exposed for tests. Each returns a malloc'd string or NULL. */
char *sigv4_canonical_request(const struct sigv4_input *in, char **signed_headers);
char *sigv4_string_to_sign(const struct sigv4_input *in, const char *canonical_request);
void sigv4_signing_key(const char *secret, const char *date8, const char *region,
		       const char *service, uint8_t out[32]);

/* The Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=..."). Malloc'd; NULL on OOM or bad input
 * (a date that is not YYYYMMDDTHHMMSSZ, a header with CR or LF). */
char *sigv4_authorization(const struct sigv4_input *in);

/* Lowercase hex of SHA-256(data); out must hold 65 bytes. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);
void sigv4_hex(const uint8_t *bytes, size_t n, char *out);

#endif
