/* SPDX-License-Identifier: MIT */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "atomic_file.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "stage.h"
#include "tarwriter.h"

struct builder {
	struct archive *a;
	struct tw_sink sink;
	struct manifest_file *done; /* what went in, for the manifest */
	size_t ndone;
	unsigned char *buf;
	char *err;
	size_t errlen;
};

static int arch_fail(struct builder *b, const char *what)
{
	return tw_fail(b->a, &b->sink, what, b->err, b->errlen);
}

/* The last member: pax + compression, as a bundle without a stage is whole. */
static int setup_archive_last(struct builder *b, const struct bundle_params *bp)
{
	return tw_open(&b->a, bp, false, &b->sink, b->err, b->errlen);
}

/* pf's entry (data, sha256 in b->done[b->ndone]) is in the bundle: it goes
 * into the manifest and into the plan's written set, the one list the
 * clean-up may remove sources from (ship.c: remove_if_delivered). */
static void note_done(struct builder *b, struct plan_file *pf, uint64_t size)
{
	struct manifest_file *mf = &b->done[b->ndone++];

	mf->path = pf->path;
	mf->path_len = pf->len;
	mf->size = size;
	pf->written = true;
	memcpy(pf->sha256, mf->sha256, sizeof(pf->sha256));
}

/* A planned file open_regular() refused with -fd that is neither gone nor
 * changed: it cannot be read (EACCES, EPERM, EIO, ...). It is left out of
 * the bundle, so it is never removed, and ship.c logs it once (the fix
 * depends on who may read it) and retries it in a later bundle. */
static bool unreadable(int fd)
{
	return fd != -ENOENT && fd != -ENOTDIR && fd != -ELOOP && fd != -EINVAL &&
	       fd != -EMFILE && fd != -ENFILE && fd != -ENOMEM;
}

/* 1 = added, 0 = skipped (logged, or pf->unread for ship.c to log), <0 = the
 * bundle failed */
static int add_file(struct builder *b, int rootfd, struct plan_file *pf)
{
	struct manifest_file *mf = &b->done[b->ndone];
	struct archive_entry *entry;
	struct file_id now;
	struct stat st;
	int fd, e, r;

	fd = open_regular(rootfd, pf->path, &st);
	if (fd < 0 && unreadable(fd)) {
		pf->unread = -fd;
		return 0;
	}
	if (fd < 0) {
		log_warn("bundle: leaving out %s: %s", pf->path,
			 (fd == -ENOENT || fd == -ENOTDIR) ? "it vanished" :
			 (fd == -ELOOP || fd == -EINVAL) ? "no longer a regular file" :
							   strerror(-fd));
		return fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ? fd : 0;
	}
	file_id_from_stat(&st, &now);
	if (!file_id_equal(&now, &pf->id)) {
		log_info("bundle: leaving out %s: it changed since it was planned; it will go "
			 "into a later bundle", pf->path);
		close(fd);
		return 0;
	}
	entry = tw_regular_entry(pf->path, now.size, st.st_mtim.tv_sec);
	if (!entry) {
		close(fd);
		return -ENOMEM;
	}
	/* ARCHIVE_WARN: a name that is not text in the locale; pax then stores
	 * its raw bytes (hdrcharset=BINARY), which is what we want. */
	r = archive_write_header(b->a, entry);
	e = (r != ARCHIVE_OK && r != ARCHIVE_WARN) || b->sink.err ? arch_fail(b, pf->path) : 0;
	archive_entry_free(entry);
	if (!e) {
		e = tw_copy_body(b->a, &b->sink.err, fd, pf->path, now.size, b->buf, mf->sha256,
			      b->err, b->errlen);
		if (e == -1)
			e = arch_fail(b, "write");
	}
	/* A file rewritten while we read it: the entry may mix two versions. */
	if (!e && (fstat(fd, &st) < 0 || (file_id_from_stat(&st, &now), !file_id_equal(&now, &pf->id)))) {
		snprintf(b->err, b->errlen, "bundle: %s changed while being read; retrying later",
			 pf->path);
		e = -EAGAIN;
	}
	close(fd);
	if (e)
		return e;
	note_done(b, pf, now.size);
	return 1;
}

