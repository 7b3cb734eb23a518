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
	snprintf(out, TIMEFMT_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, ts->tv_nsec / 1000000L);
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
