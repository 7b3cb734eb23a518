/* SPDX-License-Identifier: MIT */
/* A client: one endpoint, its TLS settings, credentials and retry budget. */
#include "client.h"
#include "errbuf.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

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
	struct http_tls cred_tls;

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
	/* --insecure is for the S3 endpoint only: a credential or STS endpoint
	 * hands out secrets, so its certificate is always verified (with the
	 * same CA bundle). cred_chain_new copies what it is given. */
	cred_tls = c->tls;
	cred_tls.insecure = false;
	c->creds = cred_chain_new(&cred_tls);
	if (!c->h || !c->creds) {
		set_err(err, errlen, "out of memory");
		s3_client_free(c);
		return NULL;
	}
	if (c->cfg.insecure)
		log_warn("--insecure: TLS certificates of %s are NOT verified (credential "
			 "endpoints are still verified)", c->cfg.endpoint);
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
