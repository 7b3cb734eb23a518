/* SPDX-License-Identifier: MIT */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "handoff.h"
#include "log.h"
#include "manifest.h"
#include "runid.h"
#include "timefmt.h"

#define PLAN_SUFFIX ".plan.json"
#define SPOOL_ID_FILE "spool-id"

void plan_free(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nfiles; i++)
		free(p->files[i].path);
	free(p->files);
	free(p->key);
	cJSON_Delete(p->marker);
	origin_free(&p->origin);
	memset(p, 0, sizeof(*p));
}

/* A listing of the spool through its own fd (dirfd stays ours). NULL with
 * errno set on failure. */
static DIR *spool_opendir(struct spool *sp)
{
	int fd = openat(sp->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

static int remove_temporaries(struct spool *sp)
{
	DIR *d = spool_opendir(sp);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		/* ".<name>.tmp.<pid>": a write that never reached its rename */
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp.")) {
			if (unlinkat(sp->dirfd, de->d_name, 0) < 0 && errno != ENOENT)
				log_warn("spool: cannot remove temporary %s: %s", de->d_name,
					 strerror(errno));
			else
				log_info("spool: removed %s left by an interrupted write",
					 de->d_name);
		}
	}
	closedir(d);
	return 0;
}

/*
 * The lock covship-idle handed back (handoff.h): kept open across the execs
 * so the spool never looks free. Taken only if it is this spool's lock file,
 * open for writing; flock() on it then succeeds because we hold it already.
 */
static int adopt_lock(struct spool *sp)
{
	int fd = handoff_take_lock_fd();
	struct stat fs, ls;
	int fl;

	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR || fstat(fd, &fs) < 0 ||
	    fstatat(sp->dirfd, "lock", &ls, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(ls.st_mode) ||
	    fs.st_dev != ls.st_dev || fs.st_ino != ls.st_ino ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_debug("spool: descriptor %d handed over is not the lock of %s; not used", fd,
			  sp->dir);
		return -1;
	}
	return fd;
}

