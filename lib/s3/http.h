/* SPDX-License-Identifier: MIT */
/*
 * libcurl as a plain transport: one request in, status + headers + body out.
 * Request bodies stream from a file range (or a small memory buffer);
 * response bodies go to a file (success) or to a capped memory buffer
 * (errors and XML), so memory stays flat for any object size.
 */
#ifndef COVSHIP_S3_HTTP_H
#define COVSHIP_S3_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"

struct http_tls {
	const char *ca_bundle; /* NULL/"" = system default */
	bool insecure;
	long connect_timeout_ms;
	long low_speed_time_s; /* a transfer below 1 byte/s this long fails */
};

struct http_request {
	const char *method;
	const char *url;
	struct curl_slist *headers;
	/* body: memory when body_mem != NULL, else body_fd's range when has_body */
	const char *body_mem;
	size_t body_mem_len;
	int body_fd;
	uint64_t body_off, body_len;
	bool has_body;
	int out_fd;      /* 2xx bodies go here (from offset 0) when >= 0 */
	uint64_t out_max; /* more than this many body bytes to out_fd: cut (0: no cap) */
	size_t body_cap; /* bytes kept in memory; more are dropped (truncated) */
};

struct http_response {
	long status;          /* 0 when no response (see curl_code) */
	CURLcode curl_code;
	char curl_err[CURL_ERROR_SIZE];
	struct strbuf body;
	struct strbuf headers; /* raw header lines of the last response */
	bool truncated;
	bool write_failed;     /* writing out_fd failed: a local error */
	bool too_long;         /* the body went past req.out_max: transfer cut */
	uint64_t out_written;
};

/* One transfer: request, response and the easy handle's callbacks' state.
 * Lives as long as the easy handle is in use. */
struct http_xfer {
	struct http_request req;
	struct http_response resp;
	uint64_t read_pos;
	CURL *h;
};

/* Configure `h` for xfer (resets the handle first). For a multi handle:
 * add h, and when it completes call http_xfer_done(). */
int http_xfer_setup(CURL *h, struct http_xfer *x, const struct http_tls *tls);
void http_xfer_done(CURL *h, struct http_xfer *x, CURLcode code);

/* Blocking: set up, perform, done. Returns 0 when a response arrived
 * (any status), -1 on a transport error (resp.curl_code). */
int http_perform(CURL *h, struct http_xfer *x, const struct http_tls *tls);

/* Value of the last response's header `name` (case-insensitive), trimmed,
 * into out. Returns 0, or -1 when absent. */
int http_header(const struct http_response *r, const char *name, char *out, size_t outlen);

void http_response_reset(struct http_response *r);

/* Transport errors worth retrying (connection, timeout, reset, ...). */
bool http_error_retryable(CURLcode c);
bool http_error_is_timeout(CURLcode c);

#endif
