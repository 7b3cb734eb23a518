/* SPDX-License-Identifier: MIT */
/*
 * The delivery pipeline shared by watch and push: plan -> bundle -> deliver
 * -> remove sources -> forget, every step persisted so that a crash at any
 * point resumes without loss or duplication.
 */
#ifndef COVSHIP_SHIP_H
#define COVSHIP_SHIP_H

#include <stdbool.h>

#include "bundle.h"
#include "dest.h"
#include "matcher.h"
#include "metadata.h"
#include "options.h"
#include "origin.h"
#include "pathset.h"
#include "scan.h"
#include "spool.h"

struct shipper {
	const struct options *o;
	int rootfd;
	struct matcher matcher;
	struct scanner scanner;
	struct spool spool;
	struct dest *dest;
	struct metadata md;
	struct bundle_params bp;
	struct pathset shipped; /* --keep-sources: delivered (path, identity) pairs */
	struct pathset unreadable; /* left out of a bundle, could not be read (ship.c) */
	char unreadable_msg[512];  /* the last one's error line, for status.json */
	struct stage *stage;    /* members compressed ahead (watch, marker rule), or NULL */
	bool failed;            /* a delivery failed permanently: health says so */
	char last_error[512];
	struct plan_origin origin; /* --dest and --dir of this run, recorded in its plans */
	bool warned_unbound;       /* logged once: plans of an older covship, no origin */
};

/* Everything checkable at start: the directory, the spool, the destination,
 * the key template, the paths kept apart (overlap.h). Returns 0, or -1
 * after logging one line (exit 2). later: the watcher is coming back from
 * covship-idle, the configuration was accepted then; only the world can
 * have changed (-1: a vanished --dir, a spool gone; the reason is in
 * last_error; the destination is not probed, its troubles are delivery
 * errors). */
int shipper_open(struct shipper *sh, const struct options *o, bool later);
/* Release what shipper_open() opened; also after a failed open, and twice. */
void shipper_close(struct shipper *sh);

/* Compress ahead (stage.h) from now on, starting with the matching files
 * already in the volume and in no plan. Failing to set up is logged, and
 * bundles are then compressed when built, as without it. */
void ship_stage_start(struct shipper *sh);

/* Deliver every plan in the spool, oldest first, up to 64 with one
 * dest_deliver_many (several at once where the destination can); the
 * confirmed ones are finished while the others are in flight, in groups
 * with the single delivery's steps and order (ship.c: finish_group). Stops after
 * the batch holding the first DEST_RETRY (the destination is unwell: no
 * point hammering it); a DEST_FATAL bundle is recorded, the others go on.
 * Plans made for another destination or directory go to their own
 * destination, resolved against their own directory, or stay in the spool
 * (one line naming it): never to ours. They never stop our own plans, and
 * count as DEST_FATAL while one stays. */
enum dest_result ship_pending(struct shipper *sh);

/* Plan a new bundle of `files` (and `marker`, may be NULL) for run_id and
 * deliver it. *planned (may be NULL) tells whether the plan reached the
 * spool: from then on the bundle will be delivered, now or on a retry. */
enum dest_result ship_files(struct shipper *sh, const char *run_id, const cJSON *marker,
			    struct filelist *files, bool *planned);

/* Matching files in the volume that are in no plan and were not delivered. */
int ship_unclaimed(struct shipper *sh, struct filelist *out);

/* Update status.json for `covship health`: state, or "failed" after a
 * permanent failure, or "degraded" ("ok"/"retrying" only) while a file that
 * could not be read is left. */
void ship_status(struct shipper *sh, const char *state);

/* How many files a bundle left out because they could not be read (each
 * logged with the fix) are still in the volume as they were: they are
 * retried in later bundles, and while one is left the watcher is degraded
 * and a drain or a push ends with exit 1. Forgets the others. */
size_t ship_unreadable_left(struct shipper *sh);

/* Is this unclaimed file one that could not be read? */
bool ship_is_unreadable(struct shipper *sh, const struct scan_file *f);

#endif
