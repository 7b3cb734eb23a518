/* SPDX-License-Identifier: MIT */
#include "ship.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "keytemplate.h"
#include "log.h"
#include "overlap.h"
#include "runid.h"
#include "stage.h"
#include "timefmt.h"

/* later: what failed is remembered as the reason the watcher waits (cut
 * to fit: the full line was logged as it happened). */
static void open_failed(struct shipper *sh, bool later, const char *what, const char *err)
{
	if (later)
		snprintf(sh->last_error, sizeof(sh->last_error), "%.200s: %.300s", what, err);
}

int shipper_open(struct shipper *sh, const struct options *o, bool later)
{
	struct dest_options dopts = o->dest_opts;
	char err[512];
	struct stat st;

	memset(sh, 0, sizeof(*sh));
	sh->spool.dirfd = sh->spool.lockfd = -1;
	sh->o = o;
	sh->rootfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sh->rootfd < 0 && later) {
		/* not the configuration: it was there when the watcher started */
		snprintf(sh->last_error, sizeof(sh->last_error), "--dir %.200s: %.200s", o->dir,
			 strerror(errno));
		log_error("--dir %s: %s; it was there when the watcher started (removed or "
			  "unmounted?): retrying", o->dir, strerror(errno));
		return -1;
	}
	if (sh->rootfd < 0) {
		log_error("--dir %s: %s; pass the coverage directory (the shared volume)", o->dir,
			  strerror(errno));
		return -1;
	}
	matcher_init(&sh->matcher, o->format, o->include, o->ninclude, o->exclude, o->nexclude);
	if (keytemplate_check(o->key_template, err, sizeof(err)) < 0 ||
	    keytemplate_check_unique(o->key_template, err, sizeof(err)) < 0) {
		log_error("--key-template: %s", err);
		return -1;
	}
	/* later: the destination was probed at start-up; what changed since is
	 * a delivery error (retried), not a reason to stop */
	dopts.skip_probe = later;
	if (dest_open(o->dest, &dopts, &sh->dest, err, sizeof(err)) < 0) {
		open_failed(sh, later, "--dest", err);
		log_error("--dest: %s", err);
		return -1;
	}
	if (origin_current(&sh->origin, o->dest, o->dir, sh->rootfd, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	/* a configuration check: the paths were accepted when the watcher
	 * started, and a vanished one must not make it a configuration error */
	if (!later && overlap_check(o, dest_local_dir(sh->dest), err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	/* the default spool is on the volume, where the app writes too */
	if ((o->spool == o->spool_buf ? spool_open_private : spool_open)(&sh->spool, o->spool, err,
									 sizeof(err)) < 0) {
		open_failed(sh, later, "--spool", err);
		log_error("--spool: %s", err);
		return -1;
	}
	sh->scanner.rootfd = sh->rootfd;
	sh->scanner.matcher = &sh->matcher;
	if (fstat(sh->spool.dirfd, &st) == 0) {
		sh->scanner.skip_dev = st.st_dev;
		sh->scanner.skip_ino = st.st_ino;
	}
	if (metadata_collect(&sh->md, o->build) < 0) {
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
	pathset_clear(&sh->unreadable);
	origin_free(&sh->origin);
	if (sh->rootfd >= 0)
		close(sh->rootfd);
	sh->rootfd = -1;
}

void ship_status(struct shipper *sh, const char *state)
{
	long pending = spool_pending(&sh->spool);
	/* a file that cannot be read needs a human (umask, uid), like a
	 * permanent failure; stopped states are unhealthy anyway */
	bool degraded = !sh->failed && (!strcmp(state, "ok") || !strcmp(state, "retrying")) &&
			ship_unreadable_left(sh) > 0;
	const char *msg = degraded ? sh->unreadable_msg : sh->last_error;
	int e = spool_status_write(&sh->spool, sh->failed ? "failed" : degraded ? "degraded" : state,
				   msg[0] ? msg : NULL, pending);

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

/*
 * THE DELETION RULE (docs/sidecar.md), enforced here and nowhere else: a
 * source file is removed only when its bytes are in a bundle that the
 * destination confirmed. That is: the destination confirmed p's bundle
 * (p->delivered); p records which files that bundle holds (p->bundled:
 * bundle_build rewrote the plan with them, durably, before the bundle had
 * a name, so this holds after a crash and restart too); this file is one
 * of them (files[k].written: its manifest entry, path, identity and
 * SHA-256, was written into the bundle); and the file still has that
 * identity (unlink_if_same). What the plan intended is never enough: a
 * file left out because it vanished, changed or could not be read stays.
 * (An empty plan is "delivered" without a destination: it wrote nothing,
 * so nothing goes.) With --keep-sources nothing is removed: a written file
 * is remembered as delivered instead, so it is not bundled again.
 *
 * Returns 1 removed (or remembered), 0 kept (not in the bundle), -ESTALE
 * kept (it changed after it was bundled), other -errno.
 */
static int remove_if_delivered(struct shipper *sh, const struct plan *p, size_t k)
{
	const struct plan_file *f = &p->files[k];
	int e;

	if (p->delivered && !p->bundled && k == 0)
		log_warn("clean-up of %s: its plan does not say which files went into the bundle "
			 "(written by an older covship); its %zu source(s) are kept and delivered "
			 "again", p->bundle, p->nfiles);
	if (!p->delivered || !p->bundled || !f->written)
		return 0;
	if (sh->o->keep_sources)
		return pathset_add(&sh->shipped, f->path, &f->id) < 0 ? -ENOMEM : 1;
	e = unlink_if_same(sh->rootfd, f->path, &f->id);
	return e < 0 ? e : 1;
}

/* Log what remove_if_delivered() returned for f, when it is worth a line. */
static void note_removal(const char *f, int e)
{
	if (e == -ESTALE)
		log_info("kept %s: it changed after it was bundled", f);
	else if (e < 0)
		log_warn("cannot remove delivered %s: %s", f, strerror(-e));
}

/* How many files p's bundle holds (for the "delivered" line). */
static size_t nwritten(const struct plan *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->nfiles; i++)
		n += p->files[i].written;
	return n;
}

/* Remove the delivered sources (remove_if_delivered), then fsync each
 * directory once: the removals must be durable before the plan goes, or a
 * crash could bring a delivered file back and ship it twice. */
static int remove_sources(struct shipper *sh, const struct plan *p)
{
	size_t i;
	int e;

	for (i = 0; i < p->nfiles; i++) {
		e = remove_if_delivered(sh, p, i);
		if (e == -ENOMEM && sh->o->keep_sources)
			return e;
		note_removal(p->files[i].path, e);
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
	/* status.json keeps one line; a longer message is cut, on purpose */
	snprintf(sh->last_error, sizeof(sh->last_error), "%.*s", (int)sizeof(sh->last_error) - 1,
		 msg);
}

/* lstat relpath below the volume without following a link. 0 or -errno. */
static int stat_source(int rootfd, const char *relpath, struct stat *st)
{
	const char *name;
	int dfd = open_parent(rootfd, relpath, &name), e = 0;

	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		e = -errno;
	close(dfd);
	return e;
}

/* Is the file an item names still there, as it was (same identity)? When
 * it cannot be looked at, it is taken to be. */
static bool still_there(const struct pathset_item *it, void *ctx)
{
	struct file_id now;
	struct stat st;
	int e = stat_source(*(int *)ctx, it->path, &st);

	if (e == -ENOENT || e == -ENOTDIR)
		return false;
	if (e < 0)
		return true;
	file_id_from_stat(&st, &now);
	return S_ISREG(st.st_mode) && file_id_equal(&now, &it->id);
}

/* pathset_filter: keep the items not named ctx. */
static bool other_path(const struct pathset_item *it, void *ctx)
{
	return strcmp(it->path, ctx) != 0;
}

size_t ship_unreadable_left(struct shipper *sh)
{
	if (sh->unreadable.n)
		pathset_filter(&sh->unreadable, still_there, &sh->rootfd);
	return sh->unreadable.n;
}

bool ship_is_unreadable(struct shipper *sh, const struct scan_file *f)
{
	return pathset_contains(&sh->unreadable, f->path, &f->id);
}

/*
 * After p's bundle was built: one error line per file it could not read
 * (files[].unread), naming the file, its mode and owner, the reason and
 * the fix. Such a file stays in the volume (remove_if_delivered: it is not
 * in the bundle), is planned again in a later bundle, and is remembered
 * until it is read or gone, for status.json and the exit status. A file
 * written into a bundle is readable again: forgotten.
 */
static void note_unreadable(struct shipper *sh, const struct plan *p)
{
	char err[512], who[96];
	struct stat st;
	size_t i;

	for (i = 0; i < p->nfiles; i++) {
		const struct plan_file *f = &p->files[i];

		if (f->written && sh->unreadable.n)
			pathset_filter(&sh->unreadable, other_path, f->path);
		if (!f->unread)
			continue;
		if (stat_source(sh->rootfd, f->path, &st) == 0)
			snprintf(who, sizeof(who), "mode %04o, uid %lu, gid %lu",
				 (unsigned)(st.st_mode & 07777), (unsigned long)st.st_uid,
				 (unsigned long)st.st_gid);
		else
			snprintf(who, sizeof(who), "a directory above it cannot be searched");
		if (f->unread == EACCES || f->unread == EPERM)
			snprintf(err, sizeof(err), "the sidecar cannot read %s (%s): %s; run the app "
				 "with umask 022 (or 002 and a shared group) or give the sidecar the "
				 "app's uid/gid; the file stays and is retried", f->path, who,
				 strerror(f->unread));
		else
			snprintf(err, sizeof(err), "the sidecar cannot read %s (%s): %s; check the "
				 "volume; the file stays and is retried", f->path, who,
				 strerror(f->unread));
		log_error("%s", err);
		memcpy(sh->unreadable_msg, err, sizeof(err));
		if (!pathset_contains(&sh->unreadable, f->path, &f->id) &&
		    pathset_add(&sh->unreadable, f->path, &f->id) < 0)
			log_error("out of memory");
	}
}

/* Make sure the spooled bundle of p exists; its SHA-256 in sha: the one
 * recorded when it was built (the destination checks the bytes it sends
 * against it), else, for a plan from before it was recorded, read from the
 * file, or "" when !need_sha (the destination hashes it while sending it:
 * reading it twice would only cost time). */
static enum dest_result ensure_bundle(struct shipper *sh, struct plan *p, const char *path,
				      bool need_sha, char sha[65], bool *empty)
{
	char err[512];
	size_t n = 0;
	int e;

	*empty = false;
	sha[0] = '\0';
	if (access(path, F_OK) == 0) {
		if (p->bundle_sha256[0]) {
			memcpy(sha, p->bundle_sha256, 65);
			return DEST_OK;
		}
		if (!need_sha)
			return DEST_OK;
		e = sha256_file(path, sha);
		if (e == 0)
			return DEST_OK;
		snprintf(err, sizeof(err), "spool: reading %s: %s", p->bundle, strerror(-e));
		remember_error(sh, err);
		log_error("%s; keeping it, retrying later", err);
		return DEST_RETRY;
	}
	e = bundle_build(&sh->bp, &sh->spool, p, sh->stage, sha, &n, err, sizeof(err));
	if (e < 0) {
		remember_error(sh, err);
		log_error("%s; sources and spool left intact, retrying later", err);
		return DEST_RETRY;
	}
	note_unreadable(sh, p);
	*empty = n == 0 && !p->marker;
	return DEST_OK;
}

/* Get p ready for delivery: its bundle in the spool (built when missing),
 * its path and SHA-256. *deliver says whether the destination still has to
 * take it: not when a delivery was recorded before a crash, nor when every
 * planned file vanished (then only the clean-up is left). */
static enum dest_result ship_prepare(struct shipper *sh, struct plan *p, char *path,
				     size_t pathlen, bool need_sha, char sha[65], bool *deliver)
{
	enum dest_result r;
	bool empty = false;

	*deliver = false;
	if (spool_bundle_path(&sh->spool, p, path, pathlen) < 0)
		return DEST_FATAL;
	if (p->delivered)
		return DEST_OK;
	r = ensure_bundle(sh, p, path, need_sha, sha, &empty);
	if (r != DEST_OK)
		return r;
	if (empty) {
		log_info("bundle %s: nothing to send (every planned file vanished, changed or could "
			 "not be read); plan dropped, the files it could not read stay", p->bundle);
		p->delivered = true; /* nothing to deliver, and nothing written to remove */
		return DEST_OK;
	}
	*deliver = true;
	return DEST_OK;
}

/* The destination answered r (err: its line) for p. A failure is logged
 * and remembered; a success is recorded in the plan before anything is
 * removed, so a restart knows the bundle arrived. */
static enum dest_result ship_delivered(struct shipper *sh, struct plan *p, enum dest_result r,
				       const char *err)
{
	int e;

	if (r != DEST_OK) {
		remember_error(sh, err);
		log_error("delivering %s as %s: %s; kept in the spool%s", p->bundle, p->key, err,
			  r == DEST_RETRY ? ", retrying later" : "");
		if (r == DEST_FATAL)
			sh->failed = true;
		return r;
	}
	log_info("delivered %s (%zu files) as %s", p->bundle, nwritten(p), p->key);
	p->delivered = true;
	e = spool_plan_write(&sh->spool, p);
	if (e < 0) {
		/* Delivered, but we cannot record it: the next attempt re-delivers the
		 * same bytes under the same key, which is harmless. */
		log_warn("spool: cannot record delivery of %s: %s", p->bundle, strerror(-e));
		return DEST_RETRY;
	}
	return DEST_OK;
}

/* p is delivered (p->delivered): its sources, bundle and plan go. */
static enum dest_result ship_finish(struct shipper *sh, const struct plan *p, const char *path)
{
	int e = clean_up(sh, p, path);

	if (e < 0) {
		log_warn("spool: clean-up after %s: %s; will finish later", p->bundle, strerror(-e));
		return DEST_RETRY;
	}
	sh->last_error[0] = '\0';
	return DEST_OK;
}

/* The first source of p that no longer has its planned identity (gone,
 * replaced, rewritten, not a regular file), with the reason in *why; NULL
 * when every one still has it. */
static const char *changed_source(struct shipper *sh, const struct plan *p, const char **why)
{
	struct file_id now;
	struct stat st;
	const char *name;
	size_t i;
	int dfd, e;

	for (i = 0; i < p->nfiles; i++) {
		dfd = open_parent(sh->rootfd, p->files[i].path, &name);
		e = dfd < 0 ? dfd : fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
		if (dfd >= 0)
			close(dfd);
		if (e < 0) {
			*why = strerror(-e);
			return p->files[i].path;
		}
		file_id_from_stat(&st, &now);
		if (!S_ISREG(st.st_mode) || !file_id_equal(&now, &p->files[i].id)) {
			*why = "changed since it was planned";
			return p->files[i].path;
		}
	}
	return NULL;
}

/* Build p's bundle again (its file is gone) and deliver it once. A second
 * DEST_CORRUPT in a row is not one bad block: everything is kept, for a
 * later attempt. */
static enum dest_result rebuild_and_deliver(struct shipper *sh, struct plan *p)
{
	char err[512], sha[65], path[4096];
	enum dest_result r;
	bool deliver;

	p->bundle_sha256[0] = '\0';
	r = ship_prepare(sh, p, path, sizeof(path), true, sha, &deliver);
	if (r != DEST_OK)
		return r;
	if (deliver) {
		err[0] = '\0';
		r = dest_deliver(sh->dest, path, p->key, sha, err, sizeof(err));
		if (r == DEST_CORRUPT) {
			snprintf(err, sizeof(err), "bundle %s was damaged again right after it was "
				 "built: check the spool's disk", p->bundle);
			r = DEST_RETRY;
		}
		r = ship_delivered(sh, p, r, err);
		if (r != DEST_OK)
			return r;
	}
	return ship_finish(sh, p, path);
}

/*
 * The destination refused the spooled bundle of p as damaged (DEST_CORRUPT:
 * its bytes do not hash to `sha`, the SHA-256 recorded when it was built;
 * a bad disk, or someone writing in the spool) and stored nothing. It is
 * never delivered as it is. If every source still has its planned identity,
 * the bundle is built again from them and delivered. If not, what the plan
 * held cannot be built again: the bundle fails (one error line, health
 * says failed, push exits 1) and its sources, kept, are released from the
 * plan to go into a new bundle, so nothing still in the volume is lost; a
 * plan holding the run's marker keeps only the marker and is delivered so,
 * else it goes. Returns DEST_OK, DEST_RETRY or DEST_FATAL, never
 * DEST_CORRUPT.
 */
static enum dest_result ship_damaged(struct shipper *sh, struct plan *p, const char *path,
				     const char *sha)
{
	char now[65], err[1024];
	const char *why = NULL, *changed;
	enum dest_result r;
	size_t i;
	int e;

	if (!sha || !sha[0])
		sha = p->bundle_sha256[0] ? p->bundle_sha256 : "unknown";
	/* Not known to be damaged when it cannot be read now, or is right
	 * again (it changed only while it was sent): keep all, try later. */
	e = sha256_file(path, now);
	if (e < 0)
		snprintf(err, sizeof(err), "spool: reading %s: %s", p->bundle, strerror(-e));
	else if (!strcmp(now, sha))
		snprintf(err, sizeof(err), "spool: %s changed while it was sent, and matches its "
			 "SHA-256 again", p->bundle);
	if (e < 0 || !strcmp(now, sha)) {
		remember_error(sh, err);
		log_error("%s; keeping it, retrying later", err);
		return DEST_RETRY;
	}
	changed = changed_source(sh, p, &why);
	if (!changed)
		log_warn("bundle %s in the spool is damaged (SHA-256 %s, built as %s); building it "
			 "again from its %zu sources, which are unchanged", p->bundle, now, sha,
			 p->nfiles);
	/* Never sent as it is: its file goes first (a crash right after it
	 * leaves the plan without a bundle, which is built again). */
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, sizeof(err), "spool: removing the damaged %s: %s", p->bundle,
			 strerror(errno));
		remember_error(sh, err);
		log_error("%s; keeping it, retrying later", err);
		return DEST_RETRY;
	}
	if (!changed)
		return rebuild_and_deliver(sh, p);
	snprintf(err, sizeof(err), "bundle %s in the spool is damaged (SHA-256 %s, built as %s) "
		 "and its sources changed (%s: %s); it is not delivered: its sources still in the "
		 "volume are kept and go into a new bundle", p->bundle, now, sha, changed, why);
	remember_error(sh, err);
	log_error("%s", err);
	sh->failed = true;
	for (i = 0; i < p->nfiles; i++)
		free(p->files[i].path);
	p->nfiles = 0;
	p->bundle_sha256[0] = '\0';
	e = p->marker ? spool_plan_write(&sh->spool, p) : spool_plan_remove(&sh->spool, p);
	if (e < 0) {
		log_warn("spool: cannot release the sources of the damaged %s: %s; will try again",
			 p->bundle, strerror(-e));
		return DEST_RETRY;
	}
	if (p->marker) { /* the run's done.json still goes out, under this key */
		r = rebuild_and_deliver(sh, p);
		if (r == DEST_RETRY)
			return r;
	}
	return DEST_FATAL;
}

static enum dest_result ship_plan(struct shipper *sh, struct plan *p)
{
	char path[4096], sha[65], err[512];
	enum dest_result r;
	bool deliver;

	r = ship_prepare(sh, p, path, sizeof(path), true, sha, &deliver);
	if (r != DEST_OK)
		return r;
	if (deliver) {
		err[0] = '\0';
		r = dest_deliver(sh->dest, path, p->key, sha, err, sizeof(err));
		if (r == DEST_CORRUPT)
			return ship_damaged(sh, p, path, sha);
		r = ship_delivered(sh, p, r, err);
		if (r != DEST_OK)
			return r;
	}
	return ship_finish(sh, p, path);
}

/* RETRY outranks FATAL: it stops the round (the destination is unwell),
 * while a FATAL bundle is only recorded and the others go on. */
static enum dest_result worse(enum dest_result a, enum dest_result b)
{
	if (a == DEST_RETRY || b == DEST_RETRY)
		return DEST_RETRY;
	return a == DEST_FATAL || b == DEST_FATAL ? DEST_FATAL : DEST_OK;
}

/* At most this many plans per dest_deliver_many: bounds the bundles built
 * ahead of their delivery (spool space) and the batch's memory. */
#define SHIP_BATCH 64

struct ship_job {
	struct plan *p;
	enum dest_result prepared; /* ship_prepare's result */
	bool deliver;              /* items[item] is this plan's delivery */
	bool mark;                 /* delivered now: record it before the clean-up */
	size_t item;               /* its dest item, when deliver */
	enum dest_result r;        /* the plan's outcome in this batch */
	char sha[65];
	char *path; /* malloc'ed: 64 buffers of PATH_MAX would cost 256 KiB of RSS */
};

/*
 * Test-only: COVSHIP_TEST_FINISH_KILL=N makes the process SIGKILL itself
 * right after the N-th step of finish_group (counted over the process: a
 * mark, the marks' fsync, a source removed, the sources' fsyncs, a bundle
 * removed, the plans removed), so tests/s3/test_s3_faults.py can crash it
 * between any two steps and check the restart ships nothing twice.
 */
static void crash_point(void)
{
	static long left = -1;
	const char *v;

	if (left == -1) {
		v = getenv("COVSHIP_TEST_FINISH_KILL");
		left = v && *v ? strtol(v, NULL, 10) : 0;
		if (left <= 0)
			left = -2; /* off */
	}
	if (left > 0 && --left == 0)
		(void)kill(getpid(), SIGKILL); /* does not return when it succeeds */
}

/*
 * Finishing a group of delivered plans at once: each step of the single
 * delivery (ship_delivered, then clean_up) is taken for every plan of the
 * group, and made durable once for the group, before the next step starts:
 *
 *   1. the "delivered" marks (each plan's data fsynced, renamed), then one
 *      fsync of the spool directory;
 *   2. the sources removed, then one fsync per distinct directory;
 *   3. the bundles and, after every run's seq file is above the group's
 *      numbers, the plans unlinked, then one fsync of the spool directory.
 *
 * Why this is as safe as finishing one plan after the other: a plan's
 * recovery after a crash depends on its own files only (its plan, bundle
 * and sources; no file is in two plans) and on the seq file, which only
 * ever rises and is raised before any plan of the group goes. For every
 * single plan the order of its own steps, and the durability of each
 * before the next begins, is exactly that of ship_plan: a source is
 * unlinked only after the mark of its plan is on disk, a plan is unlinked
 * only after its sources' removals are on disk. Grouping only delays a
 * plan's steps until the others of the group have reached them too, which
 * is a state a crash could have caught anyway. A plan that fails a step
 * leaves the group there (DEST_RETRY, "will finish later"), in a state the
 * single delivery also passes through.
 */
static void finish_group(struct shipper *sh, struct ship_job **g, size_t n)
{
	struct plan **plans = calloc(n ? n : 1, sizeof(*plans));
	const char **dirs = NULL; /* a file in each directory to fsync */
	size_t i, k, m = 0, ndirs = 0, nmarked = 0;
	int e = 0;

	if (!plans) {
		for (i = 0; i < n; i++)
			g[i]->r = DEST_RETRY;
		log_warn("spool: out of memory cleaning up; will finish later");
		return;
	}
	for (i = 0; i < n; i++) {
		g[i]->r = DEST_OK;
		if (!g[i]->mark)
			continue;
		g[i]->p->delivered = true;
		e = spool_plan_mark(&sh->spool, g[i]->p);
		if (e < 0) {
			/* Delivered, but we cannot record it: the next attempt re-delivers
			 * the same bytes under the same key, which is harmless. */
			log_warn("spool: cannot record delivery of %s: %s", g[i]->p->bundle,
				 strerror(-e));
			g[i]->r = DEST_RETRY;
		}
		nmarked++;
		crash_point();
	}
	e = nmarked ? fsync_dir(sh->spool.dir) : 0;
	if (nmarked)
		crash_point();
	for (i = 0; i < n; i++) {
		const struct plan *p = g[i]->p;

		if (g[i]->r != DEST_OK)
			continue;
		if (e < 0 && g[i]->mark) { /* the marks are not known to be on disk */
			log_warn("spool: cannot record delivery of %s: %s", p->bundle, strerror(-e));
			g[i]->r = DEST_RETRY;
			continue;
		}
		for (k = 0; k < p->nfiles; k++) {
			const char *f = p->files[k].path;
			size_t d;
			int u;

			u = remove_if_delivered(sh, p, k);
			if (sh->o->keep_sources) {
				if (u == -ENOMEM) {
					log_warn("spool: clean-up after %s: %s; will finish later",
						 p->bundle, strerror(ENOMEM));
					g[i]->r = DEST_RETRY;
					break;
				}
				continue;
			}
			note_removal(f, u);
			crash_point();
			for (d = 0; d < ndirs && !same_dir(dirs[d], f); d++)
				;
			if (d == ndirs) {
				const char **nd = realloc(dirs, (ndirs + 1) * sizeof(*dirs));

				if (!nd) {
					log_warn("spool: clean-up after %s: %s; will finish later",
						 p->bundle, strerror(ENOMEM));
					g[i]->r = DEST_RETRY;
					break;
				}
				dirs = nd;
				dirs[ndirs++] = f;
			}
		}
	}
	/* The removals durable before any plan goes, or a crash could bring a
	 * delivered file back and ship it twice. */
	for (e = 0, i = 0; !e && i < ndirs; i++)
		e = fsync_parent(sh->rootfd, dirs[i]);
	if (ndirs)
		crash_point();
	for (i = 0; i < n; i++) {
		if (g[i]->r != DEST_OK)
			continue;
		if (e < 0) {
			log_warn("spool: clean-up after %s: %s; will finish later", g[i]->p->bundle,
				 strerror(-e));
			g[i]->r = DEST_RETRY;
			continue;
		}
		if (unlink(g[i]->path) < 0 && errno != ENOENT) {
			log_warn("spool: clean-up after %s: %s; will finish later", g[i]->p->bundle,
				 strerror(errno));
			g[i]->r = DEST_RETRY;
			continue;
		}
		plans[m++] = g[i]->p;
		crash_point();
	}
	e = spool_plans_remove(&sh->spool, plans, m); /* fsyncs the spool for both */
	if (m)
		crash_point();
	for (i = 0; e < 0 && i < n; i++) {
		if (g[i]->r != DEST_OK)
			continue;
		log_warn("spool: clean-up after %s: %s; will finish later", g[i]->p->bundle,
			 strerror(-e));
		g[i]->r = DEST_RETRY;
	}
	free(plans);
	free(dirs);
}

/*
 * The clean-up of a batch runs on a thread of its own while the batch is
 * still being delivered: each plan is handed over as soon as the
 * destination confirmed its bundle, and the finisher takes whatever
 * accumulated meanwhile as one group (finish_group: a few fsyncs per group
 * instead of six per plan). The network loop never waits for the disk,
 * and the disk never waits for the slowest upload.
 *
 * Sharing: the delivering (calling) thread touches only the queue, under
 * the lock, and the jobs before they are queued; the finisher owns the
 * spool, the sources and sh->shipped until it is joined. last_error and
 * failed are set by the calling thread after the join.
 */
struct finisher {
	struct shipper *sh;
	struct ship_job *jobs;
	struct dest_item *items;
	size_t *item_job;      /* dest item -> index in jobs */
	struct ship_job **queue, **group;
	size_t nqueue;
	bool closing, threaded;
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

/* Take what is queued (under the lock when threaded); returns how many. */
static size_t take_queue(struct finisher *f)
{
	size_t n = f->nqueue;

	memcpy(f->group, f->queue, n * sizeof(*f->queue));
	f->nqueue = 0;
	return n;
}

/* The lock and condition are default ones, initialised statically and never
 * taken twice by one thread: their calls cannot fail, hence (void). */
static void *finisher_main(void *arg)
{
	struct finisher *f = arg;
	sigset_t all;
	size_t n;

	/* Signals stay with the delivering thread (watch's signalfd, EINTR in
	 * its poll), as before there was a second one. Cannot fail: SIG_BLOCK
	 * and a full set are valid. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, NULL);
	(void)pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->nqueue && !f->closing)
			(void)pthread_cond_wait(&f->wake, &f->lock);
		if (!f->nqueue)
			break; /* closing, and nothing left */
		n = take_queue(f);
		(void)pthread_mutex_unlock(&f->lock);
		finish_group(f->sh, f->group, n);
		(void)pthread_mutex_lock(&f->lock);
	}
	(void)pthread_mutex_unlock(&f->lock);
	return NULL;
}

static void finisher_queue(struct finisher *f, struct ship_job *j)
{
	if (!f->threaded) {
		f->queue[f->nqueue++] = j; /* finished after the delivery */
		return;
	}
	(void)pthread_mutex_lock(&f->lock);
	f->queue[f->nqueue++] = j;
	(void)pthread_cond_signal(&f->wake);
	(void)pthread_mutex_unlock(&f->lock);
}

/* dest_deliver_many's hook (calling thread): item i has its result. A
 * confirmed bundle goes to the finisher at once; a failure is logged here
 * and remembered after the batch. */
static void ship_item_done(void *ctx, size_t i)
{
	struct finisher *f = ctx;
	const struct dest_item *it = &f->items[i];
	struct ship_job *j = &f->jobs[f->item_job[i]];

	j->r = it->result;
	if (it->result == DEST_CORRUPT)
		return; /* after the batch: ship_damaged */
	if (it->result != DEST_OK) {
		log_error("delivering %s as %s: %s; kept in the spool%s", j->p->bundle, j->p->key,
			  it->err, it->result == DEST_RETRY ? ", retrying later" : "");
		return;
	}
	log_info("delivered %s (%zu files) as %s", j->p->bundle, nwritten(j->p), j->p->key);
	j->mark = true;
	finisher_queue(f, j);
}

/* One batch of plans[0..n), n <= SHIP_BATCH: every bundle ready, those to
 * deliver in one dest_deliver_many, each confirmed one finished (see
 * finish_group) while the others are still in flight. *used: how many
 * plans the batch dealt with; it ends early at a plan whose bundle could
 * not be made ready (DEST_RETRY), which the caller may try again in the
 * next batch. */
static enum dest_result ship_batch(struct shipper *sh, struct plan *plans, size_t n,
				   size_t *used)
{
	struct finisher f = { .sh = sh, .lock = PTHREAD_MUTEX_INITIALIZER,
			      .wake = PTHREAD_COND_INITIALIZER };
	struct dest_many_hook hook = { ship_item_done, &f };
	enum dest_result worst = DEST_OK;
	size_t i, ready, nitems = 0;
	bool sha_optional = sh->dest->ops->deliver_many && sh->dest->ops->many_hashes;
	pthread_t thread;

	*used = 0;
	f.jobs = calloc(n, sizeof(*f.jobs));
	f.items = calloc(n, sizeof(*f.items));
	f.item_job = calloc(n, sizeof(*f.item_job));
	f.queue = calloc(n, sizeof(*f.queue));
	f.group = calloc(n, sizeof(*f.group));
	if (!f.jobs || !f.items || !f.item_job || !f.queue || !f.group) {
		log_error("out of memory delivering the spool; retrying later");
		worst = DEST_RETRY;
		goto out;
	}
	for (ready = 0; ready < n; ready++) {
		struct ship_job *j = &f.jobs[ready];
		char path[4096];

		j->p = &plans[ready];
		j->prepared = ship_prepare(sh, j->p, path, sizeof(path), !sha_optional, j->sha,
					   &j->deliver);
		if (j->prepared == DEST_OK && !(j->path = strdup(path))) {
			log_error("out of memory delivering the spool; retrying later");
			j->prepared = DEST_RETRY;
		}
		j->r = j->prepared;
		if (j->prepared == DEST_RETRY)
			break; /* as the one-by-one loop: stop at it, but ship those before */
		if (j->prepared == DEST_OK && j->deliver) {
			f.items[nitems] = (struct dest_item){ .path = j->path, .key = j->p->key,
							      .sha256_hex = j->sha[0] ? j->sha : NULL };
			j->r = DEST_RETRY; /* until the hook tells otherwise */
			j->item = nitems;
			f.item_job[nitems++] = ready;
		}
	}
	*used = ready;
	if (ready < n && ready == 0)
		worst = DEST_RETRY; /* nothing before it: the plan's own failure stops the round */
	/* Without a thread, the same groups are finished after the delivery. */
	f.threaded = pthread_create(&thread, NULL, finisher_main, &f) == 0;
	for (i = 0; i < ready; i++) /* delivered before a crash, or nothing to deliver */
		if (f.jobs[i].prepared == DEST_OK && !f.jobs[i].deliver)
			finisher_queue(&f, &f.jobs[i]);
	/* Every confirmed delivery is recorded and cleaned up, even after another
	 * item of the batch failed: its bytes are at the destination already. */
	if (nitems)
		dest_deliver_many(sh->dest, f.items, nitems, 0, &hook);
	if (f.threaded) {
		(void)pthread_mutex_lock(&f.lock);
		f.closing = true;
		(void)pthread_cond_signal(&f.wake);
		(void)pthread_mutex_unlock(&f.lock);
		(void)pthread_join(thread, NULL); /* cannot fail: joinable, not ourselves */
	} else {
		finish_group(sh, f.group, take_queue(&f));
	}
	for (i = 0; i < ready; i++) {
		struct ship_job *j = &f.jobs[i];

		if (j->r == DEST_CORRUPT) { /* rebuilt and sent, or failed; it says which */
			j->r = ship_damaged(sh, j->p, j->path, j->sha);
			worst = worse(worst, j->r);
			continue;
		}
		if (j->r == DEST_OK)
			sh->last_error[0] = '\0';
		else if (j->deliver && !j->mark) /* the destination's failure */
			remember_error(sh, f.items[j->item].err);
		if (j->deliver && !j->mark && j->r == DEST_FATAL)
			sh->failed = true;
		worst = worse(worst, j->r);
	}
out:
	for (i = 0; f.jobs && i < n; i++)
		free(f.jobs[i].path);
	free(f.jobs);
	free(f.items);
	free(f.item_job);
	free(f.queue);
	free(f.group);
	return worst;
}

/* Deliver plans[0..n) in batches, as described at ship_pending. */
static enum dest_result ship_plans(struct shipper *sh, struct plan *plans, size_t n)
{
	enum dest_result worst = DEST_OK;
	size_t i, used;

	/* A plan whose bundle could not be made ready ends its batch and starts
	 * the next one: when the batch's own bundles filled the spool, they are
	 * gone by then. Failing again as the first of a batch ends the round. */
	for (i = 0; i < n && worst != DEST_RETRY; i += used) {
		size_t m = n - i < SHIP_BATCH ? n - i : SHIP_BATCH;

		worst = worse(worst, ship_batch(sh, plans + i, m, &used));
	}
	return worst;
}

/*
 * Whether p is this run's to deliver: made for our destination from our
 * directory. A plan written by a covship that recorded no origin is
 * delivered here too, as that version did: it was made for the --dest and
 * --dir of its own run, and the usual case is the same sidecar (same
 * destination, same volume) started again after an upgrade. Stranding such
 * plans would lose their bundles when the spool goes; sending them
 * elsewhere is the very mistake binding prevents from now on, so it is
 * allowed only for these, once, with a warning naming the destination.
 */
static bool plan_is_ours(struct shipper *sh, const struct plan *p)
{
	if (origin_known(&p->origin))
		return origin_same_dest(&p->origin, &sh->origin) &&
		       origin_same_dir(&p->origin, &sh->origin);
	if (!sh->warned_unbound) {
		log_warn("spool: %s was planned by an older covship that did not record its "
			 "destination; delivering it (and any other such plan) to %s, as that "
			 "version did", p->bundle, sh->o->dest);
		sh->warned_unbound = true;
	}
	return true;
}

/* Whether p's relative paths name files of our --dir (claimed_paths). */
static bool plan_in_our_dir(const struct shipper *sh, const struct plan *p)
{
	return !origin_known(&p->origin) || origin_same_dir(&p->origin, &sh->origin);
}

static int plan_origin_cmp(const void *a, const void *b)
{
	const struct plan *x = a, *y = b;
	int c = origin_cmp(&x->origin, &y->origin);

	if (c)
		return c;
	c = strcmp(x->created, y->created); /* oldest first within an origin */
	if (c)
		return c;
	c = strcmp(x->run_id, y->run_id);
	return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Reorder plans[0..n): ours first (their order kept), then the others
 * grouped by origin. Returns how many are ours, or -1 out of memory. */
static long split_ours(struct shipper *sh, struct plan *plans, size_t n)
{
	struct plan *tmp;
	size_t i, k = 0, f = n;

	if (n == 0)
		return 0; /* plans may be NULL: no memcpy or qsort of it */
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -1;
	for (i = 0; i < n; i++) /* the others fill tmp from the end, reversed... */
		if (plan_is_ours(sh, &plans[i]))
			tmp[k++] = plans[i];
		else
			tmp[--f] = plans[i];
	memcpy(plans, tmp, n * sizeof(*tmp));
	free(tmp);
	/* ...and are sorted: grouped by origin, oldest first */
	qsort(plans + k, n - k, sizeof(*plans), plan_origin_cmp);
	return (long)k;
}

/* This run's directory, destination and stage, or a plan origin's: what
 * ship_batch and finish_group use through sh. */
struct ship_place {
	int rootfd;
	struct dest *dest;
	struct stage *stage;
};

static struct ship_place ship_place_swap(struct shipper *sh, struct ship_place to)
{
	struct ship_place was = { sh->rootfd, sh->dest, sh->stage };

	sh->rootfd = sh->bp.rootfd = to.rootfd;
	sh->dest = to.dest;
	sh->stage = to.stage;
	return was;
}

/* How many of plans[0..n) are still in the spool. */
static size_t still_spooled(struct shipper *sh, const struct plan *plans, size_t n)
{
	size_t i, left = 0;

	for (i = 0; i < n; i++)
		left += spool_plan_exists(&sh->spool, &plans[i]);
	return left;
}

/*
 * plans[0..n), one origin that is not ours: delivered to their own
 * destination (opened with this run's S3/file options), their sources
 * resolved only against their own directory, and only while it has the
 * recorded identity (else a bundle would be built from, or clean-up would
 * unlink, another directory's files). Never our stage (it holds our
 * directory's files). What cannot go stays, with one line naming where it
 * waits for. DEST_OK, or DEST_FATAL while any stays. (--keep-sources: the
 * files delivered join sh->shipped by relative path and identity; one of
 * ours matches only if inode, size and mtime all coincide too.)
 */
static enum dest_result ship_elsewhere(struct shipper *sh, struct plan *plans, size_t n)
{
	const struct plan_origin *org = &plans[0].origin;
	bool our_dir = origin_same_dir(org, &sh->origin);
	int fd = our_dir ? sh->rootfd : origin_open_dir(org);
	struct dest *d = NULL;
	char why[512] = "";
	size_t left;

	if (fd == -ESTALE)
		snprintf(why, sizeof(why), "their directory was replaced: another one, of "
			 "another identity, has its path now");
	else if (fd < 0)
		snprintf(why, sizeof(why), "their directory, of the identity recorded, cannot be "
			 "opened: %s", strerror(-fd));
	else if (origin_same_dest(org, &sh->origin))
		d = sh->dest;
	else if (origin_open_dest(org, &sh->o->dest_opts, &d, why, sizeof(why)) < 0)
		d = NULL;
	if (fd >= 0 && d) {
		struct ship_place was = ship_place_swap(sh, (struct ship_place){ fd, d, NULL });

		if (ship_plans(sh, plans, n) != DEST_OK)
			snprintf(why, sizeof(why), "%s", sh->last_error[0] ? sh->last_error :
				 "not delivered");
		(void)ship_place_swap(sh, was);
	}
	if (d && d != sh->dest)
		dest_close(d);
	if (fd >= 0 && !our_dir)
		close(fd);
	left = still_spooled(sh, plans, n);
	if (!left)
		return DEST_OK;
	log_error("%zu bundle(s) planned from %s wait in the spool for their own destination "
		  "%s (%s); never sent to %s", left, org->dir, org->dest,
		  why[0] ? why : "not delivered", sh->o->dest);
	snprintf(why, sizeof(why), "bundle(s) waiting for %s", org->dest);
	remember_error(sh, why);
	return DEST_FATAL;
}

enum dest_result ship_pending(struct shipper *sh)
{
	enum dest_result worst, others = DEST_OK;
	struct plan *plans;
	size_t n, i, j;
	long ours;

	if (spool_plan_load_all(&sh->spool, &plans, &n) < 0)
		return DEST_RETRY;
	ours = split_ours(sh, plans, n);
	if (ours < 0) {
		log_error("out of memory delivering the spool; retrying later");
		spool_plans_free(plans, n);
		return DEST_RETRY;
	}
	worst = ship_plans(sh, plans, (size_t)ours);
	/* Another origin's trouble never holds ours back: at most DEST_FATAL
	 * (a DEST_RETRY would stop our own round and push's new bundle). */
	for (i = (size_t)ours; i < n; i = j) {
		for (j = i + 1; j < n && !origin_cmp(&plans[i].origin, &plans[j].origin); j++)
			;
		others = worse(others, ship_elsewhere(sh, plans + i, j - i));
	}
	spool_plans_free(plans, n);
	return worse(worst, others);
}

/* Paths held by a plan still in the spool: they must not be planned twice. */
static int claimed_paths(struct shipper *sh, struct pathset *out)
{
	struct plan *plans;
	size_t n, i, k;
	int e = 0;

	if (spool_plan_load_all(&sh->spool, &plans, &n) < 0)
		return -EIO;
	for (i = 0; !e && i < n; i++) {
		if (!plan_in_our_dir(sh, &plans[i]))
			continue; /* its paths name files of another directory */
		for (k = 0; !e && k < plans[i].nfiles; k++)
			e = pathset_add(out, plans[i].files[k].path, NULL);
	}
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
	e = spool_ensure_id(&sh->spool); /* none yet only when the spool was full at start */
	if (e < 0) {
		snprintf(err, errlen, "spool: cannot make the spool's id: %s", strerror(-e));
		return e;
	}
	e = spool_alloc_seq(&sh->spool, run_id, &p->seq);
	if (e < 0) {
		snprintf(err, errlen, "spool: cannot reserve a sequence number: %s", strerror(-e));
		return e;
	}
	/* the spool's id keeps the name apart from other spools' same run and seq */
	snprintf(p->bundle, sizeof(p->bundle), "%s-%s-%06lu%s", run_id, sh->spool.id, p->seq,
		 tw_extension(sh->o->compression));
	clock_gettime(CLOCK_REALTIME, &now);
	timefmt_rfc3339(&now, p->created);
	gmtime_r(&now.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	kv = (struct key_vars){ run_id, sh->md.hostname, sh->md.task_id, sh->md.build, date,
				p->seq, p->bundle, sh->spool.id };
	if (keytemplate_expand(sh->o->key_template, &kv, key, sizeof(key), err, errlen) < 0)
		return -EINVAL;
	p->key = strdup(key);
	p->marker = marker ? cJSON_Duplicate(marker, 1) : NULL;
	p->files = calloc(files->n ? files->n : 1, sizeof(*p->files));
	if (!p->key || !p->files || (marker && !p->marker) ||
	    origin_copy(&p->origin, &sh->origin) < 0)
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
		 * re-hashed while the plan and the bundle are written (bundle.c
		 * waits for it before the bundle gets its name) */
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
