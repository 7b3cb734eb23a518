/* SPDX-License-Identifier: MIT */
#include "ship.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "keytemplate.h"
#include "log.h"
#include "runid.h"
#include "stage.h"
#include "timefmt.h"

int shipper_open(struct shipper *sh, const struct options *o)
{
	char err[512];
	struct stat st;

	memset(sh, 0, sizeof(*sh));
	sh->spool.dirfd = sh->spool.lockfd = -1;
	sh->o = o;
	sh->rootfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sh->rootfd < 0) {
		log_error("--dir %s: %s; pass the coverage directory (the shared volume)", o->dir,
			  strerror(errno));
		return -1;
	}
	matcher_init(&sh->matcher, o->format, o->include, o->ninclude, o->exclude, o->nexclude);
	if (keytemplate_check(o->key_template, err, sizeof(err)) < 0) {
		log_error("--key-template: %s", err);
		return -1;
	}
	if (dest_open(o->dest, &o->dest_opts, &sh->dest, err, sizeof(err)) < 0) {
		log_error("--dest: %s", err);
		return -1;
	}
	if (spool_open(&sh->spool, o->spool, err, sizeof(err)) < 0) {
		log_error("--spool: %s", err);
		return -1;
	}
	sh->scanner.rootfd = sh->rootfd;
	sh->scanner.matcher = &sh->matcher;
	if (fstat(sh->spool.dirfd, &st) == 0) {
		sh->scanner.skip_dev = st.st_dev;
		sh->scanner.skip_ino = st.st_ino;
	}
	if (metadata_collect(&sh->md) < 0) {
		log_error("out of memory");
		return -1;
	}
	sh->bp = (struct bundle_params){ sh->rootfd, o->compression, o->level, o->format,
					 sh->md.json };
	return 0;
}

void ship_stage_start(struct shipper *sh)
{
	struct filelist files = { 0 };
	size_t i;
	int e;

	sh->stage = malloc(sizeof(*sh->stage));
	if (!sh->stage) {
		log_warn("stage: out of memory; bundles are compressed when built");
		return;
	}
	e = stage_open(sh->stage, sh->spool.dir, &sh->bp, &sh->matcher);
	if (e < 0) {
		log_warn("stage: cannot prepare %s/stage: %s; bundles are compressed when built",
			 sh->spool.dir, strerror(-e));
		stage_close(sh->stage);
		free(sh->stage);
		sh->stage = NULL;
		return;
	}
	if (ship_unclaimed(sh, &files) == 0)
		for (i = 0; i < files.n; i++)
			stage_want(sh->stage, files.v[i].path);
	filelist_free(&files);
}

void shipper_close(struct shipper *sh)
{
	if (sh->stage) {
		stage_close(sh->stage);
		free(sh->stage);
		sh->stage = NULL;
	}
	dest_close(sh->dest);
	sh->dest = NULL;
	spool_close(&sh->spool);
	metadata_free(&sh->md);
	scanner_free(&sh->scanner);
	pathset_clear(&sh->shipped);
	if (sh->rootfd >= 0)
		close(sh->rootfd);
	sh->rootfd = -1;
}

void ship_status(struct shipper *sh, const char *state)
{
	long pending = spool_pending(&sh->spool);
	int e = spool_status_write(&sh->spool, sh->failed ? "failed" : state,
				   sh->last_error[0] ? sh->last_error : NULL, pending);

	if (e < 0)
		log_warn("spool: cannot write status.json: %s", strerror(-e));
}

/* After DEST_OK: the sources (unless --keep-sources), then the bundle, then
 * the plan. The plan goes last: while it exists a restart knows the
 * bundle's key and that it was delivered. */
static bool same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

	return la == lb && !memcmp(a, b, la);
}

/* Remove the delivered sources (unless --keep-sources), then fsync each
 * directory once: the removals must be durable before the plan goes, or a
 * crash could bring a delivered file back and ship it twice. */
static int remove_sources(struct shipper *sh, const struct plan *p)
{
	size_t i;
	int e;

	for (i = 0; i < p->nfiles; i++) {
		if (sh->o->keep_sources) {
			if (pathset_add(&sh->shipped, p->files[i].path, &p->files[i].id) < 0)
				return -ENOMEM;
			continue;
		}
		e = unlink_if_same(sh->rootfd, p->files[i].path, &p->files[i].id);
		if (e == -ESTALE)
			log_info("kept %s: it changed after it was bundled", p->files[i].path);
		else if (e < 0)
			log_warn("cannot remove delivered %s: %s", p->files[i].path, strerror(-e));
		if (i + 1 == p->nfiles || !same_dir(p->files[i].path, p->files[i + 1].path)) {
			e = fsync_parent(sh->rootfd, p->files[i].path);
			if (e < 0)
				return e;
		}
	}
	return 0;
}

