/* SPDX-License-Identifier: MIT */
/* S3 operations over our SigV4 and the libcurl transport. */
#include "s3_internal.h"
#include "errbuf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dest.h"
#include "log.h"
#include "s3xml.h"

#define MiB (1024ULL * 1024ULL)

/* ---- configuration ---- */

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int env_number(const char *name, uint64_t min, uint64_t max, uint64_t *out, char *err,
		      size_t errlen)
{
	const char *v = env_nonempty(name);
	char *end;
	unsigned long long n;

	if (!v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max) {
		set_err(err, errlen, "%s='%s' is not a number in %llu..%llu", name, v,
			(unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

static int check_endpoint(const char *ep, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *path = NULL, *query = NULL;
	int rc = -1;

	if (!u || curl_url_set(u, CURLUPART_URL, ep, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		set_err(err, errlen, "endpoint '%s' is not a URL; use e.g. https://s3.eu-west-1.amazonaws.com",
			ep);
	} else if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
		set_err(err, errlen, "endpoint '%s' must start with http:// or https://", ep);
	} else if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") &&
		   *path) {
		set_err(err, errlen, "endpoint '%s' must not have a path; give scheme://host[:port]", ep);
	} else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		set_err(err, errlen, "endpoint '%s' must not have a query", ep);
	} else {
		rc = 0;
	}
	curl_free(scheme);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

int s3_config_resolve(struct s3_config *cfg, const struct dest_options *opts, char *err,
		      size_t errlen)
{
	const char *region = opts && opts->region && *opts->region ? opts->region : NULL;
	const char *ep = opts && opts->endpoint && *opts->endpoint ? opts->endpoint : NULL;
	uint64_t v;
	size_t n;

	memset(cfg, 0, sizeof(*cfg));
	if (!region)
		region = env_nonempty("AWS_REGION");
	if (!region)
		region = env_nonempty("AWS_DEFAULT_REGION");
	if (!region)
		region = "us-east-1";
	if (strlen(region) >= sizeof(cfg->region) || strpbrk(region, "/ \t\r\n")) {
		set_err(err, errlen, "region '%.60s' is not a valid AWS region name", region);
		return -1;
	}
	snprintf(cfg->region, sizeof(cfg->region), "%s", region);
	if (!ep)
		ep = env_nonempty("AWS_ENDPOINT_URL_S3");
	if (!ep)
		ep = env_nonempty("AWS_ENDPOINT_URL");
	if (ep) {
		if (strlen(ep) >= sizeof(cfg->endpoint)) {
			set_err(err, errlen, "endpoint URL is too long");
			return -1;
		}
		if (check_endpoint(ep, err, errlen))
			return -1;
		snprintf(cfg->endpoint, sizeof(cfg->endpoint), "%s", ep);
		n = strlen(cfg->endpoint);
		while (n && cfg->endpoint[n - 1] == '/')
			cfg->endpoint[--n] = '\0';
	} else {
		snprintf(cfg->endpoint, sizeof(cfg->endpoint), "https://s3.%s.amazonaws.com",
			 cfg->region);
	}
	if (opts) {
		cfg->path_style = opts->path_style;
		cfg->insecure = opts->insecure;
		if (opts->ca_bundle && *opts->ca_bundle) {
			if (access(opts->ca_bundle, R_OK) != 0) {
				set_err(err, errlen, "--ca-bundle %s: %s", opts->ca_bundle,
					strerror(errno));
				return -1;
			}
			snprintf(cfg->ca_bundle, sizeof(cfg->ca_bundle), "%s", opts->ca_bundle);
		}
	}
	cfg->connect_timeout_ms = 10000;
	cfg->low_speed_time_s = 30;
	cfg->max_attempts = 5;
	cfg->retry_base_ms = 1000;
	cfg->retry_cap_ms = 20000;
	cfg->multipart_threshold = 64 * MiB;
	cfg->part_size = 8 * MiB;
	cfg->max_parallel_parts = 4;
	cfg->max_parallel_bundles = 8; /* docs/s3.md "Benchmark": 8 beat 4 and 10 */
	v = (uint64_t)cfg->max_attempts;
	if (env_number("COVSHIP_S3_MAX_ATTEMPTS", 1, 100, &v, err, errlen))
		return -1;
	cfg->max_attempts = (int)v;
	v = (uint64_t)cfg->retry_base_ms;
	if (env_number("COVSHIP_S3_RETRY_BASE_MS", 0, 60000, &v, err, errlen))
		return -1;
	cfg->retry_base_ms = (long)v;
	v = (uint64_t)cfg->retry_cap_ms;
	if (env_number("COVSHIP_S3_RETRY_CAP_MS", 0, 600000, &v, err, errlen))
		return -1;
	cfg->retry_cap_ms = (long)v;
	v = (uint64_t)cfg->low_speed_time_s;
	if (env_number("COVSHIP_S3_TIMEOUT_S", 1, 3600, &v, err, errlen))
		return -1;
	cfg->low_speed_time_s = (long)v;
	v = (uint64_t)cfg->max_parallel_parts;
	if (env_number("COVSHIP_S3_PARALLEL_PARTS", 1, 64, &v, err, errlen))
		return -1;
	cfg->max_parallel_parts = (int)v;
	v = (uint64_t)cfg->max_parallel_bundles;
	if (env_number("COVSHIP_S3_PARALLEL_BUNDLES", 1, 64, &v, err, errlen))
		return -1;
	cfg->max_parallel_bundles = (int)v;
	if (env_number("COVSHIP_S3_MULTIPART_THRESHOLD", 5 * MiB, 5ULL << 40,
		       &cfg->multipart_threshold, err, errlen) ||
	    env_number("COVSHIP_S3_PART_SIZE", 5 * MiB, 5ULL << 30, &cfg->part_size, err, errlen))
		return -1;
	return 0;
}

int s3_parse_url(const char *url, char *bucket, size_t bucketlen, char *prefix,
		 size_t prefixlen, char *err, size_t errlen)
{
	const char *b, *slash;
	size_t n;

	if (strncmp(url, "s3://", 5) != 0) {
		set_err(err, errlen, "'%s' is not an s3:// URL; use s3://BUCKET/PREFIX", url);
		return -1;
	}
	b = url + 5;
	slash = strchr(b, '/');
	n = slash ? (size_t)(slash - b) : strlen(b);
	if (n < 3 || n > 63 || n >= bucketlen) {
		set_err(err, errlen, "'%s': the bucket name must have 3 to 63 characters", url);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)b[i]) && b[i] != '-' && b[i] != '.' && b[i] != '_') {
			set_err(err, errlen, "'%s': bucket names use letters, digits, '-', '.' only",
				url);
			return -1;
		}
	}
	memcpy(bucket, b, n);
	bucket[n] = '\0';
	b = slash ? slash + 1 : "";
	if (strlen(b) >= prefixlen) {
		set_err(err, errlen, "'%s': the prefix is too long", url);
		return -1;
	}
	snprintf(prefix, prefixlen, "%s", b);
	return 0;
}

