/* SPDX-License-Identifier: MIT */
/*
 * Per-process accounting: whose coverage is missing.
 *
 * The shim's done marker says "complete" when every descendant exited, which
 * is not "every worker saved its data": a worker that gunicorn SIGKILLs
 * after --graceful-timeout is reaped by gunicorn, the shim never sees the
 * signal, and the marker still says complete. The marker's "tree_at_stop"
 * (docs/shim.md) lists the descendants alive when shutdown began; coverage.py
 * names each data file `<data_file>.<host>.<pid>.<random>`. This module
 * matches the two per run and names every expected writer that left no file.
 *
 * Who is an expected writer (docs/pull.md, "Per-process accounting"):
 *  - a Python process: the first word of its command line, after the last
 *    '/', starts with "python", "pypy", "gunicorn" or "uvicorn" (so
 *    "/usr/bin/python3 -m gunicorn …", "gunicorn: worker [app.wsgi]" and
 *    "/venv/bin/uvicorn …" all count);
 *  - except the top of a Python subtree that has Python children (its
 *    parent is not a Python process of the tree): that is a master
 *    (gunicorn's arbiter, uvicorn's supervisor) which serves no requests
 *    and, without --preload, starts no coverage;
 *  - except multiprocessing's helpers (resource_tracker, semaphore_tracker,
 *    forkserver), which never run application code.
 *
 * Guarantees: memory is per run (the tree's Python processes and the writer
 * pids), not per bundle; nothing is read but the manifests; a marker without
 * "tree_at_stop" (an older shim) gives no finding, never a false one.
 * Not thread-safe; one accounting per pull.
 */
#ifndef COVSHIP_PULL_ACCOUNTING_H
#define COVSHIP_PULL_ACCOUNTING_H

#include <stdbool.h>
#include <stddef.h>

#include "manifest.h"

/* One process that was alive at stop, was expected to write coverage data
 * and wrote none. Strings are owned by the accounting. */
struct pull_missing_writer {
	long pid;          /* in the shim's PID namespace, as coverage.py saw it */
	const char *cmd;   /* its command line from done.json (may be "") */
	bool killed_at_grace; /* the shim's own --grace SIGKILL took it */
};

struct pull_acct;

/* A fresh accounting, or NULL when out of memory. */
struct pull_acct *pull_acct_new(void);

/* Take what one verified bundle says: its data files' writer pids and, if it
 * carries its own run's marker, the tree at stop. Call before the manifest's
 * marker and file list are dropped. Returns 0, or -1 when out of memory. */
int pull_acct_add_bundle(struct pull_acct *a, const struct manifest *m);

/* The processes of RUN_ID that wrote no data (after every bundle was
 * added), in tree order; *out stays valid until pull_acct_free. Returns
 * their number (0 for an unknown run). The JUnit report uses this. */
size_t pull_acct_missing(struct pull_acct *a, const char *run_id,
			 const struct pull_missing_writer **out);

/* Log one line per missing writer of RUN_ID (error, or warning when
 * AS_WARNING) and return their number. */
size_t pull_acct_report_run(struct pull_acct *a, const char *run_id, bool as_warning);

/* The writer pid of a coverage.py parallel data file from its name (a path:
 * only the last component counts): PREFIX.HOST.PID.RANDOM with PREFIX
 * non-empty (".coverage"), HOST possibly empty or dotted, PID decimal
 * without a leading zero, RANDOM 6 digits (coverage.py < 7) or "X…x"
 * (letters and digits, coverage.py 7). Returns true and *pid, else false. */
bool pull_coverage_file_pid(const char *name, long *pid);

/* True when CMD names a Python process by the rule above. */
bool pull_acct_is_python(const char *cmd);

void pull_acct_free(struct pull_acct *a);

#endif