static int lock_spool(struct spool *sp, char *err, size_t errlen)
{
	char buf[32];
	int n;

	sp->lockfd = adopt_lock(sp);
	if (sp->lockfd < 0)
		sp->lockfd = openat(sp->dirfd, "lock",
				    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sp->lockfd < 0) {
		snprintf(err, errlen, "spool %s is not writable (%s); pass --spool DIR (or "
			 "COVSHIP_SPOOL) naming a writable directory", sp->dir, strerror(errno));
		return -1;
	}
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)pread(sp->lockfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		/* The lock file holds "PID\n": keep the message on one line. */
		buf[strcspn(buf, "\n")] = '\0';
		n = (int)strlen(buf);
		snprintf(err, errlen, "spool %s is in use by another covship (pid %s); give each "
			 "covship its own --spool", sp->dir, n > 0 ? buf : "?");
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	errno = 0;
	if (ftruncate(sp->lockfd, 0) < 0 || pwrite(sp->lockfd, buf, (size_t)n, 0) != n) {
		/*
		 * A full disk is a fault to wait out, not a configuration error:
		 * the pid in the lock file only improves the "in use" message,
		 * and the watcher retries its spool writes until space returns.
		 */
		if (errno == ENOSPC || errno == EDQUOT) {
			log_warn("spool %s is full (%s); starting anyway, bundles are retried "
				 "once space is freed", sp->dir, strerror(errno));
			return 0;
		}
		snprintf(err, errlen, "spool %s is not writable (%s); free space or pass another "
			 "--spool", sp->dir, errno ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

static bool spool_id_valid(const char *s, size_t n)
{
	size_t i;

	if (n < SPOOL_ID_MIN || n > SPOOL_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * The spool's id: a fresh spool (a new container, another --spool, a spool
 * deleted) starts its sequence numbers at 1 again, so the run id and the
 * seq alone repeat across spools; the id, random per spool, keeps their
 * bundle names (and default keys) apart. Made once, under the lock, tmp +
 * fsync + rename: it never changes while plans use it, and a crash leaves
 * either no file (a new id, no bundle named yet) or the whole id.
 */
int spool_ensure_id(struct spool *sp)
{
	char buf[RUNID_LEN + 1];
	int e;

	if (sp->id[0])
		return 0;
	e = runid_generate(buf); /* getrandom: 128 bits, of which the id keeps 64 */
	if (e < 0)
		return e;
	buf[SPOOL_ID_LEN] = '\n';
	e = atomic_write_file(sp->dir, SPOOL_ID_FILE, buf, SPOOL_ID_LEN + 1, 0600);
	if (e < 0)
		return e;
	memcpy(sp->id, buf, SPOOL_ID_LEN);
	sp->id[SPOOL_ID_LEN] = '\0';
	return 0;
}

/* Read the spool's id, or make one when it has none. 0, or -1 with err. */
static int spool_id_init(struct spool *sp, char *err, size_t errlen)
{
	char buf[SPOOL_ID_MAX + 2];
	int fd = openat(sp->dirfd, SPOOL_ID_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	int e;

	if (fd < 0 && errno != ENOENT) {
		snprintf(err, errlen, "spool %s: cannot open %s: %s", sp->dir, SPOOL_ID_FILE,
			 strerror(errno));
		return -1;
	}
	if (fd < 0) {
		e = spool_ensure_id(sp);
		/* As for the lock file: a full disk is waited out. The id is
		 * made before the first plan (make_plan), which is retried. */
		if (e == -ENOSPC || e == -EDQUOT)
			log_warn("spool %s is full (%s); its id is made once space is freed",
				 sp->dir, strerror(-e));
		else if (e < 0) {
			snprintf(err, errlen, "spool %s: cannot make its id (%s): %s; pass "
				 "another --spool", sp->dir, SPOOL_ID_FILE, strerror(-e));
			return -1;
		}
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	e = errno;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "spool %s: cannot read %s: %s", sp->dir, SPOOL_ID_FILE,
			 strerror(e));
		return -1;
	}
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	if (!spool_id_valid(buf, (size_t)n)) {
		snprintf(err, errlen, "spool %s: %s does not hold a spool id (%d to %d lowercase "
			 "hex digits); remove it, a new one is made", sp->dir, SPOOL_ID_FILE,
			 SPOOL_ID_MIN, SPOOL_ID_MAX);
		return -1;
	}
	memcpy(sp->id, buf, (size_t)n);
	sp->id[n] = '\0';
	return 0;
}

/*
 * A spool on the watched volume (the default, DIR/.covship-spool) sits
 * where the app container writes too: it is used only if it is a real
 * directory (not a symlink planted to lead our writes, and clean-up's
 * unlinks, elsewhere) that this uid owns and no one else may write (no
 * plan slipped in by another user). O_NOFOLLOW and fstat on the descriptor
 * we then lock: nothing can be swapped in between. (Later writes go by path:
 * a process that may rename entries of DIR could still swap the directory
 * while covship runs; docs/sidecar.md says to pass --spool then.)
 */
static int check_private(struct spool *sp, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(sp->dirfd, &st) < 0) {
		snprintf(err, errlen, "cannot open spool %s: %s", sp->dir, strerror(errno));
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen, "spool %s is not private to this covship (owner uid %u, "
			 "mode %03o; want uid %u, not writable by others): remove it, or pass "
			 "--spool DIR", sp->dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777),
			 (unsigned)geteuid());
		return -1;
	}
	return 0;
}

static int open_spool(struct spool *sp, const char *dir, bool private, char *err,
		      size_t errlen)
{
	int e;

	memset(sp, 0, sizeof(*sp));
	sp->dirfd = sp->lockfd = -1;
	sp->dir = strdup(dir);
	if (!sp->dir) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e = mkdir_p(dir, 0700);
	if (e < 0) {
		snprintf(err, errlen, "cannot create spool %s: %s; pass --spool DIR (or "
			 "COVSHIP_SPOOL) naming a writable directory", dir, strerror(-e));
		goto fail;
	}
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (private ? O_NOFOLLOW : 0));
	if (sp->dirfd < 0 && private && (errno == ENOTDIR || errno == ELOOP)) {
		snprintf(err, errlen, "spool %s is a symlink or not a directory; the default "
			 "spool on the volume is never followed: remove it, or pass --spool DIR",
			 dir);
		goto fail;
	}
	if (sp->dirfd < 0) {
		snprintf(err, errlen, "cannot open spool %s: %s; pass --spool DIR naming a "
			 "directory", dir, strerror(errno));
		goto fail;
	}
	if (private && check_private(sp, err, errlen) < 0)
		goto fail;
	if (lock_spool(sp, err, errlen) < 0)
		goto fail;
	if (remove_temporaries(sp) < 0) {
		snprintf(err, errlen, "cannot read spool %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (spool_id_init(sp, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	spool_close(sp);
	return -1;
}

int spool_open(struct spool *sp, const char *dir, char *err, size_t errlen)
{
	return open_spool(sp, dir, false, err, errlen);
}

int spool_open_private(struct spool *sp, const char *dir, char *err, size_t errlen)
{
	return open_spool(sp, dir, true, err, errlen);
}

void spool_close(struct spool *sp)
{
	if (sp->lockfd >= 0)
		close(sp->lockfd); /* releases the flock */
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp->dir);
	memset(sp, 0, sizeof(*sp));
	sp->dirfd = sp->lockfd = -1;
}

static unsigned long read_seq_file(struct spool *sp, const char *name)
{
	char buf[32];
	int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	return strtoul(buf, NULL, 10);
}

/* The largest seq of run_id among the plans present, 0 if none. */
static unsigned long max_planned_seq(struct spool *sp, const char *run_id)
{
	struct plan *plans = NULL;
	unsigned long max = 0;
	size_t n = 0, i;

	if (spool_plan_load_all(sp, &plans, &n) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!strcmp(plans[i].run_id, run_id) && plans[i].seq > max)
			max = plans[i].seq;
	spool_plans_free(plans, n);
	return max;
}

/*
 * A number is in use from the moment its plan is written (durably, before
 * any bundle or delivery of it) until the plan is removed; from then on the
 * run's seq file is above it (spool_plan_remove). So the next number is the
 * larger of the two, and nothing needs writing here: a number reserved but
 * never planned (a crash, a failed plan write) was used by nothing, and is
 * free to be handed out again.
 */
int spool_alloc_seq(struct spool *sp, const char *run_id, unsigned long *seq)
{
	char name[64];
	unsigned long next, planned;

	if (!runid_valid(run_id))
		return -EINVAL;
	snprintf(name, sizeof(name), "seq-%s", run_id);
	next = read_seq_file(sp, name);
	planned = max_planned_seq(sp, run_id);
	if (planned >= next)
		next = planned + 1;
	if (next == 0 || next > 999999)
		return -EOVERFLOW;
	*seq = next;
	return 0;
}

/* Make "the next number of run_id is at least next" durable. */
static int seq_persist(struct spool *sp, const char *run_id, unsigned long next)
{
	char name[64], buf[32];
	int n;

	snprintf(name, sizeof(name), "seq-%s", run_id);
	if (read_seq_file(sp, name) >= next)
		return 0; /* written (atomically, durably) before */
	n = snprintf(buf, sizeof(buf), "%lu\n", next);
	return atomic_write_file(sp->dir, name, buf, (size_t)n, 0600);
}

static cJSON *plan_to_json(const struct plan *p)
{
	cJSON *root = cJSON_CreateObject(), *files;
	size_t i;

	if (!root)
		return NULL;
	cJSON_AddNumberToObject(root, "schema", 1);
	cJSON_AddStringToObject(root, "run_id", p->run_id);
	cJSON_AddNumberToObject(root, "seq", (double)p->seq);
	cJSON_AddStringToObject(root, "bundle", p->bundle);
	cJSON_AddStringToObject(root, "key", p->key);
	cJSON_AddStringToObject(root, "created", p->created);
	cJSON_AddBoolToObject(root, "delivered", p->delivered);
	/* the written set: which files went into the bundle (the manifest's
	 * list), so that a restart's clean-up removes only those */
	cJSON_AddBoolToObject(root, "bundled", p->bundled);
	if (p->bundle_sha256[0])
		cJSON_AddStringToObject(root, "bundle_sha256", p->bundle_sha256);
	cJSON_AddItemToObject(root, "marker",
			      p->marker ? cJSON_Duplicate(p->marker, 1) : cJSON_CreateNull());
	if (origin_known(&p->origin)) {
		cJSON *o = origin_to_json(&p->origin);

		if (!o || !cJSON_AddItemToObject(root, "origin", o)) {
			cJSON_Delete(o);
			cJSON_Delete(root);
			return NULL;
		}
	}
	files = cJSON_AddArrayToObject(root, "files");
	for (i = 0; files && i < p->nfiles; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(files, o) ||
		    manifest_put_path(o, p->files[i].path, p->files[i].len) < 0) {
			cJSON_Delete(root);
			return NULL;
		}
		/* exact in a double up to 2^53; inode and ns mtime are strings */
		cJSON_AddNumberToObject(o, "size", (double)p->files[i].id.size);
		{
			char num[32];

			snprintf(num, sizeof(num), "%llu", (unsigned long long)p->files[i].id.ino);
			cJSON_AddStringToObject(o, "ino", num);
			snprintf(num, sizeof(num), "%lld", (long long)p->files[i].id.mtime_ns);
			cJSON_AddStringToObject(o, "mtime_ns", num);
		}
		if (p->bundled && p->files[i].written)
			cJSON_AddStringToObject(o, "sha256", p->files[i].sha256);
	}
	return root;
}