/* ---- client ---- */

static int split_endpoint(struct s3_client *c, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1;

	if (u && curl_url_set(u, CURLUPART_URL, c->cfg.endpoint, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		snprintf(c->scheme, sizeof(c->scheme), "%s", scheme);
		if (port)
			snprintf(c->hostport, sizeof(c->hostport), "%s:%s", host, port);
		else
			snprintf(c->hostport, sizeof(c->hostport), "%s", host);
		rc = 0;
	} else {
		set_err(err, errlen, "endpoint '%s' is not a URL", c->cfg.endpoint);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

struct s3_client *s3_client_new(const struct s3_config *cfg, char *err, size_t errlen)
{
	struct s3_client *c = calloc(1, sizeof(*c));

	if (!c) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->tls.ca_bundle = c->cfg.ca_bundle;
	c->tls.insecure = c->cfg.insecure;
	c->tls.connect_timeout_ms = c->cfg.connect_timeout_ms;
	c->tls.low_speed_time_s = c->cfg.low_speed_time_s;
	retry_quota_init(&c->quota);
	if (split_endpoint(c, err, errlen)) {
		free(c);
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		set_err(err, errlen, "libcurl initialisation failed");
		free(c);
		return NULL;
	}
	c->h = curl_easy_init();
	c->creds = cred_chain_new(&c->tls);
	if (!c->h || !c->creds) {
		set_err(err, errlen, "out of memory");
		s3_client_free(c);
		return NULL;
	}
	if (c->cfg.insecure)
		log_warn("--insecure: TLS certificates of %s are NOT verified", c->cfg.endpoint);
	return c;
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	cred_chain_free(c->creds);
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c);
}

/* ---- requests ---- */

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

struct built {
	struct strbuf url;
	struct strbuf path;
	char host[320];
	struct curl_slist *hdrs;
};

static void built_free(struct built *b)
{
	struct curl_slist *s;

	sb_free(&b->url);
	sb_free(&b->path);
	for (s = b->hdrs; s; s = s->next) /* Authorization and the token */
		OPENSSL_cleanse(s->data, strlen(s->data));
	curl_slist_free_all(b->hdrs);
	b->hdrs = NULL;
}

static int add_hdr(struct built *b, const char *name, const char *value)
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

/* URL, headers and signature of one attempt. */
static int build(struct s3_client *c, const struct s3_req *r, const struct aws_creds *cr,
		 struct built *b)
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

/* Per-request retry bookkeeping, shared by s3_request and s3_get_objects. */
struct attempt_state {
	int attempt;
	int taken; /* quota tokens this request's retries took */
	bool refreshed, skew_fixed, force;
};

enum verdict {
	V_DONE,    /* *rc holds the result */
	V_AGAIN,   /* retry at once (fresh credentials, corrected clock) */
	V_BACKOFF, /* retry after retry_backoff_ms() */
};

/* Credentials, URL, headers and signature for one attempt of r into x and b.
 * Returns 0, or an S3_ERR_* with err. */
static int prepare(struct s3_client *c, const struct s3_req *r, struct attempt_state *st,
		   struct http_xfer *x, struct built *b, char *err, size_t errlen)
{
	const struct aws_creds *cr = cred_chain_get(c->creds, st->force, err, errlen);

	st->force = false;
	if (!cr)
		return cred_chain_config_error(c->creds) ? S3_ERR_FATAL : S3_ERR_RETRY;
	if (build(c, r, cr, b)) {
		built_free(b);
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
	x->req.body_cap = 8 << 20;
	log_debug("S3 %s %s (attempt %d)", r->method, b->url.s, st->attempt);
	return S3_OK;
}

/* What to do after an attempt finished (x holds the response). */
static enum verdict judge(struct s3_client *c, const struct s3_req *r, struct attempt_state *st,
			  struct http_xfer *x, int *rc, char *err, size_t errlen)
{
	struct strbuf name = STRBUF_INIT;
	struct s3xml_error e;
	bool timeout;

	memset(&e, 0, sizeof(e));
	if (x->resp.write_failed) {
		set_err(err, errlen, "S3 %s %s: writing the download failed: %s", r->method,
			obj_name(r, &name), strerror(errno));
		sb_free(&name);
		*rc = S3_ERR_FATAL;
		return V_DONE;
	}
	if (x->resp.status >= 200 && x->resp.status < 300 && x->resp.curl_code == CURLE_OK) {
		retry_quota_refund(&c->quota, st->taken);
		*rc = S3_OK;
		return V_DONE;
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
			tls ? "; give the endpoint's CA with --ca-bundle FILE" : "");
	}
	sb_free(&name);
	if (strcmp(e.code, "RequestTimeTooSkewed") == 0 && !st->skew_fixed) {
		learn_clock(c, &x->resp);
		st->skew_fixed = true;
		return V_AGAIN;
	}
	if (retry_code_is_expired_token(e.code) && !st->refreshed) {
		st->refreshed = st->force = true;
		return V_AGAIN;
	}
	*rc = S3_ERR_FATAL;
	if (x->resp.curl_code == CURLE_OK && x->resp.status == 404) {
		*rc = S3_ERR_NOT_FOUND;
		return V_DONE;
	}
	if (x->resp.curl_code == CURLE_OK && x->resp.status == 412) {
		*rc = S3_ERR_EXISTS;
		return V_DONE;
	}
	if (!retryable(&x->resp, &e))
		return V_DONE;
	*rc = S3_ERR_RETRY;
	timeout = http_error_is_timeout(x->resp.curl_code);
	if (st->attempt >= c->cfg.max_attempts)
		return V_DONE;
	if (!retry_quota_take(&c->quota, timeout)) {
		strncat(err, " (retry budget spent)", errlen - strlen(err) - 1);
		return V_DONE;
	}
	st->taken += timeout ? RETRY_TIMEOUT_COST : RETRY_COST;
	log_info("%s; retrying", err);
	return V_BACKOFF;
}

int s3_request(struct s3_client *c, const struct s3_req *r, struct http_xfer *x, char *err,
	       size_t errlen)
{
	struct attempt_state st = { 0 };
	int rc = S3_ERR_RETRY;

	memset(x, 0, sizeof(*x)); /* the caller resets the response whatever happens */
	for (st.attempt = 1;; st.attempt++) {
		struct built b = { STRBUF_INIT, STRBUF_INIT, "", NULL };
		enum verdict v;

		rc = prepare(c, r, &st, x, &b, err, errlen);
		if (rc != S3_OK)
			break;
		http_perform(c->h, x, &c->tls);
		built_free(&b);
		x->req.url = NULL;
		x->req.headers = NULL;
		v = judge(c, r, &st, x, &rc, err, errlen);
		if (v == V_DONE)
			break;
		if (v == V_BACKOFF)
			retry_sleep_ms(retry_backoff_ms(st.attempt, c->cfg.retry_base_ms,
							c->cfg.retry_cap_ms));
	}
	return rc;
}

/* ---- digests ---- */

int s3_digest_range(int fd, uint64_t off, uint64_t len, struct s3_digests *d, bool want_md5)
{
	EVP_MD_CTX *sha = EVP_MD_CTX_new(), *md5 = want_md5 ? EVP_MD_CTX_new() : NULL;
	unsigned char *buf = malloc(256 * 1024);
	unsigned char s[32], m[16];
	int rc = -1;

	if (!sha || (want_md5 && !md5) || !buf || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL) ||
	    (md5 && !EVP_DigestInit_ex(md5, EVP_md5(), NULL)))
		goto out;
	while (len) {
		size_t want = len < 256 * 1024 ? (size_t)len : 256 * 1024;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		if (!EVP_DigestUpdate(sha, buf, (size_t)n) ||
		    (md5 && !EVP_DigestUpdate(md5, buf, (size_t)n)))
			goto out;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	if (!EVP_DigestFinal_ex(sha, s, NULL) || (md5 && !EVP_DigestFinal_ex(md5, m, NULL)))
		goto out;
	sigv4_hex(s, 32, d->sha256_hex);
	EVP_EncodeBlock((unsigned char *)d->sha256_b64, s, 32);
	d->md5_b64[0] = '\0';
	if (md5)
		EVP_EncodeBlock((unsigned char *)d->md5_b64, m, 16);
	rc = 0;
out:
	EVP_MD_CTX_free(sha);
	EVP_MD_CTX_free(md5);
	free(buf);
	return rc;
}

/* ---- operations ---- */

struct list_ctx {
	s3_list_cb cb;
	void *ctx;
};

int s3_list_objects(struct s3_client *c, const char *bucket, const char *prefix,
		    s3_list_cb cb, void *ctx, char *err, size_t errlen)
{
	char *token = NULL;
	int rc;

	for (;;) {
		struct s3_req r;
		struct http_xfer x;
		bool truncated = false;
		char *next = NULL;

		s3_req_init(&r, "GET", bucket, "");
		s3_req_param(&r, "list-type", "2");
		if (prefix && *prefix)
			s3_req_param(&r, "prefix", prefix);
		if (token)
			s3_req_param(&r, "continuation-token", token);
		rc = s3_request(c, &r, &x, err, errlen);
		if (rc == S3_OK) {
			rc = s3xml_parse_list(x.resp.body.s, x.resp.body.len, cb, ctx, &truncated,
					      &next);
			if (rc == -1 || (truncated && !next)) {
				set_err(err, errlen, "S3 ListObjectsV2 s3://%s/%s: malformed answer",
					bucket, prefix ? prefix : "");
				rc = S3_ERR_RETRY;
			} else if (rc) {
				set_err(err, errlen, "listing stopped by the caller");
			}
		}
		http_response_reset(&x.resp);
		free(token);
		token = next;
		if (rc != S3_OK || !truncated)
			break;
	}
	free(token);
	return rc;
}

int s3_head_object(struct s3_client *c, const char *bucket, const char *key,
		   struct s3_object_info *info, char *err, size_t errlen)
{
	struct s3_req r;
	struct http_xfer x;
	char len[32];
	int rc;

	memset(info, 0, sizeof(*info));
	s3_req_init(&r, "HEAD", bucket, key);
	rc = s3_request(c, &r, &x, err, errlen);
	if (rc == S3_OK) {
		if (http_header(&x.resp, "Content-Length", len, sizeof(len)) == 0)
			info->size = strtoull(len, NULL, 10);
		http_header(&x.resp, "ETag", info->etag, sizeof(info->etag));
		http_header(&x.resp, "x-amz-meta-covship-sha256", info->covship_sha256,
			    sizeof(info->covship_sha256));
	}
	http_response_reset(&x.resp);
	return rc;
}

int s3_get_object_to_fd(struct s3_client *c, const char *bucket, const char *key, int fd,
			char *err, size_t errlen)
{
	struct s3_req r;
	struct http_xfer x;
	int rc;

	s3_req_init(&r, "GET", bucket, key);
	r.out_fd = fd;
	rc = s3_request(c, &r, &x, err, errlen);
	http_response_reset(&x.resp);
	return rc;
}

/* One request in flight (or waiting for its backoff) in s3_run_batch. */
struct batch_slot {
	size_t idx;
	struct s3_req req;
	struct attempt_state st;
	struct http_xfer x;
	struct built b;
	CURL *h;
	int64_t not_before_ms; /* monotonic; 0 = now */
	bool busy;
	bool in_multi;
	int rc;
	char err[512];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start (or restart) the slot's transfer on the multi handle. */
static int slot_start(struct s3_client *c, CURLM *m, struct batch_slot *s)
{
	int rc;

	s->st.attempt++;
	memset(&s->b, 0, sizeof(s->b));
	rc = prepare(c, &s->req, &s->st, &s->x, &s->b, s->err, sizeof(s->err));
	if (rc == S3_OK && (http_xfer_setup(s->h, &s->x, &c->tls) != 0 ||
			    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s) != CURLE_OK ||
			    curl_multi_add_handle(m, s->h) != CURLM_OK)) {
		set_err(s->err, sizeof(s->err), "cannot start an S3 transfer");
		built_free(&s->b);
		rc = S3_ERR_RETRY;
	}
	s->in_multi = rc == S3_OK;
	return rc;
}

/* A transfer ended: true when the request is finished (s->rc set), false
 * when it was scheduled again. */
static bool slot_finished(struct s3_client *c, CURLM *m, struct batch_slot *s, CURLcode code)
{
	enum verdict v;

	curl_multi_remove_handle(m, s->h);
	s->in_multi = false;
	http_xfer_done(s->h, &s->x, code);
	built_free(&s->b);
	s->x.req.url = NULL;
	s->x.req.headers = NULL;
	v = judge(c, &s->req, &s->st, &s->x, &s->rc, s->err, sizeof(s->err));
	if (v == V_DONE)
		return true;
	http_response_reset(&s->x.resp);
	s->not_before_ms = now_ms();
	if (v == V_BACKOFF)
		s->not_before_ms += retry_backoff_ms(s->st.attempt, c->cfg.retry_base_ms,
						     c->cfg.retry_cap_ms);
	return false;
}

/* Finish a slot: tell the caller, free the response. Returns the caller's
 * verdict (non-zero: start nothing new). */
static int slot_report(const struct s3_batch_ops *ops, void *ctx, struct batch_slot *s)
{
	int stop = ops->done(ctx, s->idx, s->rc, &s->x, s->rc == S3_OK ? "" : s->err);

	http_response_reset(&s->x.resp);
	s->busy = false;
	return stop;
}

void s3_run_batch(struct s3_client *c, size_t n, int max_parallel, const struct s3_batch_ops *ops,
		  void *ctx)
{
	size_t next = 0, i, nslots, busy = 0;
	struct batch_slot *slots;
	CURLM *m = curl_multi_init();
	bool stop = false;

	if (max_parallel < 1)
		max_parallel = 1;
	nslots = (size_t)max_parallel < n ? (size_t)max_parallel : n;
	slots = calloc(nslots ? nslots : 1, sizeof(*slots));
	for (i = 0; slots && i < nslots; i++)
		if (!(slots[i].h = curl_easy_init()))
			break;
	if (!m || !slots || i < nslots)
		stop = true;
	while (!stop || busy) {
		int running = 0, timeout = 200, q;
		int64_t t = now_ms();
		CURLMsg *msg;

		for (i = 0; i < nslots; i++) {
			struct batch_slot *s = &slots[i];

			if (!s->busy && next < n && !stop) {
				memset(&s->st, 0, sizeof(s->st));
				s->idx = next++;
				s->not_before_ms = 0;
				s->err[0] = '\0';
				s->rc = ops->prepare(ctx, s->idx, &s->req, s->err, sizeof(s->err));
				s->busy = true;
				busy++;
				if (s->rc != S3_OK) {
					busy--;
					stop = slot_report(ops, ctx, s) != 0;
					i--; /* size_t wraps and comes back: retry this slot */
					continue;
				}
			}
			if (!s->busy || s->in_multi)
				continue;
			if (s->not_before_ms > t) {
				if (s->not_before_ms - t < timeout)
					timeout = (int)(s->not_before_ms - t);
				continue;
			}
			s->rc = slot_start(c, m, s);
			if (s->rc != S3_OK) {
				busy--;
				stop = slot_report(ops, ctx, s) != 0 || stop;
				i--;
			}
		}
		if (!busy && (stop || next >= n))
			break;
		if (curl_multi_perform(m, &running) != CURLM_OK ||
		    curl_multi_poll(m, NULL, 0, timeout > 0 ? timeout : 1, NULL) != CURLM_OK)
			break;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &q))) {
			struct batch_slot *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			if (s && slot_finished(c, m, s, msg->data.result)) {
				busy--;
				stop = slot_report(ops, ctx, s) != 0 || stop;
			}
		}
	}
	for (i = 0; slots && i < nslots; i++) {
		struct batch_slot *s = &slots[i];

		if (s->in_multi) {
			curl_multi_remove_handle(m, s->h);
			built_free(&s->b);
		}
		if (s->busy) {
			s->rc = S3_ERR_RETRY;
			snprintf(s->err, sizeof(s->err), "the transfer engine failed");
			slot_report(ops, ctx, s);
		}
		http_response_reset(&s->x.resp);
		if (s->h)
			curl_easy_cleanup(s->h);
	}
	free(slots);
	if (m)
		curl_multi_cleanup(m);
}

