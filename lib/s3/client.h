/* SPDX-License-Identifier: MIT */
/*
 * What a struct s3_client holds (internal to lib/s3): the resolved
 * configuration, the TLS settings every transfer uses, the credential
 * chain, the retry budget shared by all its requests, and the clock offset
 * learnt from RequestTimeTooSkewed. Callers outside lib/s3 see it only as
 * the opaque handle of s3.h.
 */
#ifndef COVSHIP_S3_CLIENT_H
#define COVSHIP_S3_CLIENT_H

#include <curl/curl.h>

#include "credentials.h"
#include "http.h"
#include "retry.h"
#include "s3.h"

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

#endif
