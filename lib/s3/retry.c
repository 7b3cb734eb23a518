/* SPDX-License-Identifier: MIT */
#include "retry.h"

#include <errno.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

bool retry_status_retryable(long status)
{
	return status == 500 || status == 502 || status == 503 || status == 504;
}

bool retry_code_retryable(const char *code)
{
	static const char *const codes[] = {
		"SlowDown", "RequestTimeout", "RequestTimeoutException", "InternalError",
		"ServiceUnavailable", "Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "PriorRequestNotComplete", "EC2ThrottledException",
		"IDPCommunicationError",
	};
	size_t i;

	for (i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

bool retry_code_is_expired_token(const char *code)
{
	return code && (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0 ||
			strcmp(code, "ExpiredTokenException") == 0 ||
			strcmp(code, "TokenRefreshRequired") == 0);
}

long retry_backoff_ms(int attempt, long base_ms, long cap_ms)
{
	long ceiling = base_ms;
	unsigned int r = 0;
	int i;

	for (i = 1; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	if (ceiling <= 0)
		return 0;
	/* Jitter needs no cryptographic quality, but RAND_bytes needs no seeding
	 * and no global state of ours either. */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (unsigned int)time(NULL);
	return (long)((double)r / 4294967296.0 * (double)ceiling);
}

void retry_quota_init(struct retry_quota *q)
{
	q->tokens = RETRY_QUOTA_MAX;
}

bool retry_quota_take(struct retry_quota *q, bool timeout)
{
	int cost = timeout ? RETRY_TIMEOUT_COST : RETRY_COST;

	if (q->tokens < cost)
		return false;
	q->tokens -= cost;
	return true;
}

void retry_quota_refund(struct retry_quota *q, int taken)
{
	q->tokens += taken > 0 ? taken : 1;
	if (q->tokens > RETRY_QUOTA_MAX)
		q->tokens = RETRY_QUOTA_MAX;
}

void retry_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
