/* SPDX-License-Identifier: MIT */
/*
 * The shim's life after the main child started: reap, forward, and shut
 * down by the rule in docs/shim.md (signal only the shim's own children,
 * each once; wait for every descendant up to the grace; then SIGKILL).
 */
#ifndef COVSHIP_SHIM_SUPERVISOR_H
#define COVSHIP_SHIM_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proclist.h"
#include "procsnap.h"
#include "signals.h"
#include "timefmt.h"

struct supervisor {
	const struct signals *sig;
	int64_t grace_ms;
	pid_t self;

	pid_t main_pid;
	struct proc_record main; /* .reaped once waitpid returned it */

	bool shutting_down;
	bool grace_expired;
	int64_t deadline_ms;  /* CLOCK_MONOTONIC, valid while shutting down */
	int64_t next_scan_ms; /* when to look for silently adopted orphans */
	bool stop_requested;
	char stop_requested_at[TIMEFMT_RFC3339_LEN];

	struct proclist procs; /* everyone signalled, killed or reaped during shutdown */
	struct procsnap tree;  /* the descendants when shutdown began (done.json) */
	bool proc_usable; /* /proc is our namespace's: orphans can be listed */
	bool oom_logged;
};

void supervisor_init(struct supervisor *sv, const struct signals *sig, int64_t grace_ms,
		     pid_t main_pid);

/* Runs until the last descendant is gone. Never fails: problems are logged. */
void supervisor_run(struct supervisor *sv);

/* The shim's exit status: the main child's, shell style. */
int supervisor_exit_status(const struct supervisor *sv);

void supervisor_free(struct supervisor *sv);

#endif