/* After DEST_OK: the sources, then the bundle, then the plan. The plan goes
 * last: while it exists a restart knows the bundle's key and that it was
 * delivered. */
static int clean_up(struct shipper *sh, const struct plan *p, const char *bundle_path)
{
	int e = remove_sources(sh, p);

	if (e < 0)
		return e;
	if (unlink(bundle_path) < 0 && errno != ENOENT)
		return -errno;
	return spool_plan_remove(&sh->spool, p); /* fsyncs the spool for both */
}

static void remember_error(struct shipper *sh, const char *msg)
{
	snprintf(sh->last_error, sizeof(sh->last_error), "%s", msg);
}

/* Make sure the spooled bundle of p exists; its SHA-256 in sha. */
static enum dest_result ensure_bundle(struct shipper *sh, const struct plan *p, const char *path,
				      char sha[65], bool *empty)
{
	char err[512];
	size_t n = 0;
	int e;

	*empty = false;
	if (access(path, F_OK) == 0) {
		e = sha256_file(path, sha);
		if (e == 0)
			return DEST_OK;
		snprintf(err, sizeof(err), "spool: reading %s: %s", p->bundle, strerror(-e));
		remember_error(sh, err);
		log_error("%s; keeping it, retrying later", err);
		return DEST_RETRY;
	}
	e = bundle_build(&sh->bp, sh->spool.dir, p, sh->stage, sha, &n, err, sizeof(err));
	if (e < 0) {
		remember_error(sh, err);
		log_error("%s; sources and spool left intact, retrying later", err);
		return DEST_RETRY;
	}
	*empty = n == 0 && !p->marker;
	return DEST_OK;
}

static enum dest_result ship_plan(struct shipper *sh, struct plan *p)
{
	char path[4096], sha[65], err[512];
	enum dest_result r = DEST_OK;
	bool empty = false;
	int e;

	if (spool_bundle_path(&sh->spool, p, path, sizeof(path)) < 0)
		return DEST_FATAL;
	if (!p->delivered) {
		r = ensure_bundle(sh, p, path, sha, &empty);
		if (r != DEST_OK)
			return r;
		if (empty) {
			log_info("bundle %s: every planned file vanished or changed; dropped",
				 p->bundle);
			p->delivered = true; /* nothing to deliver */
		}
	}
	if (!p->delivered) {
		err[0] = '\0';
		r = dest_deliver(sh->dest, path, p->key, sha, err, sizeof(err));
		if (r != DEST_OK) {
			remember_error(sh, err);
			log_error("delivering %s as %s: %s; kept in the spool%s", p->bundle, p->key,
				  err, r == DEST_RETRY ? ", retrying later" : "");
			if (r == DEST_FATAL)
				sh->failed = true;
			return r;
		}
		log_info("delivered %s (%zu files) as %s", p->bundle, p->nfiles, p->key);
		p->delivered = true;
		e = spool_plan_write(&sh->spool, p);
		if (e < 0) {
			/* Delivered, but we cannot record it: the next attempt re-delivers the
			 * same bytes under the same key, which is harmless. */
			log_warn("spool: cannot record delivery of %s: %s", p->bundle, strerror(-e));
			return DEST_RETRY;
		}
	}
	e = clean_up(sh, p, path);
	if (e < 0) {
		log_warn("spool: clean-up after %s: %s; will finish later", p->bundle, strerror(-e));
		return DEST_RETRY;
	}
	sh->last_error[0] = '\0';
	return DEST_OK;
}

enum dest_result ship_pending(struct shipper *sh)
{
	enum dest_result worst = DEST_OK;
	struct plan *plans;
	size_t n, i;

	if (spool_plan_load_all(&sh->spool, &plans, &n) < 0)
		return DEST_RETRY;
	for (i = 0; i < n; i++) {
		enum dest_result r = ship_plan(sh, &plans[i]);

		if (r == DEST_RETRY) {
			worst = DEST_RETRY;
			break;
		}
		if (r == DEST_FATAL)
			worst = DEST_FATAL;
	}
	spool_plans_free(plans, n);
	return worst;
}

