/* SPDX-License-Identifier: MIT */
/*
 * Where a plan belongs: the destination it was made for and the watched
 * directory its files are relative to. Every plan records its origin
 * (spool.c), so a later covship with another --dest or --dir never sends a
 * bundle to its own destination instead, nor resolves the plan's relative
 * paths (bundling, clean-up) against another directory.
 *
 * A destination is its --dest URL; the settings to reach it (S3 endpoint,
 * region, credentials, CA bundle) are those of the run that delivers, so
 * what an operator fixes between two runs (a secret, an endpoint) applies
 * to the plans waiting too. A directory is its identity (st_dev, st_ino);
 * its absolute path is only where to look for it again.
 */
#ifndef COVSHIP_ORIGIN_H
#define COVSHIP_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dest.h"

struct plan_origin {
	char *dest; /* --dest URL as given; NULL: a plan of a covship that recorded none */
	char *dir;  /* the watched directory, absolute */
	size_t dirlen;
	uint64_t dev, ino; /* the watched directory's identity */
};

/* The origin of plans made now: destination url and the directory dir,
 * open as rootfd. Returns 0, or -1 with one line in err. */
int origin_current(struct plan_origin *out, const char *url, const char *dir, int rootfd,
		   char *err, size_t errlen);
/* Free what o owns and zero it. */
void origin_free(struct plan_origin *o);
/* Deep copy of src (an unknown origin stays unknown). Returns 0 or -ENOMEM. */
int origin_copy(struct plan_origin *dst, const struct plan_origin *src);

/* Whether o was recorded (plans of older versions have no origin). */
bool origin_known(const struct plan_origin *o);
/* Same destination (URL). Both must be known. */
bool origin_same_dest(const struct plan_origin *a, const struct plan_origin *b);
/* Same watched directory (identity, not path). Both must be known. */
bool origin_same_dir(const struct plan_origin *a, const struct plan_origin *b);
/* Total order grouping equal origins together (qsort). */
int origin_cmp(const struct plan_origin *a, const struct plan_origin *b);

/* {"dest","path"|"path_b64","dev","ino"}; NULL on ENOMEM. */
cJSON *origin_to_json(const struct plan_origin *o);
/* Parse origin_to_json's object into o (owned). Returns 0 or -1 (malformed). */
int origin_from_json(const cJSON *j, struct plan_origin *o);

/* Open o's directory, only while it still has the recorded identity.
 * Returns the descriptor or -errno (-ESTALE: another directory has its
 * path now). */
int origin_open_dir(const struct plan_origin *o);
/* Open o's destination with the options of this run. 0, or -1 with err. */
int origin_open_dest(const struct plan_origin *o, const struct dest_options *opts,
		     struct dest **out, char *err, size_t errlen);

#endif