/*
 * tmp + rename in the spool; the directory is not fsynced. With sync_data
 * the data is fsynced before the rename, so the name never shows torn
 * content. Without it (a new plan), bundle_build() fsyncs data and
 * directory together with the bundle's data, before the bundle gets its
 * name (see spool_plan_create): the rename still replaces atomically for a
 * process that dies, and a machine that crashes before that fsync may keep
 * the name with torn content, which spool_plan_load_all() recognises.
 */
static int write_replace(int dirfd, const char *name, const char *data, size_t len,
			 bool sync_data)
{
	char tmp[160];
	int fd, e = 0;

	snprintf(tmp, sizeof(tmp), ".%s.tmp.%ld", name, (long)getpid());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	e = write_all_fd(fd, data, len);
	if (!e && sync_data && fsync(fd) < 0)
		e = -errno;
	if (close(fd) < 0 && !e)
		e = -errno;
	if (!e && renameat(dirfd, tmp, dirfd, name) < 0)
		e = -errno;
	if (e)
		(void)unlinkat(dirfd, tmp, 0); /* best effort; e is what failed */
	return e;
}

/* How durable a plan write is when it returns. */
enum plan_sync {
	PLAN_UNSYNCED,  /* a new plan: made durable with its bundle */
	PLAN_DATA,      /* the data before the name; the directory later, once */
	PLAN_DURABLE,   /* data, name and directory */
};

