/* SPDX-License-Identifier: MIT */
#include "timefmt.h"

#include <stdio.h>

void timefmt_rfc3339(const struct timespec *ts, char out[TIMEFMT_RFC3339_LEN])
{
	struct tm tm;
	time_t secs = ts->tv_sec;

	if (!gmtime_r(&secs, &tm)) {
		snprintf(out, TIMEFMT_RFC3339_LEN, "1970-01-01T00:00:00.000Z");
		return;
	}
	/* strftime bounds every field, so nothing can be truncated. */
	size_t n = strftime(out, TIMEFMT_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(out + n, TIMEFMT_RFC3339_LEN - n, ".%03dZ", (int)(ts->tv_nsec / 1000000L) % 1000);
}

void timefmt_rfc3339_now(char out[TIMEFMT_RFC3339_LEN])
{
	struct timespec ts = { 0, 0 };

	/* CLOCK_REALTIME cannot fail with a valid clock id and pointer. */
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	timefmt_rfc3339(&ts, out);
}

int64_t timefmt_monotonic_ms(void)
{
	struct timespec ts = { 0, 0 };

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
