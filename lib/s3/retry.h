/* SPDX-License-Identifier: MIT */
/*
 * Retries with the AWS SDKs' "standard" mode semantics: which failures are
 * transient, full-jitter exponential backoff, and a retry budget (quota)
 * that stops a struggling client from hammering a struggling server.
 */
#ifndef COVSHIP_S3_RETRY_H
#define COVSHIP_S3_RETRY_H

#include <stdbool.h>

#define RETRY_QUOTA_MAX 500
#define RETRY_COST 5
#define RETRY_TIMEOUT_COST 10

struct retry_quota {
	int tokens;
};

/* HTTP status codes retried whatever the body says. */
bool retry_status_retryable(long status);
/* S3/AWS error codes that are transient (SlowDown, RequestTimeout, the
 * throttling family, InternalError, ...). */
bool retry_code_retryable(const char *code);
bool retry_code_is_expired_token(const char *code);

/* Delay before retry number `attempt` (1 = first retry):
 * rand(0,1) * min(base_ms * 2^(attempt-1), cap_ms). */
long retry_backoff_ms(int attempt, long base_ms, long cap_ms);

void retry_quota_init(struct retry_quota *q);
/* Take the cost of one retry; false when the budget is spent. */
bool retry_quota_take(struct retry_quota *q, bool timeout);
/* A request that succeeded gives back what its retries took (at least 1). */
void retry_quota_refund(struct retry_quota *q, int taken);

void retry_sleep_ms(long ms);

#endif