static int add_manifest(struct builder *b, const struct bundle_params *bp, const struct plan *p)
{
	struct manifest_build mb = { p->run_id, p->seq, p->created, bp->format, b->done,
				     b->ndone, p->marker, bp->metadata };
	struct archive_entry *entry;
	char *json = manifest_render(&mb);
	size_t len;
	int e = 0;

	if (!json) {
		snprintf(b->err, b->errlen, "bundle: out of memory rendering the manifest");
		return -ENOMEM;
	}
	len = strlen(json);
	entry = tw_regular_entry(MANIFEST_ENTRY_NAME, len, time(NULL));
	if (!entry)
		e = -ENOMEM;
	else if (archive_write_header(b->a, entry) != ARCHIVE_OK)
		e = arch_fail(b, "manifest header");
	else if (archive_write_data(b->a, json, len) != (la_ssize_t)len || b->sink.err)
		e = arch_fail(b, "manifest");
	archive_entry_free(entry);
	cJSON_free(json);
	return e;
}

/* Copy staged member e (bytes of the stage log) into the bundle. */
static int copy_member(struct builder *b, int logfd, const struct stage_entry *se)
{
	uint64_t off = se->off, left = se->len;

	while (left > 0) {
		size_t want = left < TW_CHUNK ? (size_t)left : TW_CHUNK;
		ssize_t n = pread(logfd, b->buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(b->err, b->errlen, "bundle: reading the stage: %s",
				 n < 0 ? strerror(errno) : "short");
			return n < 0 ? -errno : -EIO;
		}
		tw_sink_write(NULL, &b->sink, b->buf, (size_t)n);
		if (b->sink.err)
			return arch_fail(b, "write");
		off += (uint64_t)n;
		left -= (uint64_t)n;
	}
	return 0;
}

/*
 * Entries in order: the staged members already in the output (used[i] set;
 * copied now unless the output is the stage log itself), then one member
 * with every other planned file, the manifest and the end of the archive.
 */
static int write_entries(struct builder *b, const struct bundle_params *bp, struct plan *p,
			 const struct stage_entry **used, int copy_from)
{
	size_t i;
	int e = 0;

	for (i = 0; !e && used && i < p->nfiles; i++) {
		if (!used[i])
			continue;
		if (copy_from >= 0)
			e = copy_member(b, copy_from, used[i]);
		if (!e) {
			memcpy(b->done[b->ndone].sha256, used[i]->sha256, 65);
			note_done(b, &p->files[i], used[i]->id.size);
		}
	}
	if (!e)
		e = setup_archive_last(b, bp);
	for (i = 0; !e && i < p->nfiles; i++) {
		int r;

		if (used && used[i])
			continue;
		r = add_file(b, bp->rootfd, &p->files[i]);
		if (r < 0)
			e = r;
	}
	if (!e)
		e = add_manifest(b, bp, p);
	if (!e && (archive_write_close(b->a) != ARCHIVE_OK || b->sink.err))
		e = arch_fail(b, "close");
	return e;
}

/* arg: a descriptor in, 0 or -errno of its fsync out */
static void *fsync_thread(void *arg)
{
	int *fd = arg;

	*fd = fsync(*fd) < 0 ? -errno : 0;
	return NULL;
}

/*
 * The one wait for the disk before the bundle is named: its data, the
 * plan's data and the spool directory (which holds the plan's name,
 * spool_plan_create) are fsynced at once, so the plan is durable, content
 * and name, before the bundle has a name. Waiting together, the three
 * share one journal commit where there is a journal, and overlap their
 * writes and cache flushes where there is none, instead of one wait after
 * the other. Helper threads do the plan and the directory; without them,
 * they run one after the other.
 */
static int fsync_group(int fd, const char *dir, const char *plan)
{
	bool threaded[2] = { false, false };
	int fds[2] = { -1, -1 }, res[2], e = 0, i;
	pthread_t t[2];

	fds[0] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fds[0] >= 0)
		fds[1] = open(plan, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fds[0] < 0 || fds[1] < 0) {
		e = -errno;
		goto out;
	}
	res[0] = fds[0];
	res[1] = fds[1];
	for (i = 0; i < 2; i++)
		threaded[i] = pthread_create(&t[i], NULL, fsync_thread, &res[i]) == 0;
	if (fsync(fd) < 0)
		e = -errno;
	for (i = 0; i < 2; i++) {
		if (threaded[i])
			(void)pthread_join(t[i], NULL); /* cannot fail: joinable, not ourselves */
		else
			fsync_thread(&res[i]);
		if (!e)
			e = res[i];
	}
out:
	for (i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return e;
}

static int sync_output(struct builder *b, const char *dir, const char *plan)
{
	int e = fsync_group(b->sink.fd, dir, plan);

	if (close(b->sink.fd) < 0 && !e)
		e = -errno;
	b->sink.fd = -1;
	return e;
}