/* p's plan file in the spool dir (open as dirfd), as durable as sync says. */
static int write_plan_at(int dirfd, const char *dir, const struct plan *p, enum plan_sync sync)
{
	char name[128];
	cJSON *j = plan_to_json(p);
	char *s;
	int e;

	if (!j)
		return -ENOMEM;
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!s)
		return -ENOMEM;
	snprintf(name, sizeof(name), "%s-%06lu" PLAN_SUFFIX, p->run_id, p->seq);
	if (sync == PLAN_DURABLE)
		e = atomic_write_file(dir, name, s, strlen(s), 0600);
	else
		e = write_replace(dirfd, name, s, strlen(s), sync == PLAN_DATA);
	cJSON_free(s);
	return e;
}

static int write_plan(struct spool *sp, const struct plan *p, enum plan_sync sync)
{
	return write_plan_at(sp->dirfd, sp->dir, p, sync);
}

int spool_plan_path(const char *dir, const struct plan *p, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%s-%06lu" PLAN_SUFFIX, dir, p->run_id, p->seq) >= (int)len ?
		       -ENAMETOOLONG : 0;
}

int spool_plan_write(struct spool *sp, const struct plan *p)
{
	return write_plan(sp, p, PLAN_DURABLE);
}

int spool_plan_create(struct spool *sp, const struct plan *p)
{
	return write_plan(sp, p, PLAN_UNSYNCED);
}

