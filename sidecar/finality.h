/* SPDX-License-Identifier: MIT */
/*
 * When is a file final?
 *  - marker rule: the shim's done.json carries the run_id of the current
 *    run.json: every process of the run is gone, every coverage file in the
 *    volume is complete.
 *  - snapshot rule (--snapshot-interval): a file that was closed after
 *    writing (IN_CLOSE_WRITE, or already there at start) and has not changed
 *    for --settle seconds, and nobody has it open for writing as far as the
 *    events tell.
 */
#ifndef COVSHIP_FINALITY_H
#define COVSHIP_FINALITY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fsutil.h"

struct run_state {
	bool have_run;       /* run.json present and valid */
	char run_id[33];
	cJSON *done;         /* done.json of *this* run, else NULL */
	struct file_id done_id;
};

/* Read DIR/.covship/run.json and done.json (O_NOFOLLOW, size-capped).
 * Never fails: what is missing or malformed is simply absent. */
void finality_read(int rootfd, struct run_state *rs);
void run_state_free(struct run_state *rs);

/* The same run and the same done.json file: nothing started in between. */
bool run_state_same(const struct run_state *a, const struct run_state *b);

/* Snapshot rule, given what the events said about the file. */
struct snap_info {
	bool open_for_write; /* IN_MODIFY/IN_CREATE seen and no IN_CLOSE_WRITE since */
	bool closed;         /* IN_CLOSE_WRITE seen, or present at start */
	int64_t last_event_ms; /* monotonic ms of the last event on it */
};

bool snapshot_final(const struct snap_info *si, int64_t mtime_ns, int64_t now_real_ns,
		    int64_t now_mono_ms, unsigned settle_s);

#endif
