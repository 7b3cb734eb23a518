/* SPDX-License-Identifier: MIT */
/*
 * AWS credentials in the SDKs' order: environment, shared credentials and
 * config files, ECS container credentials, EC2 instance metadata (IMDSv2).
 * Temporary credentials are refreshed ahead of their Expiration. Secrets
 * live in memory excluded from core dumps and are wiped when replaced or
 * freed; they never reach a log line or an error message.
 */
#ifndef COVSHIP_S3_CREDENTIALS_H
#define COVSHIP_S3_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "http.h"

struct aws_creds {
	char access_key[128];
	char secret_key[128];
	char token[4096];   /* "" when none */
	time_t expiration;  /* 0 for long-lived credentials */
	const char *source; /* "environment", "shared files", "ECS container", "EC2 IMDS" */
};

struct cred_chain;

/* tls: used for https container endpoints (FULL_URI). */
struct cred_chain *cred_chain_new(const struct http_tls *tls);
void cred_chain_free(struct cred_chain *c);

/* Current credentials (valid until the next call). force: fetch again even
 * if the cached ones look fresh (after a 403 ExpiredToken). Returns NULL
 * with a one-line message (no secrets) when no source has credentials. */
const struct aws_creds *cred_chain_get(struct cred_chain *c, bool force, char *err,
				       size_t errlen);

/* Whether the last failure of cred_chain_get needs a configuration change
 * (no source at all, a bad FULL_URI, a bad token) rather than a retry. */
bool cred_chain_config_error(const struct cred_chain *c);

/* Seconds before Expiration at which temporary credentials are refreshed. */
#define CRED_REFRESH_AHEAD_S (15 * 60)

#endif
