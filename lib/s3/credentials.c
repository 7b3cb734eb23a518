/* SPDX-License-Identifier: MIT */
#include "credentials.h"
#include "errbuf.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "strbuf.h"

#define ECS_HOST "169.254.170.2"
#define IMDS_BASE "http://169.254.169.254"
#define IMDS_BASE_V6 "http://[fd00:ec2::254]"
#define META_TIMEOUT_MS 2000
#define META_ATTEMPTS 3

struct cred_chain {
	struct aws_creds cur;
	struct aws_creds scratch; /* resolved here, then copied: both in the no-dump page */
	bool have;
	bool config_error; /* the last failure needs a configuration change */
	struct http_tls tls;
	CURL *h;
};


struct cred_chain *cred_chain_new(const struct http_tls *tls)
{
	/* A page of its own, so that MADV_DONTDUMP keeps the secrets out of
	 * core files. */
	struct cred_chain *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (c == MAP_FAILED)
		return NULL;
	if (madvise(c, sizeof(*c), MADV_DONTDUMP) != 0)
		log_debug("madvise(MADV_DONTDUMP) failed: %s", strerror(errno));
	memset(c, 0, sizeof(*c));
	c->tls = *tls;
	c->h = curl_easy_init();
	if (!c->h) {
		munmap(c, sizeof(*c));
		return NULL;
	}
	return c;
}

void cred_chain_free(struct cred_chain *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	OPENSSL_cleanse(c, sizeof(*c));
	munmap(c, sizeof(*c));
}

static void wipe_sb(struct strbuf *b)
{
	if (b->s)
		OPENSSL_cleanse(b->s, b->cap);
	sb_free(b);
}

static int put(char *dst, size_t n, const char *src)
{
	if (!src || strlen(src) >= n)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* ---- environment ---- */

static int from_env(struct aws_creds *out)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN");

	if (!ak || !*ak || !sk || !*sk)
		return 1;
	if (put(out->access_key, sizeof(out->access_key), ak) ||
	    put(out->secret_key, sizeof(out->secret_key), sk) ||
	    put(out->token, sizeof(out->token), tok ? tok : ""))
		return -1;
	out->expiration = 0;
	out->source = "environment";
	return 0;
}

/* ---- shared files: ~/.aws/credentials ([name]) and ~/.aws/config
 * ([profile name], or [default]) ---- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Reads the three static-key settings of `section` from an INI file.
 * Returns 0 found, 1 not found, -1 unreadable. */
static int ini_profile(const char *path, const char *section, struct aws_creds *out)
{
	FILE *f = fopen(path, "re");
	char line[8192];
	bool in = false, ak = false, sk = false;

	if (!f)
		return errno == ENOENT ? 1 : -1;
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq;

		if (*s == '#' || *s == ';' || !*s)
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (end)
				*end = '\0';
			in = strcmp(trim(s + 1), section) == 0;
			continue;
		}
		eq = strchr(s, '=');
		if (!in || !eq)
			continue;
		*eq = '\0';
		s = trim(s);
		if (strcmp(s, "aws_access_key_id") == 0)
			ak = put(out->access_key, sizeof(out->access_key), trim(eq + 1)) == 0;
		else if (strcmp(s, "aws_secret_access_key") == 0)
			sk = put(out->secret_key, sizeof(out->secret_key), trim(eq + 1)) == 0;
		else if (strcmp(s, "aws_session_token") == 0)
			put(out->token, sizeof(out->token), trim(eq + 1));
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return ak && sk ? 0 : 1;
}

