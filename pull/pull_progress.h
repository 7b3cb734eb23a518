/* SPDX-License-Identifier: MIT */
/*
 * Progress of a pull: bundles done of listed, bytes (as listed) done,
 * rate and ETA.
 *
 * On a terminal (stderr a TTY, text log format) one line is redrawn in
 * place ("\r", erase line) at most PULL_PROGRESS_TTY_MS apart, and erased
 * at the end so it never mixes with the summary. Otherwise (a Jenkins log,
 * JSON logs) nothing is printed for a pull shorter than
 * PULL_PROGRESS_QUIET_S, then one ordinary log line (text or JSON, through
 * log.h) every PULL_PROGRESS_QUIET_S: a log file gets a heartbeat, not a
 * line per bundle. Below --log-level info (-q) nothing is printed at all.
 * Updates come when a bundle is done, so one very long download shows no
 * movement until it ends.
 */
#ifndef COVSHIP_PULL_PROGRESS_H
#define COVSHIP_PULL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PULL_PROGRESS_TTY_MS 250
#define PULL_PROGRESS_QUIET_S 5

struct pull_progress {
	bool tty;   /* redraw in place */
	bool on;    /* anything at all (log level info or more) */
	bool drawn; /* a TTY line is on screen */
	size_t total, done;
	uint64_t total_bytes, done_bytes;
	struct timespec start, last; /* CLOCK_MONOTONIC */
};

/* Start counting n bundles of `bytes` listed bytes; decides the mode from
 * stderr and the log settings as they are now. */
void pull_progress_start(struct pull_progress *p, size_t n, uint64_t bytes);

/* One more bundle done (whatever became of it), `bytes` as listed. May
 * print, rate-limited as above. */
void pull_progress_step(struct pull_progress *p, uint64_t bytes);

/* Erase the TTY line, if any: call before printing the summary. */
void pull_progress_end(struct pull_progress *p);

#endif
