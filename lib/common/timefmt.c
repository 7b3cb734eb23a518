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
	/*
	 * Plain snprintf, not strftime: strftime drags 8 KB of locale code into
	 * the static shim. The fields are clamped so the compiler can see that
	 * nothing is truncated.
	 */
	snprintf(out, TIMEFMT_RFC3339_LEN, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
		 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
		 (unsigned)(ts->tv_nsec / 1000000L) % 1000u);
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
