/* SPDX-License-Identifier: MIT */
/*
 * The delivery report of one pull: per task run (run id), what arrived and
 * whether its coverage was delivered whole, written as JUnit XML (`--junit`,
 * for Jenkins' `junit` step: one testsuite per pull, one testcase per run)
 * and as JSON (`--summary`, for scripts). Both files say the same facts.
 *
 * Guarantees:
 * - A run passes only when one of its bundles carries the shim's done
 *   marker of the same run saying "complete", no bundle of it failed
 *   verification or download, and no extra failure was added to it
 *   (pull_delivery_fail: e.g. per-process accounting). Otherwise every
 *   reason is listed, the first one as the failure message.
 * - A bundle that could not be verified has no trusted manifest: it is
 *   counted against the run id its key starts with (the sidecar's
 *   `<run_id>-…` names, or a `<run_id>/` directory), else it is a case of
 *   its own named by its key, so it is never silently dropped.
 * - The XML is well formed whatever the bytes of file names or markers:
 *   &<>"' are escaped, invalid UTF-8 and characters XML 1.0 forbids are
 *   replaced by '?'. JSON names that are not UTF-8 are given as path_b64
 *   (as in the manifest).
 * - Both files are written atomically (write, fsync, rename): Jenkins or a
 *   script never reads half a report, and a failed write leaves none.
 */
#ifndef COVSHIP_PULL_DELIVERY_H
#define COVSHIP_PULL_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "manifest.h"
#include "pull_report.h"

struct pull_delivery_file {
	char *path;    /* below --out (bundle dir / archive path), raw bytes */
	uint64_t size;
};

/* A process the shim killed when the grace period expired (done.json). */
struct pull_delivery_killed {
	long pid;
	int signal;    /* 0 when unknown */
	char *command; /* NULL when the marker does not record one */
};

/* One task run: one JUnit testcase. */
struct pull_delivery_run {
	char *id;         /* run id, or a bad bundle's key when no run id was found */
	char *hostname, *task_id, *build, *git_commit; /* metadata; NULL when absent */
	char *status;     /* the marker's status when not "complete" */
	bool complete;    /* a marker of this run says "complete" */
	bool foreign;     /* a bundle carries another run's marker */
	size_t nbundles;  /* placed (verified) bundles */
	struct pull_delivery_file *files;
	size_t nfiles;
	uint64_t bytes;
	struct pull_delivery_killed *killed;
	size_t nkilled;
	char **failures;  /* bad bundles and pull_delivery_fail() reasons, in order */
	size_t nfailures;
};

struct pull_delivery {
	char *url;
	char timestamp[32]; /* when the pull started, UTC, seconds */
	struct pull_delivery_run *runs;
	size_t nruns, cap;
	size_t nbundles_bad; /* failed verification or download */
	bool have_coverage;
	struct pull_totals coverage;
	bool oom;            /* an allocation failed: the report cannot be trusted */
};

/* Start an empty report for a pull of url. Returns 0 or -1 (allocation). */
int pull_delivery_init(struct pull_delivery *d, const char *url);
void pull_delivery_free(struct pull_delivery *d);

/* Record a verified bundle placed at out_abs/relbase: its files, marker and
 * metadata (read back from the covship-manifest.json placed there). */
void pull_delivery_bundle_ok(struct pull_delivery *d, const char *out_abs, const char *relbase,
			     const struct manifest *m);

/* Record a bundle that failed verification or download; why is one line. */
void pull_delivery_bundle_bad(struct pull_delivery *d, const char *key, const char *why);

/* Add a failure reason (one line, printf) to run run_id (created if new):
 * the hook for checks made after extraction, such as per-process accounting. */
void pull_delivery_fail(struct pull_delivery *d, const char *run_id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The combined coverage, when --combine succeeded (goes into the summary). */
void pull_delivery_set_coverage(struct pull_delivery *d, const struct pull_totals *t);

/* Whether run r passes, and its reasons otherwise: the first nmsg messages
 * written as heap strings into msgs (caller frees). Returns the number of
 * reasons (0: delivered). */
size_t pull_delivery_reasons(const struct pull_delivery_run *r, char **msgs, size_t nmsg);

/* Write the JUnit XML / the JSON summary to path, atomically. Return 0, or
 * -1 with one line in err. */
int pull_delivery_write_junit(const struct pull_delivery *d, const char *path, char *err,
			      size_t errlen);
int pull_delivery_write_summary(const struct pull_delivery *d, const char *path, char *err,
				size_t errlen);

/* Append s to the stream as XML character data or attribute value: &<>"'
 * escaped, tab/newline/CR as character references, other control bytes,
 * invalid UTF-8 and U+FFFE/U+FFFF replaced by '?'. (Exposed for tests.) */
void pull_xml_escape(FILE *f, const char *s);

#endif
