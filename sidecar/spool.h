/* SPDX-License-Identifier: MIT */
/*
 * The spool: where bundles wait until the destination confirmed them.
 *
 *   lock                      flock: one covship per spool
 *   spool-id                  this spool's random id, in every bundle name it makes
 *   status.json               last delivery state, read by `covship health`
 *   seq-<run_id>              next sequence number of that run (>= every removed plan's + 1)
 *   <run_id>-<seq>.plan.json  which files go into bundle <seq>, for which
 *                             destination and directory (written first), and
 *                             which of them went in with the bundle's SHA-256
 *                             (rewritten by bundle_build)
 *   <run_id>-<spool_id>-<seq>.tar.gz  the bundle (tmp + fsync + rename);
 *                             <run_id>-<seq>.tar.gz when an older covship planned it
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
#include "origin.h"

/* Length of the spool ids covship makes; ids of SPOOL_ID_MIN..SPOOL_ID_MAX
 * lowercase hex digits are accepted from the spool-id file. */
#define SPOOL_ID_LEN 16
#define SPOOL_ID_MIN 8
#define SPOOL_ID_MAX 32

struct plan_file {
	char *path; /* relative to the coverage directory */
	size_t len;
	struct file_id id;
	bool written;    /* in the bundle: its manifest entry (path, id, sha256) was written */
	char sha256[65]; /* of the bytes written, when written */
	int unread;      /* errno of a failed read (left out; never persisted), else 0 */
};

struct plan {
	char run_id[33];
	unsigned long seq;
	char bundle[96]; /* <run_id>-<spool_id>-<seq>.tar.gz|.tar.zst (older: <run_id>-<seq>...) */
	char *key;       /* expanded --key-template */
	char created[32];
	bool delivered;  /* destination confirmed: only clean-up is left */
	cJSON *marker;   /* done.json of the run, or NULL */
	struct plan_file *files;
	size_t nfiles;
	bool bundled;    /* files[].written is recorded (bundle_build); false: nothing is known
			  * to be in the bundle, so no source may go (ship.c: the deletion rule) */
	struct plan_origin origin; /* destination and directory (unknown: an older covship's plan) */
	char bundle_sha256[65]; /* of the bundle as built ("": not recorded yet) */
};

/* Free what p owns (files, key, marker, origin) and zero it. */
void plan_free(struct plan *p);

struct spool {
	char *dir;
	int dirfd;
	int lockfd;
	char id[SPOOL_ID_MAX + 1]; /* spool-id: makes bundle names unique across spools */
};

/* Create (mkdir -p, 0700) and lock the spool, check it is writable, remove
 * temporaries a crash left, read its id (made, random, when it has none).
 * Returns 0, or -1 with one line in err. */
int spool_open(struct spool *sp, const char *dir, char *err, size_t errlen);
/* spool_open for a spool on the watched volume (the default): refused (-1,
 * err) when its last component is a symlink, or when it is not owned by
 * this uid or is writable by group or others. */
int spool_open_private(struct spool *sp, const char *dir, char *err, size_t errlen);
/* Release the lock and the descriptors. */
void spool_close(struct spool *sp);

/* The next sequence number of run_id: above every plan of the run in the
 * spool and every plan removed (spool_plan_remove persists it). The caller
 * writes its plan before using it. Returns 0 or -errno. */
int spool_alloc_seq(struct spool *sp, const char *run_id, unsigned long *seq);

/* Rewrite p (e.g. delivered): tmp, fsync, rename, fsync of the directory. */
int spool_plan_write(struct spool *sp, const struct plan *p);
/* Path of p's plan file in the spool directory dir. */
int spool_plan_path(const char *dir, const struct plan *p, char *buf, size_t len);
/* A new plan, or (bundle_build) the plan with the written set of a bundle
 * not named yet: written under a temporary name and renamed, with no fsync:
 * bundle_build() fsyncs its data and the spool directory (its name) at
 * once with the bundle's data, before the bundle gets its own name (one
 * wait for the disk less before delivery). Until then nothing depends on
 * it: no bundle, no delivery, no number used; a machine crash that leaves
 * it torn leaves it without a bundle, and spool_plan_load_all() removes
 * it. */
int spool_plan_create(struct spool *sp, const struct plan *p);
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
/* plan_free each of plans[0..n), then the array. */
void spool_plans_free(struct plan *plans, size_t n);

/* Path of the spooled bundle of p. */
int spool_bundle_path(const struct spool *sp, const struct plan *p, char *buf, size_t len);

/* Make the spool's id if it has none yet (spool_open could not, the disk
 * being full). Returns 0 or -errno. */
int spool_ensure_id(struct spool *sp);

/* Whether p's plan file is still in the spool (false once removed). */
bool spool_plan_exists(struct spool *sp, const struct plan *p);

/* How many plans (bundles not yet delivered) the spool holds; -errno. */
long spool_pending(struct spool *sp);

/* Status for `covship health`: state is "ok", "retrying" or "failed". */
int spool_status_write(struct spool *sp, const char *state, const char *last_error, long pending);

#endif