int spool_plan_remove(struct spool *sp, const struct plan *p)
{
	char name[128];
	int e;

	/* Once the plan is gone, the seq file keeps its number from being
	 * handed out again (and its key from being overwritten). */
	e = seq_persist(sp, p->run_id, p->seq + 1);
	if (e < 0)
		return e;
	snprintf(name, sizeof(name), "%s-%06lu" PLAN_SUFFIX, p->run_id, p->seq);
	if (unlinkat(sp->dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return fsync_dir(sp->dir);
}

int spool_plan_mark(struct spool *sp, const struct plan *p)
{
	/* The data before the name: a delivered plan is never torn (see
	 * drop_torn_plan). The caller fsyncs the spool once for a group. */
	return write_plan(sp, p, PLAN_DATA);
}

int spool_plans_remove(struct spool *sp, struct plan *const *p, size_t n)
{
	char name[128];
	size_t i, k;
	int e;

	/* As spool_plan_remove, for the whole group at once: every number is
	 * kept from coming back before any plan goes. */
	for (i = 0; i < n; i++) {
		unsigned long max = p[i]->seq;

		for (k = 0; k < n; k++)
			if (!strcmp(p[k]->run_id, p[i]->run_id) && p[k]->seq > max)
				max = p[k]->seq;
		e = seq_persist(sp, p[i]->run_id, max + 1); /* once per run: then a no-op */
		if (e < 0)
			return e;
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s-%06lu" PLAN_SUFFIX, p[i]->run_id, p[i]->seq);
		if (unlinkat(sp->dirfd, name, 0) < 0 && errno != ENOENT)
			return -errno;
	}
	return n ? fsync_dir(sp->dir) : 0;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int plan_file_from_json(const cJSON *o, struct plan_file *f)
{
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");
	const char *ino = jstr(o, "ino"), *mt = jstr(o, "mtime_ns"), *sha = jstr(o, "sha256");

	f->path = manifest_get_path(o, &f->len);
	if (!f->path || !cJSON_IsNumber(size) || !ino || !mt)
		return -1;
	/* a written set we cannot read whole is no written set: not a plan */
	if (cJSON_GetObjectItemCaseSensitive(o, "sha256") && (!sha || strlen(sha) != 64))
		return -1;
	if (sha) {
		memcpy(f->sha256, sha, 65);
		f->written = true;
	}
	f->id.size = (uint64_t)size->valuedouble;
	f->id.ino = strtoull(ino, NULL, 10);
	f->id.mtime_ns = strtoll(mt, NULL, 10);
	return 0;
}

static int plan_from_json(const cJSON *root, struct plan *p)
{
	const char *run = jstr(root, "run_id"), *bundle = jstr(root, "bundle"),
		   *key = jstr(root, "key"), *created = jstr(root, "created"), *sha;
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(root, "seq");
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
	const cJSON *marker = cJSON_GetObjectItemCaseSensitive(root, "marker");
	const cJSON *origin = cJSON_GetObjectItemCaseSensitive(root, "origin");
	const cJSON *f;
	size_t i = 0;

	if (!run || !runid_valid(run) || !bundle || strlen(bundle) >= sizeof(p->bundle) ||
	    strchr(bundle, '/') || bundle[0] == '.' || !key || !created ||
	    strlen(created) >= sizeof(p->created) || !cJSON_IsNumber(seq) ||
	    !cJSON_IsArray(files))
		return -1;
	memcpy(p->run_id, run, 33);
	p->seq = (unsigned long)seq->valuedouble;
	strcpy(p->bundle, bundle);
	strcpy(p->created, created);
	p->key = strdup(key);
	p->delivered = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "delivered"));
	/* absent (a plan of an older covship): nothing is known to be written */
	p->bundled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "bundled"));
	sha = jstr(root, "bundle_sha256");
	/* absent in plans written before it was recorded: the bundle is then
	 * hashed when it is sent, as it was */
	if (sha && strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64)
		memcpy(p->bundle_sha256, sha, 65);
	if (cJSON_IsObject(marker))
		p->marker = cJSON_Duplicate(marker, 1);
	/* No origin: written by a covship before plans were bound (ship.c
	 * decides what to do with it); a malformed one: not a plan. */
	if (origin && origin_from_json(origin, &p->origin) < 0)
		return -1;
	p->nfiles = (size_t)cJSON_GetArraySize(files);
	p->files = calloc(p->nfiles ? p->nfiles : 1, sizeof(*p->files));
	if (!p->key || !p->files)
		return -1;
	cJSON_ArrayForEach(f, files) {
		if (plan_file_from_json(f, &p->files[i++]) < 0)
			return -1;
	}
	return 0;
}