static int name_output(struct builder *b, const char *tmp, const char *dst, const char *dir)
{
	int e = 0;

	if (rename(tmp, dst) < 0)
		e = -errno;
	if (!e)
		e = fsync_dir(dir);
	if (e)
		snprintf(b->err, b->errlen, "bundle: writing %s: %s", dst, strerror(-e));
	return e;
}

/*
 * Which planned files have a proven-equal staged member (NULL: none), and
 * whether those members are the whole log in order: then the log itself
 * becomes the bundle and no staged byte is copied. Staging only saves
 * time: without memory we go without it.
 */
static const struct stage_entry **staged_members(struct stage *st, int rootfd,
						 const struct plan *p, bool *whole_log)
{
	const struct stage_entry **used;
	uint64_t expect = 0;
	bool in_order = true;
	size_t i, n = 0;

	*whole_log = false;
	if (!st || !st->live)
		return NULL;
	used = calloc(p->nfiles ? p->nfiles : 1, sizeof(*used));
	if (!used)
		return NULL;
	for (i = 0; i < p->nfiles; i++) {
		used[i] = stage_verify(st, rootfd, &p->files[i]);
		if (!used[i])
			continue;
		in_order = in_order && used[i]->off == expect;
		expect += used[i]->len;
		n++;
	}
	if (!n) {
		free(used);
		return NULL;
	}
	*whole_log = in_order && expect == st->end && n == st->live && !st->dead;
	log_debug("bundle %s: %zu of %zu files staged%s", p->bundle, n, p->nfiles,
		  *whole_log ? ", the stage log becomes the bundle" : ", members copied");
	return used;
}

static int open_output(struct builder *b, struct stage *st, bool whole_log, const char *tmp)
{
	if (whole_log) {
		b->sink.fd = stage_take_log(st, b->sink.md);
		return b->sink.fd < 0 ? b->sink.fd : 0;
	}
	/* 0644 like a copy in a file:// destination would be: the spool is
	 * 0700, and a destination on the same file system links this file. */
	b->sink.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	return b->sink.fd < 0 ? -errno : 0;
}

/*
 * Did the re-hash (settled now: the data is written and fsynced, so it ran
 * alongside) find every used member equal? If not, this output holds a
 * member whose file changed after it was staged: *stale, and the caller
 * builds the bundle again without that member.
 */
static int check_proofs(struct builder *b, struct stage *st, const struct plan *p,
			const struct stage_entry **used, bool *stale)
{
	size_t i;

	if (!used)
		return 0;
	stage_settle_proofs(st);
	for (i = 0; i < p->nfiles; i++) {
		if (used[i] && !stage_proven(used[i])) {
			snprintf(b->err, b->errlen, "bundle: %s changed since it was staged",
				 p->files[i].path);
			*stale = true;
			return -EAGAIN;
		}
	}
	return 0;
}

/*
 * The written set, durable before the bundle has a name: p is rewritten
 * with which files went in (files[].written, their SHA-256: the manifest's
 * list) and p->bundled, by the same unsynced write as a new plan, so the
 * fsync group that follows makes it durable together with the bundle's
 * data. A named bundle thus always has its written set on disk, and every
 * clean-up, also one after a crash and restart, removes only those files.
 * Keeping it in the plan (not only in the manifest inside the compressed
 * bundle) spares the clean-up reading the whole bundle back.
 */
static int record_written(struct builder *b, struct spool *sp, struct plan *p)
{
	int e;

	p->bundled = true;
	e = spool_plan_create(sp, p);
	if (e < 0)
		snprintf(b->err, b->errlen, "bundle: cannot record in the plan which files went "
			 "into %s: %s", p->bundle, strerror(-e));
	return e;
}

/* Forget what an earlier build of p wrote or could not read. */
static void reset_written(struct plan *p)
{
	size_t i;

	p->bundled = false;
	p->bundle_sha256[0] = '\0';
	for (i = 0; i < p->nfiles; i++) {
		p->files[i].written = false;
		p->files[i].sha256[0] = '\0';
		p->files[i].unread = 0;
	}
}