/* s3_get_each as a batch of GETs. */
struct get_batch {
	const char *bucket;
	const struct s3_get_hooks *hooks;
	size_t started; /* jobs [0, started) were handed to the batch */
};

static int get_prepare(void *ctx, size_t i, struct s3_req *r, char *err, size_t errlen)
{
	struct get_batch *g = ctx;
	const char *key = NULL;
	int fd = -1;

	g->started = i + 1; /* the batch starts jobs in order */
	if (g->hooks->start(g->hooks->ctx, i, &key, &fd, err, errlen) < 0)
		return S3_ERR_FATAL;
	s3_req_init(r, "GET", g->bucket, key);
	r->out_fd = fd;
	return S3_OK;
}

static int get_done(void *ctx, size_t i, int rc, struct http_xfer *x, const char *err)
{
	struct get_batch *g = ctx;

	(void)x;
	g->hooks->done(g->hooks->ctx, i, rc, err);
	return 0;
}

size_t s3_get_each(struct s3_client *c, const char *bucket, size_t n, int max_parallel,
		   const struct s3_get_hooks *hooks)
{
	static const struct s3_batch_ops ops = { get_prepare, get_done };
	struct get_batch g = { bucket, hooks, 0 };
	size_t i;

	s3_run_batch(c, n, max_parallel, &ops, &g);
	/* Never started: the transfer engine gave up early. */
	for (i = g.started; i < n; i++)
		hooks->done(hooks->ctx, i, S3_ERR_RETRY, "not downloaded");
	return n - g.started;
}

