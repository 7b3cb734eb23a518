/* SPDX-License-Identifier: MIT */
/*
 * The spool: where bundles wait until the destination confirmed them.
 *
 *   lock                      flock: one covship per spool
 *   status.json               last delivery state, read by `covship health`
 *   seq-<run_id>              next sequence number of that run (>= every removed plan's + 1)
 *   <run_id>-<seq>.plan.json  which files go into bundle <seq> (written first)
 *   <run_id>-<seq>.tar.gz     the bundle (tmp + fsync + rename)
 *   stage/                    members compressed ahead (stage.h), a cache
 *
 * A plan is written (atomically) before its bundle, so a restart after a
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

int spool_plan_write(struct spool *sp, const struct plan *p);
/* A new plan: written and fsynced under a temporary name, renamed, but its
 * name is made durable only by the next fsync of the spool directory, which
 * bundle_build() does before the bundle gets its own name (together with
 * the bundle's data fsync: one journal commit less before delivery). Until
 * then nothing depends on it: no bundle, no delivery, no number used. */
int spool_plan_create(struct spool *sp, const struct plan *p);
/* Persist the run's next sequence number above p's, then remove the plan
 * (durably). */
int spool_plan_remove(struct spool *sp, const struct plan *p);
/* Every plan in the spool, oldest first. Unreadable plans are logged and
 * left in place (they count as "left in the spool"). */
int spool_plan_load_all(struct spool *sp, struct plan **plans, size_t *n);
void spool_plans_free(struct plan *plans, size_t n);

/* Path of the spooled bundle of p. */
int spool_bundle_path(const struct spool *sp, const struct plan *p, char *buf, size_t len);

/* How many plans (bundles not yet delivered) the spool holds; -errno. */
long spool_pending(struct spool *sp);

/* Status for `covship health`: state is "ok", "retrying" or "failed". */
int spool_status_write(struct spool *sp, const char *state, const char *last_error, long pending);

#endif
