/* SPDX-License-Identifier: MIT */
/*
 * One S3 request: URL and headers, signed with our SigV4 (sigv4.h), sent
 * over libcurl, judged (S3 error code, retry or not) and retried with the
 * standard-mode backoff. s3_request() is the blocking loop; batch.c drives
 * the same attempts over a multi handle.
 */
#include "request.h"
#include "errbuf.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "s3xml.h"

void s3_req_init(struct s3_req *r, const char *method, const char *bucket, const char *key)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->bucket = bucket;
	r->key = key ? key : "";
	r->body_fd = -1;
	r->out_fd = -1;
}

void s3_req_param(struct s3_req *r, const char *name, const char *value)
{
	if (r->nparams < S3_MAX_PARAMS) {
		r->params[r->nparams].name = name;
		r->params[r->nparams++].value = value;
	}
}

void s3_req_header(struct s3_req *r, const char *name, const char *value)
{
	if (r->nheaders < S3_MAX_HEADERS) {
		r->headers[r->nheaders].name = name;
		r->headers[r->nheaders++].value = value;
	}
}

static bool dns_safe_bucket(const char *b)
{
	for (; *b; b++)
		if (!(islower((unsigned char)*b) || isdigit((unsigned char)*b) || *b == '-'))
			return false;
	return true;
}

static bool use_path_style(const struct s3_client *c, const char *bucket)
{
	const char *h = c->hostport;

	if (c->cfg.path_style || !dns_safe_bucket(bucket))
		return true;
	if (strncasecmp(h, "localhost", 9) == 0 || *h == '[')
		return true;
	/* an IPv4 address: digits and dots up to the port */
	for (; *h && *h != ':'; h++)
		if (!isdigit((unsigned char)*h) && *h != '.')
			return false;
	return true;
}