static int build_once(const struct bundle_params *bp, struct spool *sp, struct plan *p,
		      struct stage *stage, char sha256[65], size_t *nwritten, char *err,
		      size_t errlen, bool *stale)
{
	const char *spool_dir = sp->dir;
	struct builder b = { .sink = { -1, 0, NULL }, .err = err, .errlen = errlen };
	const struct stage_entry **used = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	char tmp[4096], dst[4096], plan[4096];
	bool whole_log = false;
	size_t i;
	int e;

	err[0] = '\0';
	*stale = false;
	reset_written(p);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", spool_dir, p->bundle, (long)getpid()) >=
		    (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", spool_dir, p->bundle) >= (int)sizeof(dst) ||
	    spool_plan_path(spool_dir, p, plan, sizeof(plan)) < 0) {
		snprintf(err, errlen, "bundle: spool path too long");
		return -ENAMETOOLONG;
	}
	b.done = calloc(p->nfiles ? p->nfiles : 1, sizeof(*b.done));
	b.buf = malloc(TW_CHUNK);
	b.sink.md = EVP_MD_CTX_new();
	if (!b.done || !b.buf || !b.sink.md || !EVP_DigestInit_ex(b.sink.md, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "bundle: out of memory");
		e = -ENOMEM;
		goto out;
	}
	used = staged_members(stage, bp->rootfd, p, &whole_log);
	if (whole_log && stage_log_path(stage, tmp, sizeof(tmp)) < 0)
		whole_log = false;
	e = open_output(&b, stage, whole_log, tmp);
	if (e < 0) {
		snprintf(err, errlen, "bundle: cannot create %s: %s", tmp, strerror(-e));
		goto out;
	}
	e = write_entries(&b, bp, p, used, used && !whole_log ? stage->logfd : -1);
	/* Every byte is written: the bundle's SHA-256 and its written set go
	 * into its plan now (one rewrite), before the one wait for the disk
	 * that makes the plan durable with the bundle's data. A spooled bundle
	 * is sent against this SHA-256, so one damaged in the spool later is
	 * never delivered (ship.c); the written set is what clean-up may
	 * remove (the deletion rule). */
	if (!e && !EVP_DigestFinal_ex(b.sink.md, md, NULL))
		e = -EIO;
	if (!e) {
		sha256_to_hex(md, sha256);
		memcpy(p->bundle_sha256, sha256, sizeof(p->bundle_sha256));
		e = record_written(&b, sp, p);
	}
	if (!e) {
		e = sync_output(&b, spool_dir, plan);
		if (e)
			snprintf(err, errlen, "bundle: writing %s: %s", dst, strerror(-e));
	}
	if (!e)
		e = check_proofs(&b, stage, p, used, stale);
	if (!e)
		e = name_output(&b, tmp, dst, spool_dir);
	if (!e)
		*nwritten = b.ndone;
out:
	if (b.a) {
		/* after a failure: close (into the discarding sink) so the
		 * compressor releases its state, then free */
		if (e)
			(void)archive_write_close(b.a);
		archive_write_free(b.a);
	}
	if (b.sink.fd >= 0)
		close(b.sink.fd);
	if (e && !(*stale && whole_log) && unlink(tmp) < 0 && errno != ENOENT)
		log_warn("bundle: cannot remove %s: %s", tmp, strerror(errno));
	if (e && !err[0])
		snprintf(err, errlen, "bundle: %s", strerror(-e));
	/* The planned files' members are spent; after a failure the whole
	 * stage goes (it may be what filled the spool), except after a stale
	 * member: only its member goes, the others serve the next attempt. */
	if (*stale) {
		for (i = 0; i < p->nfiles; i++)
			if (used[i] && !stage_proven(used[i]))
				stage_drop(stage, used[i]);
		if (whole_log && stage_return_log(stage, tmp) < 0)
			stage_reset(stage);
	} else if (used && (e || whole_log)) {
		stage_reset(stage);
	} else if (used) {
		for (i = 0; i < p->nfiles; i++)
			if (used[i])
				stage_drop(stage, used[i]);
	}
	free(used);
	EVP_MD_CTX_free(b.sink.md);
	free(b.buf);
	free(b.done);
	return e;
}

int bundle_build(const struct bundle_params *bp, struct spool *sp, struct plan *p,
		 struct stage *stage, char sha256[65], size_t *nwritten, char *err,
		 size_t errlen)
{
	bool stale;
	int e = build_once(bp, sp, p, stage, sha256, nwritten, err, errlen, &stale);

	/* A staged file found changed by the re-hash that ran while the bundle
	 * was written (rare: rewritten with the same size, inode and mtime):
	 * that output is abandoned before it had a name, the file's member is
	 * dropped, and the bundle is written again, the file compressed afresh
	 * (the other members are proven by then: no second proof, no loop). */
	if (e && stale)
		e = build_once(bp, sp, p, stage, sha256, nwritten, err, errlen, &stale);
	return e;
}
