/* SPDX-License-Identifier: MIT */
/*
 * The spool: where bundles wait until the destination confirmed them.
 *
 *   lock                      flock: one covship per spool
 *   status.json               last delivery state, read by `covship health`
 *   seq-<run_id>              next sequence number of that run (>= every removed plan's + 1)
 *   <run_id>-<seq>.plan.json  which files go into bundle <seq> (written first;
 *                             the bundle's SHA-256 added once it is written)
 *   <run_id>-<seq>.tar.gz     the bundle (tmp + fsync + rename)
 *   stage/                    members compressed ahead (stage.h), a cache
 *
 * A plan is durable before its bundle has a name, so a restart after a
 * crash rebuilds the bundle from the same files under the same name, or
 * delivers the bundle already spooled: the same key gets the same content,
 * and no file is ever put into two sequence numbers.
 */
#ifndef COVSHIP_SPOOL_H
#define COVSHIP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fsutil.h"

struct plan_file {
	char *path; /* relative to the coverage directory */
	size_t len;
	struct file_id id;
};

struct plan {
	char run_id[33];
	unsigned long seq;
	char bundle[80]; /* <run_id>-<seq>.tar.gz|.tar.zst */
	char *key;       /* expanded --key-template */
	char created[32];
	bool delivered;  /* destination confirmed: only clean-up is left */
	cJSON *marker;   /* done.json of the run, or NULL */
	struct plan_file *files;
	size_t nfiles;
	char bundle_sha256[65]; /* of the bundle as built ("": not recorded yet) */
};

void plan_free(struct plan *p);

struct spool {
	char *dir;
	int dirfd;
	int lockfd;
};

/* Create (mkdir -p, 0700) and lock the spool, check it is writable, remove
 * temporaries a crash left. Returns 0, or -1 with one line in err. */
int spool_open(struct spool *sp, const char *dir, char *err, size_t errlen);
void spool_close(struct spool *sp);

/* The next sequence number of run_id: above every plan of the run in the
 * spool and every plan removed (spool_plan_remove persists it). The caller
 * writes its plan before using it. Returns 0 or -errno. */
int spool_alloc_seq(struct spool *sp, const char *run_id, unsigned long *seq);

/* Rewrite p (e.g. delivered): tmp, fsync, rename, fsync of the directory. */
int spool_plan_write(struct spool *sp, const struct plan *p);
/* Path of p's plan file in the spool directory dir. */
int spool_plan_path(const char *dir, const struct plan *p, char *buf, size_t len);
/* A new plan: written under a temporary name and renamed, with no fsync:
 * bundle_build() fsyncs its data and the spool directory (its name) at
 * once with the bundle's data, before the bundle gets its own name (one
 * wait for the disk less before delivery). Until then nothing depends on
 * it: no bundle, no delivery, no number used; a machine crash that leaves
 * it torn leaves it without a bundle, and spool_plan_load_all() removes
 * it. */
int spool_plan_create(struct spool *sp, const struct plan *p);
/* Rewrite p's plan in the spool directory dir with sha256, the SHA-256 of
 * the bundle just written, unsynced: bundle_build() calls it before the
 * one fsync of the plan's data, the spool directory and the bundle's data,
 * so a spooled bundle is checked against what was built when it is sent
 * (a damaged one is never delivered). Returns 0 or -errno. */
int spool_plan_record_sha(const char *dir, const struct plan *p, const char sha256[65]);
/* Persist the run's next sequence number above p's, then remove the plan
 * (durably). */
int spool_plan_remove(struct spool *sp, const struct plan *p);
/* For a group of plans finished together (ship.c): spool_plan_write
 * without the fsync of the directory (p's data is fsynced before its
 * rename); the caller fsyncs the spool directory once for the group. */
int spool_plan_mark(struct spool *sp, const struct plan *p);
/* spool_plan_remove for p[0..n) with one fsync of the directory: each
 * run's seq file above its largest seq first, then the plans unlinked. */
int spool_plans_remove(struct spool *sp, struct plan *const *p, size_t n);
/* Every plan in the spool, oldest first. Unreadable plans are logged and
 * left in place (they count as "left in the spool"), except a torn one
 * without a bundle (a crash cut its creation short), which is removed. */
int spool_plan_load_all(struct spool *sp, struct plan **plans, size_t *n);
void spool_plans_free(struct plan *plans, size_t n);

/* Path of the spooled bundle of p. */
int spool_bundle_path(const struct spool *sp, const struct plan *p, char *buf, size_t len);

/* How many plans (bundles not yet delivered) the spool holds; -errno. */
long spool_pending(struct spool *sp);

/* Status for `covship health`: state is "ok", "retrying" or "failed". */
int spool_status_write(struct spool *sp, const char *state, const char *last_error, long pending);

#endif