/* 0, -1 (could not be read), or PLAN_TORN: read whole, but not a plan. */
#define PLAN_TORN (-2)

static int load_plan(struct spool *sp, const char *name, struct plan *p)
{
	int fd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf = NULL;
	cJSON *j = NULL;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > 64 * 1024 * 1024)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		goto out;
	j = cJSON_ParseWithLength(buf, (size_t)st.st_size);
	if (j && plan_from_json(j, p) == 0)
		rc = 0;
	else
		rc = PLAN_TORN; /* (or out of memory: see drop_torn_plan) */
out:
	if (rc < 0)
		plan_free(p);
	cJSON_Delete(j);
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int plan_cmp(const void *a, const void *b)
{
	const struct plan *x = a, *y = b;
	int c = strcmp(x->created, y->created);

	if (c)
		return c;
	c = strcmp(x->run_id, y->run_id);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool is_plan_name(const char *n)
{
	size_t len = strlen(n), k = strlen(PLAN_SUFFIX);

	return n[0] != '.' && len > k && !strcmp(n + len - k, PLAN_SUFFIX);
}

/* Is `b` the name of a bundle of the plan whose stem (name without
 * PLAN_SUFFIX) is stem[0..n)? "<run_id>-<seq>" plans bundle "<run_id>-<seq>"
 * (an older covship) or "<run_id>-<any spool id>-<seq>", either compression. */
static bool bundle_of_stem(const char *b, const char *stem, size_t n)
{
	static const char *const ext[] = { ".tar.gz", ".tar.zst" };
	const char *dash = memrchr(stem, '-', n), *tail;
	size_t run = dash ? (size_t)(dash - stem) : 0, len = strlen(b), i;

	if (!dash)
		return false;
	for (i = 0; i < 2; i++) {
		size_t el = strlen(ext[i]);

		if (len <= el || strcmp(b + len - el, ext[i]))
			continue;
		if (len - el == n && !memcmp(b, stem, n))
			return true; /* the old name */
		/* "<run_id>-" ... "-<seq>" + ext, with something between */
		tail = b + len - el - (n - run);
		if (len - el > n + 1 && !memcmp(b, stem, run + 1) && !memcmp(tail, dash, n - run))
			return true;
	}
	return false;
}

/* Is there a bundle (either compression, any spool id) for the plan `name`? */
static bool has_bundle(struct spool *sp, const char *name)
{
	size_t stem = strlen(name) - strlen(PLAN_SUFFIX);
	DIR *d = spool_opendir(sp);
	struct dirent *de;
	bool found = false;

	if (!d)
		return true; /* when in doubt, it is not ours to remove */
	while (!found && (errno = 0, de = readdir(d)))
		found = bundle_of_stem(de->d_name, name, stem);
	if (!found && errno)
		found = true; /* the listing broke off: in doubt */
	closedir(d);
	return found;
}

/*
 * A plan that is not a plan and has no bundle: a machine crash cut its
 * creation short (spool_plan_create writes it without an fsync of its own;
 * the fsync before its bundle is named makes it durable). Nothing was
 * bundled or delivered from it, no file was removed for it: its files are
 * simply planned again. Even a whole plan misread (out of memory) without
 * a bundle is safe to drop: it is either not bundled yet (nothing
 * delivered) or delivered with its sources already removed (they go before
 * the bundle, and a delivered plan is rewritten with an fsync before its
 * rename), so planning its files again ships nothing twice.
 */
static void drop_torn_plan(struct spool *sp, const char *name)
{
	if (unlinkat(sp->dirfd, name, 0) < 0 && errno != ENOENT)
		log_warn("spool: cannot remove %s/%s: %s", sp->dir, name, strerror(errno));
	else
		log_warn("spool: removed %s/%s, a plan whose writing a crash cut short (no "
			 "bundle was made from it); its files are planned again", sp->dir, name);
}

int spool_plan_load_all(struct spool *sp, struct plan **plans, size_t *n)
{
	DIR *d = spool_opendir(sp);
	struct plan *v = NULL;
	size_t cnt = 0;
	struct dirent *de;
	int e;

	*plans = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct plan *nv;

		if (!is_plan_name(de->d_name))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		e = load_plan(sp, de->d_name, &v[cnt]);
		if (e == PLAN_TORN && !has_bundle(sp, de->d_name)) {
			drop_torn_plan(sp, de->d_name);
			continue;
		}
		if (e < 0) {
			log_error("spool: %s/%s is unreadable; left in place, inspect it by hand",
				  sp->dir, de->d_name);
			continue;
		}
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), plan_cmp);
	*plans = v;
	*n = cnt;
	return 0;
}

