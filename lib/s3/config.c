/* SPDX-License-Identifier: MIT */
/*
 * Where requests go: the endpoint, region and tunables (s3_config_resolve)
 * and the s3://bucket/prefix URL (s3_parse_url).
 */
#include "s3.h"
#include "errbuf.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024ULL * 1024ULL)

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

/* The CA bundle, in the AWS CLI's order: --ca-bundle (or COVSHIP_CA_BUNDLE,
 * which the options fold into it), then the AWS_CA_BUNDLE environment
 * variable, then the system default. It verifies every https endpoint:
 * S3 and the credential endpoints alike. */
static int ca_bundle(struct s3_config *cfg, const struct s3_options *opts, char *err,
		     size_t errlen)
{
	const char *opt = opts && opts->ca_bundle && *opts->ca_bundle ? opts->ca_bundle : NULL;
	const char *env = env_nonempty("AWS_CA_BUNDLE");
	const char *path = opt ? opt : env;

	if (!path)
		return 0;
	if (strlen(path) >= sizeof(cfg->ca_bundle)) {
		set_err(err, errlen, "the CA bundle path '%.60s...' is too long", path);
		return -1;
	}
	if (access(path, R_OK) != 0) {
		if (opt)
			set_err(err, errlen, "--ca-bundle %s: %s", path, strerror(errno));
		else
			set_err(err, errlen, "AWS_CA_BUNDLE %s: %s; fix the path or unset the "
				"variable", path, strerror(errno));
		return -1;
	}
	snprintf(cfg->ca_bundle, sizeof(cfg->ca_bundle), "%s", path);
	return 0;
}

int s3_config_resolve(struct s3_config *cfg, const struct s3_options *opts, char *err,
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
	}
	if (ca_bundle(cfg, opts, err, errlen))
		return -1;
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