/* s3_get_objects on s3_get_each: the jobs array holds keys and fds. */
static int jobs_start(void *ctx, size_t i, const char **key, int *fd, char *err, size_t errlen)
{
	struct s3_get_job *jobs = ctx;

	(void)err;
	(void)errlen;
	*key = jobs[i].key;
	*fd = jobs[i].fd;
	return 0;
}

static void jobs_done(void *ctx, size_t i, int rc, const char *err)
{
	struct s3_get_job *jobs = ctx;

	jobs[i].result = rc;
	/* The job keeps one line; a longer message is cut, on purpose. */
	snprintf(jobs[i].err, sizeof(jobs[i].err), "%.*s", (int)sizeof(jobs[i].err) - 1, err);
}

int s3_get_objects(struct s3_client *c, const char *bucket, struct s3_get_job *jobs, size_t n,
		   int max_parallel)
{
	struct s3_get_hooks hooks = { jobs_start, jobs_done, jobs };
	int failed = 0;
	size_t i;

	s3_get_each(c, bucket, n, max_parallel, &hooks);
	for (i = 0; i < n; i++)
		failed += jobs[i].result != S3_OK;
	return failed;
}

void s3_put_req_fill(struct s3_req *r, const char *bucket, const char *key, int fd,
		     uint64_t size, const struct s3_digests *d, bool if_none_match)
{
	s3_req_init(r, "PUT", bucket, key);
	s3_req_header(r, "Content-MD5", d->md5_b64);
	s3_req_header(r, "x-amz-checksum-sha256", d->sha256_b64);
	s3_req_header(r, "x-amz-meta-covship-sha256", d->sha256_hex);
	s3_req_header(r, "Content-Type", "application/octet-stream");
	if (if_none_match)
		s3_req_header(r, "If-None-Match", "*");
	r->body_fd = fd;
	r->body_off = 0;
	r->body_len = size;
	r->has_body = true;
	r->payload_hash = d->sha256_hex;
}

