/* SPDX-License-Identifier: MIT */
/*
 * The shim's side of the marker contract with the sidecar (docs/shim.md):
 * DIR/.covship/run.json at start, DIR/.covship/done.json when the last
 * descendant is gone, both written atomically; DIR/run-<run_id>/ for data.
 */
#ifndef COVSHIP_SHIM_MARKER_H
#define COVSHIP_SHIM_MARKER_H

#include <stddef.h>
#include <stdint.h>

#include "proclist.h"
#include "procsnap.h"
#include "runid.h"
#include "timefmt.h"

#define MARKER_SCHEMA 1
#define MARKER_SUBDIR ".covship"

struct marker_run {
	char run_id[RUNID_LEN + 1];
	char started[TIMEFMT_RFC3339_LEN];
	long shim_pid;
	const char *shim_version;
};

struct marker_done {
	const char *status; /* "complete" or "grace-expired" */
	struct proc_record main;
	int exit_status;
	const struct proclist *descendants;
	const struct procsnap *tree; /* NULL or not taken: "tree_at_stop":null */
	int64_t grace_ms;
	const char *stop_requested; /* NULL: nobody asked, the main child just exited */
	char finished[TIMEFMT_RFC3339_LEN];
};

/* JSON text of each marker, or NULL when out of memory. Free with cJSON_free. */
char *marker_run_json(const struct marker_run *r);
char *marker_done_json(const struct marker_run *r, const struct marker_done *d);

/*
 * Before the child starts: remove a stale done.json, write run.json, create
 * DIR/run-<run_id>. Returns 0, or -errno with what failed in err.
 */
int marker_begin(const char *dir, const struct marker_run *r, char *err, size_t errlen);

/* After the last descendant: write done.json. Returns 0, or -errno with err. */
int marker_finish(const char *dir, const struct marker_run *r, const struct marker_done *d,
		  char *err, size_t errlen);

/* DIR/run-<run_id> into out; -ENAMETOOLONG when it does not fit. */
int marker_data_dir(const char *dir, const struct marker_run *r, char *out, size_t len);

#endif