static int from_files(struct aws_creds *out, char *err, size_t errlen)
{
	const char *profile = getenv("AWS_PROFILE");
	bool named;
	const char *home = getenv("HOME");
	const char *cf = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *conf = getenv("AWS_CONFIG_FILE");
	char credpath[4096], confpath[4096], section[300];
	int r;

	if (!profile || !*profile)
		profile = getenv("AWS_DEFAULT_PROFILE");
	named = profile && *profile;
	if (!profile || !*profile)
		profile = "default";
	snprintf(credpath, sizeof(credpath), "%s/.aws/credentials", home ? home : "/");
	snprintf(confpath, sizeof(confpath), "%s/.aws/config", home ? home : "/");
	memset(out, 0, sizeof(*out));
	r = ini_profile(cf && *cf ? cf : credpath, profile, out);
	if (r < 0) {
		set_err(err, errlen, "cannot read the AWS credentials file %s: %s",
			cf && *cf ? cf : credpath, strerror(errno));
		return -1;
	}
	if (r > 0) {
		if (strcmp(profile, "default") == 0)
			snprintf(section, sizeof(section), "default");
		else
			snprintf(section, sizeof(section), "profile %s", profile);
		memset(out, 0, sizeof(*out));
		r = ini_profile(conf && *conf ? conf : confpath, section, out);
		if (r < 0) {
			set_err(err, errlen, "cannot read the AWS config file %s: %s",
				conf && *conf ? conf : confpath, strerror(errno));
			return -1;
		}
	}
	if (r == 0) {
		out->expiration = 0;
		out->source = "shared files";
	} else if (named) {
		/* As the SDKs do: falling through to the task role would sign
		 * with an identity the user did not ask for. */
		set_err(err, errlen, "AWS_PROFILE/AWS_DEFAULT_PROFILE '%s': the shared credentials "
			"files %s and %s give it no aws_access_key_id and aws_secret_access_key; "
			"fix the profile name or unset the variable", profile,
			cf && *cf ? cf : credpath, conf && *conf ? conf : confpath);
		return -1;
	}
	return r;
}

/* ---- ECS container credentials and IMDS: JSON over HTTP ---- */

static time_t parse_expiration(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end)
		return (time_t)-1;
	return timegm(&tm);
}

static int creds_from_json(const char *body, struct aws_creds *out, const char *source,
			   char *err, size_t errlen)
{
	cJSON *j = cJSON_Parse(body);
	const char *ak, *sk, *tok, *exp;
	int rc = -1;

	if (!j) {
		set_err(err, errlen, "%s credentials: the answer is not JSON", source);
		return -1;
	}
	ak = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId"));
	sk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey"));
	tok = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "Token"));
	exp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "Expiration"));
	memset(out, 0, sizeof(*out));
	if (!ak || !sk || put(out->access_key, sizeof(out->access_key), ak) ||
	    put(out->secret_key, sizeof(out->secret_key), sk) ||
	    put(out->token, sizeof(out->token), tok ? tok : "")) {
		set_err(err, errlen, "%s credentials: AccessKeyId/SecretAccessKey missing or too long",
			source);
	} else if (exp && parse_expiration(exp) == (time_t)-1) {
		set_err(err, errlen, "%s credentials: cannot parse Expiration '%.40s'", source, exp);
	} else {
		out->expiration = exp ? parse_expiration(exp) : 0;
		out->source = source;
		rc = 0;
	}
	/* cJSON frees without wiping; wipe the secret strings ourselves. */
	if (sk)
		OPENSSL_cleanse((void *)sk, strlen(sk));
	if (tok)
		OPENSSL_cleanse((void *)tok, strlen(tok));
	cJSON_Delete(j);
	return rc;
}

/* One metadata HTTP request with a short timeout; retried on transport
 * errors and 5xx like botocore does. Returns the status (a 5xx one when
 * every attempt got one, with err; body is set only below 500), or -1 when
 * no attempt got an answer (err). */
static long meta_request(struct cred_chain *c, const char *method, const char *url,
			 struct curl_slist *hdrs, struct strbuf *body, char *err, size_t errlen)
{
	struct http_tls tls = c->tls;
	struct http_xfer x;
	int attempt;
	long status = -1;

	tls.connect_timeout_ms = META_TIMEOUT_MS;
	tls.low_speed_time_s = META_TIMEOUT_MS / 1000;
	for (attempt = 0; attempt < META_ATTEMPTS; attempt++) {
		memset(&x, 0, sizeof(x));
		x.req.method = method;
		x.req.url = url;
		x.req.headers = hdrs;
		x.req.out_fd = -1;
		x.req.body_cap = 65536;
		if (strcmp(method, "PUT") == 0) {
			x.req.body_mem = "";
			x.req.body_mem_len = 0;
		}
		if (http_perform(c->h, &x, &tls) == 0) {
			status = x.resp.status;
			if (status < 500) {
				*body = x.resp.body;
				memset(&x.resp.body, 0, sizeof(x.resp.body));
				http_response_reset(&x.resp);
				return status;
			}
		} else {
			set_err(err, errlen, "%s %s: %s", method, url, x.resp.curl_err);
		}
		wipe_sb(&x.resp.body);
		http_response_reset(&x.resp);
	}
	if (status >= 500) {
		/* It is there but failing: the caller retries later. */
		set_err(err, errlen, "%s %s: HTTP %ld", method, url, status);
		return status;
	}
	return -1;
}