void spool_plans_free(struct plan *plans, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		plan_free(&plans[i]);
	free(plans);
}

int spool_bundle_path(const struct spool *sp, const struct plan *p, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%s", sp->dir, p->bundle) >= (int)len ? -ENAMETOOLONG : 0;
}

bool spool_plan_exists(struct spool *sp, const struct plan *p)
{
	char name[128];

	snprintf(name, sizeof(name), "%s-%06lu" PLAN_SUFFIX, p->run_id, p->seq);
	/* any error but "gone" counts as present: it is still to be dealt with */
	return faccessat(sp->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

long spool_pending(struct spool *sp)
{
	DIR *d = spool_opendir(sp);
	struct dirent *de;
	long cnt = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (is_plan_name(de->d_name))
			cnt++;
	closedir(d);
	return cnt;
}

int spool_status_write(struct spool *sp, const char *state, const char *last_error, long pending)
{
	char now[TIMEFMT_RFC3339_LEN];
	cJSON *j = cJSON_CreateObject();
	char *s;
	int e;

	if (!j)
		return -ENOMEM;
	timefmt_rfc3339_now(now);
	cJSON_AddNumberToObject(j, "pid", (double)getpid());
	cJSON_AddStringToObject(j, "state", state);
	cJSON_AddStringToObject(j, "updated", now);
	cJSON_AddNumberToObject(j, "pending", (double)pending);
	cJSON_AddItemToObject(j, "last_error",
			      last_error ? cJSON_CreateString(last_error) : cJSON_CreateNull());
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!s)
		return -ENOMEM;
	e = atomic_write_file(sp->dir, "status.json", s, strlen(s), 0644);
	cJSON_free(s);
	return e;
}