static int put_single(struct s3_client *c, const char *bucket, const char *key, int fd,
		      uint64_t size, const struct s3_digests *d, const struct s3_put_opts *po,
		      char *err, size_t errlen)
{
	struct s3_req r;
	struct http_xfer x;
	int rc;

	s3_put_req_fill(&r, bucket, key, fd, size, d, po && po->if_none_match);
	rc = s3_request(c, &r, &x, err, errlen);
	http_response_reset(&x.resp);
	return rc;
}

int s3_put_file(struct s3_client *c, const char *bucket, const char *key, const char *path,
		const struct s3_put_opts *po, char *err, size_t errlen)
{
	struct s3_digests d;
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return S3_ERR_FATAL;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s is not a regular file", path);
		close(fd);
		return S3_ERR_FATAL;
	}
	if ((uint64_t)st.st_size >= c->cfg.multipart_threshold) {
		char hex[65] = "";

		if (po && po->sha256_hex) {
			snprintf(hex, sizeof(hex), "%s", po->sha256_hex);
		} else if (s3_digest_range(fd, 0, (uint64_t)st.st_size, &d, false) == 0) {
			memcpy(hex, d.sha256_hex, sizeof(hex));
		} else {
			set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
			close(fd);
			return S3_ERR_RETRY;
		}
		rc = s3_put_multipart(c, bucket, key, fd, (uint64_t)st.st_size, hex, po, err,
				      errlen);
		close(fd);
		return rc;
	}
	if (s3_digest_range(fd, 0, (uint64_t)st.st_size, &d, true) != 0) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		close(fd);
		return S3_ERR_RETRY;
	}
	if (po && po->sha256_hex && strcasecmp(po->sha256_hex, d.sha256_hex) != 0) {
		set_err(err, errlen, "%s changed: its SHA-256 is not the expected %s", path,
			po->sha256_hex);
		close(fd);
		return S3_ERR_FATAL;
	}
	rc = put_single(c, bucket, key, fd, (uint64_t)st.st_size, &d, po, err, errlen);
	close(fd);
	return rc;
}