/* A literal 127.0.0.0/8 address. A name such as "127.0.0.1.example.com"
 * starts with "127." too but may resolve anywhere. */
static bool loopback_ipv4(const char *host)
{
	struct in_addr a;

	return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* Plain http is allowed to the container endpoints and loopback only. */
static int full_uri_allowed(const char *uri, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = -1;

	if (!u || curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		set_err(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL");
	} else if (strcasecmp(scheme, "https") == 0) {
		ok = 0;
	} else if (strcasecmp(scheme, "http") != 0) {
		set_err(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be http or https");
	} else if (loopback_ipv4(host) || strcmp(host, "[::1]") == 0 ||
		   strcasecmp(host, "localhost") == 0 || strcmp(host, "169.254.170.2") == 0 ||
		   strcmp(host, "169.254.170.23") == 0 || strcasecmp(host, "[fd00:ec2::23]") == 0) {
		ok = 0;
	} else {
		set_err(err, errlen,
			"AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to loopback, "
			"169.254.170.2, 169.254.170.23 or fd00:ec2::23; use https");
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* Authorization for the container endpoint: the token file, re-read on
 * every fetch (EKS rotates it), wins over the variable. */
static int container_auth(struct strbuf *hdr, char *err, size_t errlen)
{
	const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char buf[8192];
	size_t n = 0;

	if (file && *file) {
		FILE *f = fopen(file, "re");

		if (!f) {
			set_err(err, errlen, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
				file, strerror(errno));
			return -1;
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		tok = buf;
	}
	if (!tok || !*tok)
		return 0;
	if (strpbrk(tok, "\r\n")) {
		set_err(err, errlen, "the container authorization token contains CR or LF; refusing it");
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	sb_printf(hdr, "Authorization: %s", tok);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 1;
}

/* The host of url into host (as libcurl sees it: IPv6 in brackets).
 * Returns 0, or -1 when url is not a URL. */
static int url_host(const char *url, char *host, size_t n)
{
	CURLU *u = curl_url();
	char *h = NULL;
	int rc = -1;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && strlen(h) < n) {
		memcpy(host, h, strlen(h) + 1);
		rc = 0;
	}
	curl_free(h);
	curl_url_cleanup(u);
	return rc;
}

/* A test-only endpoint override (COVSHIP_TEST_*) is honoured only when the
 * URL it produces goes to a literal loopback address: a release binary
 * then never sends a credential request (with the container's
 * Authorization token) to a host an environment variable names. A URL
 * elsewhere is refused with a configuration error (-1), never ignored:
 * falling back to the real endpoint would hide the mistake. */
static int test_override_loopback(const char *var, const char *url, char *err, size_t errlen)
{
	char host[256];

	if (url_host(url, host, sizeof(host)) == 0 &&
	    (loopback_ipv4(host) || strcmp(host, "[::1]") == 0))
		return 0;
	set_err(err, errlen, "%s is a test-only override honoured for loopback addresses only "
		"(127.0.0.0/8, ::1); unset it", var);
	return -1;
}

static int from_ecs(struct cred_chain *c, struct aws_creds *out, char *err, size_t errlen)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *host = getenv("COVSHIP_TEST_ECS_CREDENTIALS_HOST"); /* tests only */
	struct strbuf url = STRBUF_INIT, auth = STRBUF_INIT, body = STRBUF_INIT;
	struct curl_slist *hdrs = NULL;
	long status;
	int rc = -1;

	if (rel && *rel) {
		/* A path, or "@host/..." would make 169.254.170.2 the user
		 * name of a URL to another host. */
		if (*rel != '/') {
			set_err(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path "
				"starting with '/'; let ECS set it");
			c->config_error = true;
			return -1;
		}
		sb_printf(&url, "http://%s%s", host && *host ? host : ECS_HOST, rel);
		if (!url.oom && host && *host &&
		    test_override_loopback("COVSHIP_TEST_ECS_CREDENTIALS_HOST", url.s, err, errlen)) {
			c->config_error = true;
			goto out;
		}
	} else if (full && *full) {
		if (full_uri_allowed(full, err, errlen)) {
			c->config_error = true;
			return -1;
		}
		sb_puts(&url, full);
	} else {
		return 1;
	}
	if (url.oom)
		goto out;
	if (container_auth(&auth, err, errlen) < 0) {
		c->config_error = true;
		goto out;
	}
	if (auth.s) {
		hdrs = curl_slist_append(NULL, auth.s);
		if (!hdrs)
			goto out;
	}
	status = meta_request(c, "GET", url.s, hdrs, &body, err, errlen);
	if (status == 200)
		rc = creds_from_json(body.s ? body.s : "", out, "ECS container", err, errlen);
	else if (status > 0)
		set_err(err, errlen, "ECS container credentials %s: HTTP %ld", url.s, status);
out:
	if (hdrs) {
		OPENSSL_cleanse(hdrs->data, strlen(hdrs->data));
		curl_slist_free_all(hdrs);
	}
	wipe_sb(&auth);
	wipe_sb(&body);
	sb_free(&url);
	return rc;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* The IMDS base URL: the test-only override (loopback only), else the
 * SDKs' AWS_EC2_METADATA_SERVICE_ENDPOINT (any http(s) URL, as in the
 * SDKs: IMDS is asked for credentials, never handed a secret) or
 * AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, else 169.254.169.254.
 * Returns 0 with *base (a trailing '/' dropped), or -1 with err. */
static int imds_base(struct strbuf *base, char *err, size_t errlen)
{
	const char *test = getenv("COVSHIP_TEST_IMDS_ENDPOINT"); /* tests only */
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");

	if (test && *test) {
		if (test_override_loopback("COVSHIP_TEST_IMDS_ENDPOINT", test, err, errlen))
			return -1;
		sb_puts(base, test);
	} else if (ep && *ep) {
		if (strncasecmp(ep, "http://", 7) && strncasecmp(ep, "https://", 8)) {
			set_err(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http:// "
				"or https:// URL (e.g. http://169.254.169.254)");
			return -1;
		}
		sb_puts(base, ep);
	} else if (mode && *mode && strcasecmp(mode, "IPv6") == 0) {
		sb_puts(base, IMDS_BASE_V6);
	} else if (mode && *mode && strcasecmp(mode, "IPv4") != 0) {
		set_err(err, errlen, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6");
		return -1;
	} else {
		sb_puts(base, IMDS_BASE);
	}
	while (base->len && base->s[base->len - 1] == '/')
		base->s[--base->len] = '\0';
	return base->oom ? -1 : 0;
}

/* EC2 instance metadata (IMDSv2, IMDSv1 fallback). Returns 0 with *out;
 * 1 when IMDS has no credentials for us (switched off, not reachable: not
 * on EC2, no instance profile), with the reason in why; -1 with err when
 * it is misconfigured or failing (5xx, a bad answer). */
static int from_imds(struct cred_chain *c, struct aws_creds *out, char *why, size_t whylen,
		     char *err, size_t errlen)
{
	struct strbuf base = STRBUF_INIT, url = STRBUF_INIT, tokhdr = STRBUF_INIT,
		      body = STRBUF_INIT;
	struct curl_slist *hdrs = NULL;
	char role[256];
	long status;
	int rc = -1;

	if (env_true("AWS_EC2_METADATA_DISABLED")) {
		snprintf(why, whylen, "off (AWS_EC2_METADATA_DISABLED)");
		return 1;
	}
	if (imds_base(&base, err, errlen)) {
		c->config_error = true;
		goto out;
	}
	sb_printf(&url, "%s/latest/api/token", base.s);
	hdrs = curl_slist_append(NULL, "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	if (!hdrs || url.oom)
		goto out;
	status = meta_request(c, "PUT", url.s, hdrs, &body, err, errlen);
	curl_slist_free_all(hdrs);
	hdrs = NULL;
	if (status < 0) {
		snprintf(why, whylen, "no answer (%s)", err);
		rc = 1;
		goto out;
	}
	if (status == 200 && body.s && !strpbrk(body.s, "\r\n")) {
		sb_printf(&tokhdr, "X-aws-ec2-metadata-token: %s", body.s);
		hdrs = curl_slist_append(NULL, tokhdr.s ? tokhdr.s : "");
		if (!hdrs)
			goto out;
	} else if (status == 403 || status == 404 || status == 405) {
		/* IMDSv1 fallback, unless forbidden */
		if (env_true("AWS_EC2_METADATA_V1_DISABLED")) {
			snprintf(why, whylen, "the token request got HTTP %ld and "
				 "AWS_EC2_METADATA_V1_DISABLED forbids IMDSv1", status);
			rc = 1;
			goto out;
		}
	} else if (status >= 500) {
		set_err(err, errlen, "EC2 IMDS token: HTTP %ld", status);
		goto out;
	} else {
		snprintf(why, whylen, "the token request got HTTP %ld", status);
		rc = 1;
		goto out;
	}
	wipe_sb(&body);
	sb_free(&url);
	sb_printf(&url, "%s/latest/meta-data/iam/security-credentials/", base.s);
	status = meta_request(c, "GET", url.s ? url.s : "", hdrs, &body, err, errlen);
	if (status >= 500) {
		set_err(err, errlen, "EC2 IMDS role name: HTTP %ld", status);
		goto out;
	}
	if (status < 0)
		goto out; /* it answered the token request: a passing failure */
	if (status != 200 || !body.s || !*trim(body.s)) {
		/* 404 (or 403 without a token): no instance profile */
		snprintf(why, whylen, "no instance profile role: HTTP %ld", status);
		rc = 1;
		goto out;
	}
	snprintf(role, sizeof(role), "%s", trim(body.s));
	if (strchr(role, '\n'))
		*strchr(role, '\n') = '\0';
	wipe_sb(&body);
	sb_free(&url);
	sb_printf(&url, "%s/latest/meta-data/iam/security-credentials/%s", base.s, role);
	status = meta_request(c, "GET", url.s ? url.s : "", hdrs, &body, err, errlen);
	if (status == 200)
		rc = creds_from_json(body.s ? body.s : "", out, "EC2 IMDS", err, errlen);
	else if (status > 0)
		set_err(err, errlen, "EC2 IMDS credentials for role %s: HTTP %ld", role, status);
out:
	curl_slist_free_all(hdrs);
	wipe_sb(&tokhdr);
	wipe_sb(&body);
	sb_free(&url);
	sb_free(&base);
	return rc;
}

/* The one line for "no source has credentials": the sources tried, why
 * IMDS (the last) had none, and how to give credentials. Never an IMDS
 * error: off EC2, an IMDS that does not answer is the normal case. */
static void no_credentials(const char *imds_why, char *err, size_t errlen)
{
	const char *profile = getenv("AWS_PROFILE");

	if (!profile || !*profile)
		profile = getenv("AWS_DEFAULT_PROFILE");
	if (!profile || !*profile)
		profile = "default";
	set_err(err, errlen, "no AWS credentials found (tried: the environment, profile '%s' "
		"of the shared files, ECS container credentials: not configured, EC2 instance "
		"metadata: %s); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
		"or run with an ECS task role or an EC2 instance profile", profile, imds_why);
}

/* Tries the sources in order; 0 with *out filled, -1 with err. */
static int resolve(struct cred_chain *c, struct aws_creds *out, char *err, size_t errlen)
{
	char why[200] = "";
	int r;

	r = from_env(out);
	if (r <= 0) {
		if (r < 0)
			set_err(err, errlen, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN too long");
		return r;
	}
	r = from_files(out, err, errlen);
	if (r < 0)
		c->config_error = true;
	if (r <= 0)
		return r;
	r = from_ecs(c, out, err, errlen);
	if (r <= 0)
		return r;
	r = from_imds(c, out, why, sizeof(why), err, errlen);
	if (r == 0 || (r < 0 && *err))
		return r;
	c->config_error = true;
	no_credentials(r > 0 ? why : "out of memory", err, errlen);
	return -1;
}

const struct aws_creds *cred_chain_get(struct cred_chain *c, bool force, char *err,
				       size_t errlen)
{
	time_t now = time(NULL);
	int r;

	if (c->have && !force &&
	    (c->cur.expiration == 0 || now < c->cur.expiration - CRED_REFRESH_AHEAD_S))
		return &c->cur;
	c->config_error = false;
	memset(&c->scratch, 0, sizeof(c->scratch));
	r = resolve(c, &c->scratch, err, errlen);
	if (r == 0) {
		OPENSSL_cleanse(&c->cur, sizeof(c->cur));
		c->cur = c->scratch;
		c->have = true;
	}
	OPENSSL_cleanse(&c->scratch, sizeof(c->scratch));
	if (r == 0) {
		log_debug("using AWS credentials from %s (access key %.4s...)", c->cur.source,
			  c->cur.access_key);
		return &c->cur;
	}
	/* A failed refresh keeps credentials that have not expired yet. */
	if (c->have && (c->cur.expiration == 0 || now < c->cur.expiration)) {
		log_warn("refreshing AWS credentials failed (%s); using the current ones until "
			 "they expire", err);
		return &c->cur;
	}
	return NULL;
}

bool cred_chain_config_error(const struct cred_chain *c)
{
	return c->config_error;
}