/* Paths held by a plan still in the spool: they must not be planned twice. */
static int claimed_paths(struct shipper *sh, struct pathset *out)
{
	struct plan *plans;
	size_t n, i, k;
	int e = 0;

	if (spool_plan_load_all(&sh->spool, &plans, &n) < 0)
		return -EIO;
	for (i = 0; !e && i < n; i++)
		for (k = 0; !e && k < plans[i].nfiles; k++)
			e = pathset_add(out, plans[i].files[k].path, NULL);
	spool_plans_free(plans, n);
	return e;
}

int ship_unclaimed(struct shipper *sh, struct filelist *out)
{
	struct filelist all = { 0 };
	struct pathset claimed = { 0 };
	size_t i;
	int e;

	e = scan_tree(&sh->scanner, &all);
	if (!e)
		e = claimed_paths(sh, &claimed);
	for (i = 0; !e && i < all.n; i++) {
		if (pathset_contains(&claimed, all.v[i].path, NULL) ||
		    pathset_contains(&sh->shipped, all.v[i].path, &all.v[i].id))
			continue;
		e = filelist_add(out, all.v[i].path, &all.v[i].id);
	}
	pathset_clear(&claimed);
	filelist_free(&all);
	return e;
}

static int make_plan(struct shipper *sh, const char *run_id, const cJSON *marker,
		     const struct filelist *files, struct plan *p, char *err, size_t errlen)
{
	struct timespec now;
	struct tm tm;
	char date[16], key[1024];
	struct key_vars kv;
	size_t i;
	int e;

	memset(p, 0, sizeof(*p));
	memcpy(p->run_id, run_id, RUNID_LEN + 1);
	e = spool_alloc_seq(&sh->spool, run_id, &p->seq);
	if (e < 0) {
		snprintf(err, errlen, "spool: cannot reserve a sequence number: %s", strerror(-e));
		return e;
	}
	snprintf(p->bundle, sizeof(p->bundle), "%s-%06lu%s", run_id, p->seq,
		 bundle_extension(sh->o->compression));
	clock_gettime(CLOCK_REALTIME, &now);
	timefmt_rfc3339(&now, p->created);
	gmtime_r(&now.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	kv = (struct key_vars){ run_id, sh->md.hostname, sh->md.task_id, sh->md.build, date,
				p->seq, p->bundle };
	if (keytemplate_expand(sh->o->key_template, &kv, key, sizeof(key), err, errlen) < 0)
		return -EINVAL;
	p->key = strdup(key);
	p->marker = marker ? cJSON_Duplicate(marker, 1) : NULL;
	p->files = calloc(files->n ? files->n : 1, sizeof(*p->files));
	if (!p->key || !p->files || (marker && !p->marker))
		return -ENOMEM;
	for (i = 0; i < files->n; i++) {
		p->files[i].path = strdup(files->v[i].path);
		if (!p->files[i].path)
			return -ENOMEM;
		p->files[i].len = strlen(p->files[i].path);
		p->files[i].id = files->v[i].id;
		p->nfiles++;
	}
	e = spool_plan_create(&sh->spool, p);
	if (e < 0)
		snprintf(err, errlen, "spool: cannot write the plan of %s: %s", p->bundle,
			 strerror(-e));
	return e;
}

enum dest_result ship_files(struct shipper *sh, const char *run_id, const cJSON *marker,
			    struct filelist *files, bool *planned)
{
	struct stage_proof *proof = NULL;
	char err[512];
	struct plan p;
	enum dest_result r;
	int e;

	if (planned)
		*planned = false;
	if (files->n == 0 && !marker)
		return DEST_OK;
	if (sh->stage) {
		/* the stage log can then become the bundle; the staged files are
		 * re-hashed while the plan is written */
		stage_order(sh->stage, files->v, files->n);
		proof = stage_prove_start(sh->stage, sh->rootfd, files->v, files->n);
	}
	e = make_plan(sh, run_id, marker, files, &p, err, sizeof(err));
	if (sh->stage)
		stage_prove_finish(sh->stage, proof);
	if (e < 0) {
		if (sh->stage)
			stage_forget_proofs(sh->stage);
		remember_error(sh, err);
		log_error("%s; sources left intact, retrying later", err);
		plan_free(&p);
		return DEST_RETRY;
	}
	if (planned)
		*planned = true;
	log_info("planned %s: %zu files%s", p.bundle, p.nfiles, marker ? " + marker" : "");
	r = ship_plan(sh, &p);
	if (sh->stage)
		stage_forget_proofs(sh->stage); /* valid for this bundle only */
	plan_free(&p);
	return r;
}