static void amz_now(const struct s3_client *c, char out[17])
{
	time_t t = time(NULL) + c->clock_offset_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void s3_built_free(struct s3_built *b)
{
	struct curl_slist *s;

	sb_free(&b->url);
	sb_free(&b->path);
	for (s = b->hdrs; s; s = s->next) /* Authorization and the token */
		OPENSSL_cleanse(s->data, strlen(s->data));
	curl_slist_free_all(b->hdrs);
	b->hdrs = NULL;
}

static int add_hdr(struct s3_built *b, const char *name, const char *value)
{
	struct strbuf l = STRBUF_INIT;
	struct curl_slist *n;

	sb_printf(&l, "%s: %s", name, value);
	if (l.oom)
		return -1;
	n = curl_slist_append(b->hdrs, l.s);
	OPENSSL_cleanse(l.s, l.len);
	sb_free(&l);
	if (!n)
		return -1;
	b->hdrs = n;
	return 0;
}

/* URL, headers and signature of one attempt. Returns 0, -1 (out of
 * memory), or -2 with err: a header or credential holding CR or LF, which
 * would inject lines into the request, refused before signing whatever its
 * source (environment, a file, a credential endpoint's JSON). */
static int build(struct s3_client *c, const struct s3_req *r, const struct aws_creds *cr,
		 struct s3_built *b, char *err, size_t errlen)
{
	struct sigv4_kv h[S3_MAX_HEADERS + 4];
	struct sigv4_input in;
	char date[17], hash[65];
	char *auth, *query;
	size_t n = 0, i;
	bool ps = use_path_style(c, r->bucket);

	if (ps)
		snprintf(b->host, sizeof(b->host), "%s", c->hostport);
	else
		snprintf(b->host, sizeof(b->host), "%s.%s", r->bucket, c->hostport);
	sb_putc(&b->path, '/');
	if (ps && r->bucket && *r->bucket)
		sb_printf(&b->path, "%s/", r->bucket);
	sb_puts(&b->path, r->key);
	sb_printf(&b->url, "%s://%s", c->scheme, b->host);
	if (b->path.oom)
		return -1;
	sigv4_uri_encode(&b->url, b->path.s, b->path.len, true);
	query = sigv4_canonical_query(r->params, r->nparams);
	if (!query)
		return -1;
	if (*query)
		sb_printf(&b->url, "?%s", query);
	free(query);
	if (r->payload_hash)
		snprintf(hash, sizeof(hash), "%s", r->payload_hash);
	else
		sigv4_sha256_hex(r->body_mem ? r->body_mem : "", r->body_mem_len, hash);
	amz_now(c, date);
	h[n++] = (struct sigv4_kv){ "host", b->host };
	h[n++] = (struct sigv4_kv){ "x-amz-date", date };
	h[n++] = (struct sigv4_kv){ "x-amz-content-sha256", hash };
	if (cr->token[0])
		h[n++] = (struct sigv4_kv){ "x-amz-security-token", cr->token };
	for (i = 0; i < r->nheaders; i++)
		h[n++] = r->headers[i];
	if (strpbrk(cr->access_key, "\r\n") || strpbrk(cr->secret_key, "\r\n") ||
	    strpbrk(cr->token, "\r\n")) {
		set_err(err, errlen, "the AWS credentials from %s hold a CR or LF character "
			"(access key, secret or session token); refusing to sign with them: fix "
			"the source's value", cr->source ? cr->source : "the credential chain");
		return -2;
	}
	if (sigv4_bad_header(h, n) >= 0) {
		set_err(err, errlen, "S3 request header %s holds a CR or LF character; "
			"refusing to sign it", h[sigv4_bad_header(h, n)].name);
		return -2;
	}
	memset(&in, 0, sizeof(in));
	in.method = r->method;
	in.path = b->path.s;
	in.params = r->params;
	in.nparams = r->nparams;
	in.headers = h;
	in.nheaders = n;
	in.payload_hash = hash;
	in.amz_date = date;
	in.region = c->cfg.region;
	in.service = "s3";
	in.access_key = cr->access_key;
	in.secret_key = cr->secret_key;
	auth = sigv4_authorization(&in);
	if (!auth)
		return -1;
	for (i = 0; i < n; i++)
		if (add_hdr(b, h[i].name, h[i].value))
			break;
	if (i == n && add_hdr(b, "Authorization", auth) == 0 &&
	    add_hdr(b, "User-Agent", "covship/" COVSHIP_VERSION) == 0) {
		struct curl_slist *l;

		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
		/* "Expect:" with nothing after the colon stops curl from waiting
		 * for 100-continue before large bodies. */
		l = curl_slist_append(b->hdrs, "Expect:");
		if (!l)
			return -1;
		b->hdrs = l;
		return 0;
	}
	OPENSSL_cleanse(auth, strlen(auth));
	free(auth);
	return -1;
}

/* Server time from the Date header → clock offset (RequestTimeTooSkewed). */
static void learn_clock(struct s3_client *c, const struct http_response *resp)
{
	char date[64];
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (http_header(resp, "Date", date, sizeof(date)) == 0 &&
	    strptime(date, "%a, %d %b %Y %H:%M:%S", &tm)) {
		c->clock_offset_s = (long)(timegm(&tm) - time(NULL));
		log_warn("S3 says our clock is off; correcting by %ld s", c->clock_offset_s);
	}
}

static const char *obj_name(const struct s3_req *r, struct strbuf *sb)
{
	sb_printf(sb, "s3://%s/%s", r->bucket ? r->bucket : "", r->key);
	return sb->s ? sb->s : "s3://";
}

/* Whether a failed response (or transport error) may be retried. */
static bool retryable(const struct http_response *resp, const struct s3xml_error *e)
{
	if (resp->status == 0 || resp->curl_code != CURLE_OK)
		return http_error_retryable(resp->curl_code);
	if (retry_status_retryable(resp->status) || resp->status == 429)
		return true;
	if (resp->status == 409 && strcmp(e->code, "ConditionalRequestConflict") == 0)
		return true;
	return retry_code_retryable(e->code);
}

/* Credentials, URL, headers and signature for one attempt of r into x and b.
 * Returns 0, or an S3_ERR_* with err. */
int s3_attempt_prepare(struct s3_client *c, const struct s3_req *r, struct s3_attempt *st,
		       struct http_xfer *x, struct s3_built *b, char *err, size_t errlen)
{
	const struct aws_creds *cr = cred_chain_get(c->creds, st->force, err, errlen);

	st->force = false;
	if (!cr)
		return cred_chain_config_error(c->creds) ? S3_ERR_FATAL : S3_ERR_RETRY;
	switch (build(c, r, cr, b, err, errlen)) {
	case 0:
		break;
	case -2:
		s3_built_free(b);
		return S3_ERR_FATAL;
	default:
		s3_built_free(b);
		set_err(err, errlen, "out of memory building an S3 request");
		return S3_ERR_RETRY;
	}
	http_response_reset(&x->resp);
	memset(x, 0, sizeof(*x));
	x->req.method = r->method;
	x->req.url = b->url.s;
	x->req.headers = b->hdrs;
	x->req.body_mem = r->body_mem;
	x->req.body_mem_len = r->body_mem_len;
	x->req.body_fd = r->body_fd;
	x->req.body_off = r->body_off;
	x->req.body_len = r->body_len;
	x->req.has_body = r->has_body;
	x->req.out_fd = r->out_fd;
	x->req.out_max = r->out_max;
	x->req.body_cap = 8 << 20;
	log_debug("S3 %s %s (attempt %d)", r->method, b->url.s, st->attempt);
	return S3_OK;
}

/* What to do after an attempt finished (x holds the response). */
enum s3_verdict s3_attempt_judge(struct s3_client *c, const struct s3_req *r,
				 struct s3_attempt *st, struct http_xfer *x, int *rc, char *err, size_t errlen)
{
	struct strbuf name = STRBUF_INIT;
	struct s3xml_error e;
	bool timeout;

	memset(&e, 0, sizeof(e));
	if (x->resp.too_long) {
		/* Not retried: the object is larger than it was said to be, a
		 * retry would be cut again. */
		set_err(err, errlen, "S3 %s %s: the server sent more than the expected %llu "
			"bytes (the size it listed); the transfer was cut. Check what wrote "
			"the object", r->method, obj_name(r, &name),
			(unsigned long long)r->out_max);
		sb_free(&name);
		*rc = S3_ERR_CORRUPT;
		return S3_V_DONE;
	}
	if (x->resp.write_failed) {
		set_err(err, errlen, "S3 %s %s: writing the download failed: %s", r->method,
			obj_name(r, &name), strerror(errno));
		sb_free(&name);
		*rc = S3_ERR_FATAL;
		return S3_V_DONE;
	}
	if (x->resp.status >= 200 && x->resp.status < 300 && x->resp.curl_code == CURLE_OK) {
		retry_quota_refund(&c->quota, st->taken);
		*rc = S3_OK;
		return S3_V_DONE;
	}
	if (x->resp.status && x->resp.curl_code == CURLE_OK) {
		if (s3xml_parse_error(x->resp.body.s, x->resp.body.len, &e) != 0)
			snprintf(e.code, sizeof(e.code), "HTTP%ld", x->resp.status);
		set_err(err, errlen, "S3 %s %s: HTTP %ld %s: %s%s%s%s", r->method,
			obj_name(r, &name), x->resp.status, e.code,
			e.message[0] ? e.message : "(no message)",
			e.request_id[0] ? " (request id " : "", e.request_id,
			e.request_id[0] ? ")" : "");
	} else {
		bool tls = x->resp.curl_code == CURLE_PEER_FAILED_VERIFICATION ||
			   x->resp.curl_code == CURLE_SSL_CACERT_BADFILE;

		set_err(err, errlen, "S3 %s %s: %s%s", r->method, obj_name(r, &name),
			x->resp.curl_err,
			tls ? "; give the endpoint's CA with --ca-bundle FILE or AWS_CA_BUNDLE" : "");
	}
	sb_free(&name);
	if (strcmp(e.code, "RequestTimeTooSkewed") == 0 && !st->skew_fixed) {
		learn_clock(c, &x->resp);
		st->skew_fixed = true;
		return S3_V_AGAIN;
	}
	if (retry_code_is_expired_token(e.code) && !st->refreshed) {
		st->refreshed = st->force = true;
		return S3_V_AGAIN;
	}
	*rc = S3_ERR_FATAL;
	if (x->resp.curl_code == CURLE_OK && x->resp.status == 404) {
		*rc = S3_ERR_NOT_FOUND;
		return S3_V_DONE;
	}
	if (x->resp.curl_code == CURLE_OK && x->resp.status == 412) {
		*rc = S3_ERR_EXISTS;
		return S3_V_DONE;
	}
	if (!retryable(&x->resp, &e))
		return S3_V_DONE;
	*rc = S3_ERR_RETRY;
	timeout = http_error_is_timeout(x->resp.curl_code);
	if (st->attempt >= c->cfg.max_attempts)
		return S3_V_DONE;
	if (!retry_quota_take(&c->quota, timeout)) {
		strncat(err, " (retry budget spent)", errlen - strlen(err) - 1);
		return S3_V_DONE;
	}
	st->taken += timeout ? RETRY_TIMEOUT_COST : RETRY_COST;
	log_info("%s; retrying", err);
	return S3_V_BACKOFF;
}

int s3_request(struct s3_client *c, const struct s3_req *r, struct http_xfer *x, char *err,
	       size_t errlen)
{
	struct s3_attempt st = { 0 };
	int rc = S3_ERR_RETRY;

	memset(x, 0, sizeof(*x)); /* the caller resets the response whatever happens */
	for (st.attempt = 1;; st.attempt++) {
		struct s3_built b = { STRBUF_INIT, STRBUF_INIT, "", NULL };
		enum s3_verdict v;

		rc = s3_attempt_prepare(c, r, &st, x, &b, err, errlen);
		if (rc != S3_OK)
			break;
		http_perform(c->h, x, &c->tls);
		s3_built_free(&b);
		x->req.url = NULL;
		x->req.headers = NULL;
		v = s3_attempt_judge(c, r, &st, x, &rc, err, errlen);
		if (v == S3_V_DONE)
			break;
		if (v == S3_V_BACKOFF)
			retry_sleep_ms(retry_backoff_ms(st.attempt, c->cfg.retry_base_ms,
							c->cfg.retry_cap_ms));
	}
	return rc;
}
