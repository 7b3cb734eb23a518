/* SPDX-License-Identifier: MIT */
/* RFC 3339 timestamps with milliseconds, always UTC: 2026-11-25T09:00:00.123Z */
#ifndef COVSHIP_TIMEFMT_H
#define COVSHIP_TIMEFMT_H

#include <stdint.h>
#include <time.h>

#define TIMEFMT_RFC3339_LEN 32

void timefmt_rfc3339(const struct timespec *ts, char out[TIMEFMT_RFC3339_LEN]);
void timefmt_rfc3339_now(char out[TIMEFMT_RFC3339_LEN]);

/* Milliseconds on CLOCK_MONOTONIC: for deadlines, never for timestamps. */
int64_t timefmt_monotonic_ms(void);

#endif
