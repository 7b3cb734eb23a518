/* SPDX-License-Identifier: MIT */
#include "stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

bool stage_rehash_disabled(void)
{
	const char *v = getenv("COVSHIP_TEST_STAGE_NO_REHASH");

	return v && !strcmp(v, "1");
}

/* Remove whatever an earlier life left: the stage is only a cache. */
static int empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int e = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && !e)
			e = -errno;
	}
	closedir(d);
	return e;
}

int stage_open(struct stage *st, const char *spool_dir, const struct bundle_params *bp,
	       const struct matcher *m)
{
	size_t n = strlen(spool_dir) + sizeof("/stage");

	memset(st, 0, sizeof(*st));
	st->logfd = -1;
	st->bp = bp;
	st->matcher = m;
	st->dir = malloc(n);
	st->md = EVP_MD_CTX_new();
	st->undo = EVP_MD_CTX_new();
	st->buf = malloc(TW_CHUNK);
	if (!st->dir || !st->md || !st->undo || !st->buf)
		return -ENOMEM;
	snprintf(st->dir, n, "%s/stage", spool_dir);
	if (mkdir(st->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return empty_dir(st->dir);
}

static void free_entries(struct stage *st)
{
	size_t i;

	for (i = 0; i < st->norder; i++) {
		free(st->order[i]->path);
		free(st->order[i]);
	}
	st->norder = st->live = 0;
	st->end = st->dead = 0;
	if (st->buckets)
		memset(st->buckets, 0, st->nbuckets * sizeof(*st->buckets));
}

static void remove_log(struct stage *st)
{
	char path[4096];

	if (st->logfd >= 0) {
		close(st->logfd);
		st->logfd = -1;
	}
	if (st->logname[0] && stage_log_path(st, path, sizeof(path)) == 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		log_warn("stage: cannot remove %s: %s", path, strerror(errno));
	st->logname[0] = '\0';
	st->unsynced = false;
}

void stage_reset(struct stage *st)
{
	stage_settle_proofs(st); /* the helper reads the entries freed here */
	remove_log(st);
	free_entries(st);
}

void stage_close(struct stage *st)
{
	size_t i;

	if (!st->dir)
		return;
	stage_reset(st);
	for (i = st->qhead; i < st->nqueue; i++)
		free(st->queue[i]);
	free(st->queue);
	free(st->order);
	free(st->buckets);
	free(st->buf);
	EVP_MD_CTX_free(st->md);
	EVP_MD_CTX_free(st->undo);
	free(st->dir);
	memset(st, 0, sizeof(*st));
	st->logfd = -1;
}

int stage_log_path(const struct stage *st, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%s", st->dir, st->logname) >= (int)len ? -ENAMETOOLONG : 0;
}

static struct stage_entry *find(const struct stage *st, const char *path)
{
	struct stage_entry *e;

	if (!st->nbuckets)
		return NULL;
	for (e = st->buckets[hash(path) & (st->nbuckets - 1)]; e; e = e->next)
		if (!strcmp(e->path, path))
			return e;
	return NULL;
}

static int grow_buckets(struct stage *st)
{
	size_t nb = st->nbuckets ? st->nbuckets * 2 : 256, i;
	struct stage_entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (i = 0; i < st->norder; i++) {
		struct stage_entry *e = st->order[i];
		size_t k;

		if (!e->path)
			continue;
		k = hash(e->path) & (nb - 1);
		e->next = b[k];
		b[k] = e;
	}
	free(st->buckets);
	st->buckets = b;
	st->nbuckets = nb;
	return 0;
}

static int add_entry(struct stage *st, struct stage_entry *e)
{
	size_t k;

	if (st->norder == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct stage_entry **v = realloc(st->order, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		st->order = v;
		st->cap = cap;
	}
	if ((st->live + 1 > st->nbuckets || !st->nbuckets) && grow_buckets(st) < 0)
		return -ENOMEM;
	st->order[st->norder++] = e;
	k = hash(e->path) & (st->nbuckets - 1);
	e->next = st->buckets[k];
	st->buckets[k] = e;
	st->live++;
	return 0;
}

void stage_drop(struct stage *st, const struct stage_entry *ce)
{
	struct stage_entry **pp, *e = (struct stage_entry *)ce;

	stage_settle_proofs(st); /* the helper may be reading e->path */
	if (!e->path)
		return;
	for (pp = &st->buckets[hash(e->path) & (st->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	free(e->path);
	e->path = NULL;
	e->next = NULL;
	st->dead += e->len;
	st->live--;
}

void stage_want(struct stage *st, const char *relpath)
{
	char *p;

	if (st->off)
		return;
	if (st->nqueue == st->qcap) {
		size_t cap = st->qcap ? st->qcap * 2 : 64;
		char **v;

		if (st->qhead) { /* reuse the consumed front first */
			memmove(st->queue, st->queue + st->qhead,
				(st->nqueue - st->qhead) * sizeof(*st->queue));
			st->nqueue -= st->qhead;
			st->qhead = 0;
		}
		if (st->nqueue == st->qcap) {
			v = realloc(st->queue, cap * sizeof(*v));
			if (!v)
				return; /* staging is an optimisation: skip this file */
			st->queue = v;
			st->qcap = cap;
		}
	}
	p = strdup(relpath);
	if (p)
		st->queue[st->nqueue++] = p;
}

void stage_note(struct stage *st, const char *relpath, bool gone)
{
	struct stage_entry *e;

	if (!strncmp(relpath, SCAN_MARKER_DIR "/", sizeof(SCAN_MARKER_DIR)) ||
	    !strncmp(relpath, SCAN_SPOOL_DIR "/", sizeof(SCAN_SPOOL_DIR)) ||
	    !matcher_match(st->matcher, relpath))
		return;
	if (!gone) {
		stage_want(st, relpath);
		return;
	}
	/* a queued path that is gone fails to open when its turn comes */
	e = find(st, relpath);
	if (e)
		stage_drop(st, e);
}

bool stage_busy(const struct stage *st)
{
	return st->qhead < st->nqueue || st->unsynced || (!st->live && st->logfd >= 0);
}

static int open_log(struct stage *st)
{
	char path[4096];

	snprintf(st->logname, sizeof(st->logname), "log.%lu", st->nlogs++);
	if (stage_log_path(st, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	/* 0644: the log may become a bundle (bundle.c, open_output) */
	st->logfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
			 0644);
	if (st->logfd < 0) {
		st->logname[0] = '\0';
		return -errno;
	}
	st->end = 0;
	return EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) ? 0 : -EIO;
}

/* Undo a member that failed half-way: the log ends where it ended. */
static int rewind_log(struct stage *st, uint64_t off)
{
	if (ftruncate(st->logfd, (off_t)off) < 0 || !EVP_MD_CTX_copy_ex(st->md, st->undo))
		return -EIO;
	return 0;
}

/* Compress relpath into a new member at the end of the log. */
static void stage_file(struct stage *st, int rootfd, const char *relpath)
{
	struct stage_entry *old = find(st, relpath), *e;
	struct file_id id, after;
	struct stat sb;
	char err[512], sha[65];
	uint64_t off;
	int fd, r;

	fd = open_regular(rootfd, relpath, &sb);
	if (fd < 0)
		return; /* gone, or not a regular file: the scan will say so */
	file_id_from_stat(&sb, &id);
	if (old && file_id_equal(&old->id, &id)) {
		close(fd); /* queued twice, staged once */
		return;
	}
	r = st->logfd < 0 ? open_log(st) : 0;
	if (!r && !EVP_MD_CTX_copy_ex(st->undo, st->md))
		r = -ENOMEM;
	off = st->end;
	if (!r)
		r = tw_member(st->bp, fd, relpath, id.size, sb.st_mtim.tv_sec, st->logfd,
				  st->md, st->buf, sha, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "stage: %s", strerror(-r));
	/* a file rewritten while we read it: its next close stages it again */
	if (!r && (fstat(fd, &sb) < 0 || (file_id_from_stat(&sb, &after), !file_id_equal(&after, &id))))
		r = -EAGAIN;
	close(fd);
	if (!r && fstat(st->logfd, &sb) < 0)
		r = -errno;
	e = r ? NULL : calloc(1, sizeof(*e));
	if (e) {
		e->path = strdup(relpath);
		e->id = id;
		memcpy(e->sha256, sha, sizeof(sha));
		e->off = off;
		e->len = (uint64_t)sb.st_size - off;
	}
	if (!r && (!e || !e->path || add_entry(st, e) < 0)) {
		if (e)
			free(e->path);
		free(e);
		r = -ENOMEM;
	}
	if (!r) {
		if (old)
			stage_drop(st, old);
		st->end = (uint64_t)sb.st_size;
		st->unsynced = true;
		log_debug("staged %s: %llu bytes -> member of %llu", relpath,
			  (unsigned long long)id.size, (unsigned long long)(st->end - off));
		return;
	}
	if (r == -EAGAIN) {
		log_debug("stage: %s changed while being staged", relpath);
	} else {
		log_info("stage: %s: %s; staging off, bundles are compressed when built",
			 relpath, r == -ENOMEM ? "out of memory" : err);
		st->off = true;
	}
	if (st->logfd >= 0 && rewind_log(st, off) < 0)
		stage_reset(st);
	if (st->off)
		stage_reset(st); /* give its space back, e.g. to a full spool */
}

void stage_step(struct stage *st, int rootfd)
{
	if (st->qhead < st->nqueue) {
		char *p = st->queue[st->qhead++];

		if (st->qhead == st->nqueue)
			st->qhead = st->nqueue = 0;
		if (!st->off)
			stage_file(st, rootfd, p);
		free(p);
		return;
	}
	if (!st->live && st->logfd >= 0) {
		stage_reset(st); /* every member was used or dropped */
		return;
	}
	if (st->unsynced) {
		/* while idle: the bundle's fsync then only has its last member
		 * left to write */
		if (fdatasync(st->logfd) < 0)
			log_debug("stage: fdatasync: %s", strerror(errno));
		st->unsynced = false;
	}
}

struct order_key {
	uint64_t off;
	size_t i;
};

static int key_cmp(const void *a, const void *b)
{
	const struct order_key *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void stage_order(struct stage *st, struct scan_file *v, size_t n)
{
	struct order_key *k;
	struct scan_file *tmp;
	size_t i;

	if (!st->live || n < 2)
		return;
	k = calloc(n, sizeof(*k));
	tmp = calloc(n, sizeof(*tmp));
	if (k && tmp) {
		for (i = 0; i < n; i++) {
			const struct stage_entry *e = find(st, v[i].path);

			k[i].off = e && file_id_equal(&e->id, &v[i].id) ? e->off : UINT64_MAX;
			k[i].i = i;
		}
		qsort(k, n, sizeof(*k), key_cmp);
		for (i = 0; i < n; i++)
			tmp[i] = v[k[i].i];
		memcpy(v, tmp, n * sizeof(*v));
	}
	free(k);
	free(tmp);
}

/* SHA-256 of fd's content as hex; its identity must stay id throughout. */
static int rehash(int fd, const struct file_id *id, unsigned char *buf, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct file_id now;
	struct stat sb;
	uint64_t left = id->size;
	int e = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		e = -ENOMEM;
	while (!e && left > 0) {
		ssize_t n = read(fd, buf, left < TW_CHUNK ? (size_t)left : TW_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			e = n < 0 ? -errno : -EAGAIN;
		else if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			e = -EIO;
		else
			left -= (uint64_t)n;
	}
	if (!e && !EVP_DigestFinal_ex(ctx, md, NULL))
		e = -EIO;
	if (!e && (fstat(fd, &sb) < 0 || (file_id_from_stat(&sb, &now), !file_id_equal(&now, id))))
		e = -EAGAIN;
	if (!e)
		sha256_to_hex(md, hex);
	EVP_MD_CTX_free(ctx);
	return e;
}

/* Is relpath still the file e was staged from, byte for byte? */
enum proof_verdict { PROOF_EQUAL, PROOF_DIFFERS, PROOF_CHANGED };

static enum proof_verdict content_equal(int rootfd, const struct stage_entry *e,
					unsigned char *buf)
{
	struct file_id now;
	struct stat sb;
	char hex[65];
	int fd = open_regular(rootfd, e->path, &sb), r = -1;

	if (fd < 0)
		return PROOF_CHANGED; /* gone: the bundle says so (add_file) */
	file_id_from_stat(&sb, &now);
	if (file_id_equal(&now, &e->id))
		r = rehash(fd, &e->id, buf, hex);
	close(fd);
	if (r < 0)
		return PROOF_CHANGED; /* another identity: likewise */
	return strcmp(hex, e->sha256) ? PROOF_DIFFERS : PROOF_EQUAL;
}

/*
 * The helper thread reads the entries (path, identity, digest) and the
 * files, and writes only its own `verdict`: the main thread writes the plan
 * and the bundle meanwhile, touches only its own flags of the entries
 * (proving, proven), and frees or changes none of them, nor these arrays,
 * until the join (stage_settle_proofs, called first by whatever does).
 */
struct stage_proof {
	pthread_t thread;
	int rootfd;
	size_t n;
	struct stage_entry **e;
	enum proof_verdict *verdict;
	unsigned char *buf;
};

static void *prove_thread(void *arg)
{
	struct stage_proof *pr = arg;
	size_t i;

	for (i = 0; i < pr->n; i++)
		pr->verdict[i] = content_equal(pr->rootfd, pr->e[i], pr->buf);
	return NULL;
}

static void proof_free(struct stage_proof *pr)
{
	free(pr->e);
	free(pr->verdict);
	free(pr->buf);
	free(pr);
}

struct stage_proof *stage_prove_start(struct stage *st, int rootfd, const struct scan_file *v,
				      size_t n)
{
	struct stage_proof *pr;
	size_t i;

	/* one started when done.json was seen (stage_prove_all) covers
	 * every member: it goes on */
	if (st->proof || !st->live || stage_rehash_disabled())
		return NULL;
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	pr->rootfd = rootfd;
	pr->e = calloc(n ? n : 1, sizeof(*pr->e));
	pr->verdict = calloc(n ? n : 1, sizeof(*pr->verdict));
	pr->buf = malloc(TW_CHUNK);
	for (i = 0; pr->e && pr->verdict && pr->buf && i < n; i++) {
		struct stage_entry *e = v ? find(st, v[i].path) : st->order[i];

		if (e && e->path && (!v || file_id_equal(&e->id, &v[i].id)))
			pr->e[pr->n++] = e;
	}
	if (!pr->e || !pr->verdict || !pr->buf || !pr->n ||
	    pthread_create(&pr->thread, NULL, prove_thread, pr) != 0) {
		proof_free(pr);
		return NULL; /* stage_verify re-hashes */
	}
	/* this thread's flag: the helper never reads it */
	for (i = 0; i < pr->n; i++)
		pr->e[i]->proving = true;
	return pr;
}

void stage_prove_all(struct stage *st, int rootfd)
{
	stage_prove_finish(st, stage_prove_start(st, rootfd, NULL, st->norder));
}

void stage_prove_finish(struct stage *st, struct stage_proof *pr)
{
	/* not joined here: the re-hash goes on while the bundle is written
	 * and fsynced (bundle.c settles it before the bundle is named) */
	if (pr)
		st->proof = pr;
}

void stage_settle_proofs(struct stage *st)
{
	struct stage_proof *pr = st->proof;
	size_t i;

	if (!pr)
		return;
	st->proof = NULL;
	(void)pthread_join(pr->thread, NULL); /* cannot fail: joinable, not ourselves */
	for (i = 0; i < pr->n; i++) {
		pr->e[i]->proving = false;
		pr->e[i]->proven = pr->verdict[i] == PROOF_EQUAL;
		if (pr->verdict[i] == PROOF_DIFFERS)
			log_info("stage: %s changed since it was staged (same size, inode and "
				 "mtime); compressing it afresh", pr->e[i]->path);
	}
	proof_free(pr);
}

void stage_forget_proofs(struct stage *st)
{
	size_t i;

	stage_settle_proofs(st);
	for (i = 0; i < st->norder; i++)
		st->order[i]->proven = false;
}

bool stage_proven(const struct stage_entry *e)
{
	return e->proven || stage_rehash_disabled();
}

const struct stage_entry *stage_verify(struct stage *st, int rootfd, const struct plan_file *pf)
{
	struct stage_entry *e = find(st, pf->path);
	struct file_id now;
	struct stat sb;
	char hex[65];
	int fd, r;

	if (!e || !file_id_equal(&e->id, &pf->id))
		return NULL;
	/* Being proven: the re-hash opens the file while this bundle is
	 * written and checks the identity itself, as planned, before and
	 * after it reads; the caller settles it before the bundle is named.
	 * A file gone or changed fails the proof, and the bundle is written
	 * again without its member (bundle.c). */
	if (e->proving)
		return e;
	fd = open_regular(rootfd, pf->path, &sb);
	if (fd < 0)
		return NULL; /* add_file says why it is left out */
	file_id_from_stat(&sb, &now);
	if (!file_id_equal(&now, &pf->id)) {
		close(fd);
		return NULL;
	}
	/* proven by stage_prove_start's re-hash, the identity unchanged since */
	if (e->proven || stage_rehash_disabled()) {
		close(fd);
		return e;
	}
	r = rehash(fd, &pf->id, st->buf, hex);
	close(fd);
	if (r < 0)
		return NULL;
	if (strcmp(hex, e->sha256)) {
		log_info("stage: %s changed since it was staged (same size, inode and mtime); "
			 "compressing it afresh", pf->path);
		return NULL;
	}
	e->proven = true;
	return e;
}

int stage_return_log(struct stage *st, const char *path)
{
	const char *slash = strrchr(path, '/');
	int fd, e;

	if (!slash || strlen(slash + 1) >= sizeof(st->logname) || st->logfd >= 0)
		return -EINVAL;
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* what the bundle appended goes; st->md still covers [0, end) */
	if (ftruncate(fd, (off_t)st->end) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	st->logfd = fd;
	snprintf(st->logname, sizeof(st->logname), "%s", slash + 1);
	st->unsynced = true;
	return 0;
}

int stage_take_log(struct stage *st, EVP_MD_CTX *md)
{
	int fd = st->logfd;

	if (fd < 0)
		return -ENOENT;
	if (!EVP_MD_CTX_copy_ex(md, st->md))
		return -ENOMEM;
	st->logfd = -1;
	st->logname[0] = '\0';
	st->unsynced = false;
	return fd;
}
