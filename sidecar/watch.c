/* SPDX-License-Identifier: MIT */
/*
 * `covship watch`: wait on inotify events and signals (never polling while
 * idle), decide what is final (finality.h), ship it (ship.h), retry failed
 * deliveries with backoff, and drain on SIGTERM/SIGINT.
 */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <inotifytools/inotifytools.h>

#include "atomic_file.h"
#include "finality.h"
#include "handoff.h"
#include "inotify_fd.h"
#include "log.h"
#include "runid.h"
#include "ship.h"
#include "snapmap.h"
#include "stage.h"
#include "timefmt.h"

#define EVENTS_DONE (IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)
#define EVENTS_SNAPSHOT (EVENTS_DONE | IN_MODIFY)

struct watcher {
	struct options o;
	struct shipper sh;
	char root[PATH_MAX];   /* --dir with one trailing '/', as inotifytools names it */
	int ifd;               /* inotifytools' descriptor (we read it, see read_events) */
	int sfd;               /* signalfd for SIGTERM/SIGINT */
	int events;
	bool dirty;            /* something happened since the last evaluation */
	bool draining;
	int64_t drain_deadline;
	int64_t retry_at;      /* 0: nothing to retry */
	bool retry_unreadable; /* scheduled only for files that could not be read */
	unsigned backoff_s;
	int64_t next_snapshot; /* 0: snapshot mode off */
	int64_t start_mono;
	char local_run_id[RUNID_LEN + 1]; /* for snapshots outside a shim run */
	struct snapmap snaps;
	/* idle hand-off to covship-idle (handoff.h) */
	int argc;              /* watch's argv, for covship-idle and back */
	char **argv;
	bool idle_check;       /* a start or a delivery may have left nothing to do */
	bool from_idle;        /* back from covship-idle: a quiet start */
	bool idle_failed;      /* covship-idle could not wait: never again here */
	bool root_gone;        /* --dir is no longer the directory watched (root_still_there) */
	bool restart_failed;   /* maybe_restart() could not exec: not again */
};

static int64_t now_ms(void)
{
	return timefmt_monotonic_ms();
}

static int64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int setup_inotify(struct watcher *w)
{
	char dir[PATH_MAX], spool[PATH_MAX];
	const char *exclude[2] = { NULL, NULL };
	int inherited = inotify_fd_find(-1);
	size_t n;

	if (!inotifytools_initialize()) {
		log_error("inotify: cannot initialise: %s", strerror(inotifytools_error()));
		return -1;
	}

	/* A spool inside the volume must not wake us with our own writes. */
	if (realpath(w->o.dir, dir) && realpath(w->o.spool, spool) && (n = strlen(dir)) &&
	    !strncmp(spool, dir, n) && spool[n] == '/')
		exclude[0] = spool;
	if (!inotifytools_watch_recursively_with_exclude(w->o.dir, w->events, exclude)) {
		log_error("inotify: cannot watch %s: %s (raise fs.inotify.max_user_watches?)",
			  w->o.dir, strerror(inotifytools_error()));
		return -1;
	}
	w->ifd = inotify_fd_find(inherited);
	if (w->ifd < 0 || fcntl(w->ifd, F_SETFL, O_NONBLOCK) < 0) {
		log_error("inotify: descriptor not found in /proc/self/fd (is /proc mounted?)");
		return -1;
	}
	return 0;
}

static void drain_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

static int setup_signals(struct watcher *w)
{
	sigset_t set;

	drain_signals(&set);
	w->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return w->sfd < 0 ? -1 : 0;
}

/* Path of an event relative to --dir, or NULL when outside it. */
static const char *event_relpath(struct watcher *w, struct inotify_event *ev, char *buf,
				 size_t len)
{
	const char *dir = inotifytools_filename_from_wd(ev->wd);
	size_t rl = strlen(w->root);

	if (!dir || snprintf(buf, len, "%s%s", dir, ev->len ? ev->name : "") >= (int)len)
		return NULL;
	if (strncmp(buf, w->root, rl))
		return NULL;
	return buf + rl;
}

static void note_event(struct watcher *w, struct inotify_event *ev)
{
	char full[PATH_MAX];
	const char *rel;
	struct snap_info *si;

	if (ev->mask & IN_Q_OVERFLOW) {
		log_warn("inotify: event queue overflowed; rescanning");
		w->dirty = true;
		return;
	}
	rel = event_relpath(w, ev, full, sizeof(full));
	if (!rel)
		return;
	if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
		/* a directory created later: watch it (and whatever it already holds) */
		if (!inotifytools_watch_recursively(full, w->events))
			log_warn("inotify: cannot watch %s: %s", full,
				 strerror(inotifytools_error()));
		w->dirty = true;
		return;
	}
	if (!(ev->mask & (IN_DELETE | IN_MOVED_FROM)))
		w->dirty = true;
	/* compress ahead what was closed; forget what went away */
	if (w->sh.stage && *rel && !(ev->mask & IN_ISDIR) &&
	    (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)))
		stage_note(w->sh.stage, rel, ev->mask & (IN_DELETE | IN_MOVED_FROM));
	if (!w->next_snapshot || !*rel)
		return;
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
		snapmap_remove(&w->snaps, rel);
		return;
	}
	si = snapmap_get(&w->snaps, rel, 1);
	if (!si)
		return;
	si->last_event_ms = now_ms();
	if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
		si->open_for_write = false;
		si->closed = true;
	} else if (ev->mask & (IN_MODIFY | IN_CREATE)) {
		si->open_for_write = true;
	}
}

/* We read the descriptor ourselves: inotifytools_next_event() cannot be asked
 * "is there another event?" without blocking (a zero timeout blocks). The
 * library still owns the watches and the wd -> directory names. */
static void read_events(struct watcher *w)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof(buf));
		char *p;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				log_warn("inotify: read: %s", strerror(errno));
			return;
		}
		for (p = buf; p + sizeof(struct inotify_event) <= buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			note_event(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void read_signals(struct watcher *w)
{
	struct signalfd_siginfo si;

	while (read(w->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (w->draining) {
			log_info("signal %u again: still draining", si.ssi_signo);
			continue;
		}
		w->draining = true;
		w->drain_deadline = now_ms() + (int64_t)w->o.drain_timeout * 1000;
		w->dirty = true;
		log_info("signal %u: draining (waiting up to %us for this run's done.json)",
			 si.ssi_signo, w->o.drain_timeout);
	}
}

/* Has the marker of run_id gone into a bundle already? Persisted in the
 * spool so that a restart does not ship a second marker-only bundle. */
static bool marker_shipped(struct watcher *w, const char *run_id)
{
	char name[64];

	snprintf(name, sizeof(name), "marker-%s", run_id);
	return faccessat(w->sh.spool.dirfd, name, F_OK, 0) == 0;
}

static void set_marker_shipped(struct watcher *w, const char *run_id)
{
	char name[64];
	int e;

	snprintf(name, sizeof(name), "marker-%s", run_id);
	e = atomic_write_file(w->sh.spool.dir, name, "1\n", 2, 0600);
	if (e < 0)
		log_warn("spool: cannot record the marker of %s: %s", run_id, strerror(-e));
}

/* The next delay of the retry backoff: 1, 2, 4 ... seconds, capped at
 * --retry-max (0 counts as 1: a zero delay would be a busy loop). */
static int64_t next_backoff_ms(struct watcher *w)
{
	unsigned cap = w->o.retry_max ? w->o.retry_max : 1;

	w->backoff_s = w->backoff_s ? w->backoff_s * 2 : 1;
	if (w->backoff_s > cap)
		w->backoff_s = cap;
	return (int64_t)w->backoff_s * 1000;
}

/*
 * After any attempt: while bundles wait in the spool, or files that could
 * not be read wait in the volume, a retry stays scheduled (doubling up to
 * --retry-max), whatever the last step did. A
 * retry that is due (it just ran, DEST_FATAL included) is always moved
 * forward: left in the past, the poll timeout would stay 0 and the same
 * bundle would be sent and logged on every loop turn. A retry still ahead
 * is left alone by successes and permanent failures (an event must not put
 * it off forever); a transient failure, or an attempt at an unreadable
 * file, reschedules it.
 */
static void note_result(struct watcher *w, enum dest_result r)
{
	long pending = spool_pending(&w->sh.spool);
	int64_t t = now_ms();

	w->idle_check = true;
	if (r == DEST_OK && pending == 0)
		w->sh.failed = false; /* nothing failed is left */
	w->retry_unreadable = r == DEST_OK && pending == 0 && ship_unreadable_left(&w->sh);
	if (r == DEST_OK && pending == 0 && !w->retry_unreadable) {
		w->backoff_s = 0;
		w->retry_at = 0;
		ship_status(&w->sh, "ok");
		return;
	}
	if (r == DEST_RETRY || !w->retry_at || w->retry_at <= t || w->retry_unreadable)
		w->retry_at = t + next_backoff_ms(w);
	ship_status(&w->sh, "retrying");
}

/* Marker rule: done.json of the current run makes every matching file final.
 * The second read proves no new run started while we scanned (the shim
 * removes done.json before it starts anything). */
static enum dest_result ship_marker_final(struct watcher *w, const struct run_state *rs)
{
	struct filelist files = { 0 };
	struct run_state again;
	enum dest_result r = DEST_OK;
	bool with_marker = !marker_shipped(w, rs->run_id);
	int e;

	/* every file is final: the re-hash of the staged ones can start now,
	 * alongside the scan, the plan and the bundle (it is the longest) */
	if (w->sh.stage)
		stage_prove_all(w->sh.stage, w->sh.rootfd);
	e = ship_unclaimed(&w->sh, &files);

	finality_read(w->sh.rootfd, &again);
	if (e < 0) {
		log_error("reading %s: %s", w->o.dir, strerror(-e));
		r = DEST_RETRY;
	} else if (!run_state_same(rs, &again)) {
		w->dirty = true; /* a new run began mid-scan: look again */
	} else if (files.n || with_marker) {
		bool planned;

		r = ship_files(&w->sh, rs->run_id, with_marker ? rs->done : NULL, &files, &planned);
		if (with_marker && planned)
			set_marker_shipped(w, rs->run_id);
	}
	if (w->sh.stage)
		stage_forget_proofs(w->sh.stage); /* none outlives this look */
	run_state_free(&again);
	filelist_free(&files);
	return r;
}

static bool settled(struct watcher *w, const struct scan_file *f, int64_t mono, int64_t real)
{
	struct snap_info dflt = { false, true, w->start_mono };
	struct snap_info *si = snapmap_get(&w->snaps, f->path, 0);

	return snapshot_final(si ? si : &dflt, f->id.mtime_ns, real, mono, w->o.settle);
}

/* Snapshot rule: ship what is closed and settled. */
static enum dest_result ship_settled(struct watcher *w, const struct run_state *rs)
{
	struct filelist all = { 0 }, fin = { 0 };
	int64_t mono = now_ms(), real = now_real_ns();
	enum dest_result r = DEST_OK;
	size_t i;
	int e = ship_unclaimed(&w->sh, &all);

	for (i = 0; !e && i < all.n; i++)
		if (settled(w, &all.v[i], mono, real))
			e = filelist_add(&fin, all.v[i].path, &all.v[i].id);
	if (e < 0) {
		log_error("reading %s: %s", w->o.dir, strerror(-e));
		r = DEST_RETRY;
	} else if (fin.n) {
		r = ship_files(&w->sh, rs->have_run ? rs->run_id : w->local_run_id, NULL, &fin,
			       NULL);
	}
	filelist_free(&all);
	filelist_free(&fin);
	return r;
}

static enum dest_result worse(enum dest_result a, enum dest_result b)
{
	return a == DEST_RETRY || b == DEST_RETRY ? DEST_RETRY : a > b ? a : b;
}

/* One look at the world after events, a timer or a signal. */
static void evaluate(struct watcher *w, struct run_state *rs)
{
	enum dest_result r = DEST_OK;
	int64_t t = now_ms();
	bool acted = false;

	if (w->retry_at && t >= w->retry_at) {
		r = ship_pending(&w->sh);
		w->dirty = true; /* a plan may have failed before it existed */
		acted = true;
	}
	finality_read(w->sh.rootfd, rs);
	if (w->dirty && rs->done && r != DEST_RETRY) {
		w->dirty = false;
		r = worse(r, ship_marker_final(w, rs));
		acted = true;
	}
	if (w->next_snapshot && t >= w->next_snapshot && r != DEST_RETRY) {
		r = worse(r, ship_settled(w, rs));
		w->next_snapshot = t + (int64_t)w->o.snapshot_interval * 1000;
		acted = true;
	}
	if (!rs->done)
		w->dirty = false;
	if (acted)
		note_result(w, r);
	/* one file per turn: an event or a signal never waits long for it */
	if (w->sh.stage && !w->dirty && stage_busy(w->sh.stage))
		stage_step(w->sh.stage, w->sh.rootfd);
}

static int poll_timeout(struct watcher *w)
{
	int64_t t = now_ms(), due = INT64_MAX;

	if (w->retry_at)
		due = w->retry_at;
	if (w->next_snapshot && w->next_snapshot < due)
		due = w->next_snapshot;
	if (w->draining && w->drain_deadline < due)
		due = w->drain_deadline;
	if (w->dirty || (w->sh.stage && stage_busy(w->sh.stage)))
		return 0;
	if (due == INT64_MAX)
		return -1; /* idle: sleep until an event or a signal */
	if (due <= t)
		return 0;
	return due - t > INT_MAX ? INT_MAX : (int)(due - t);
}

/* Say which coverage files stay in the volume: those that could not be
 * read (each was named with the fix when it was tried) and those that
 * never became final. Returns 1 when there are any. */
static int report_left(struct watcher *w, const struct filelist *left)
{
	size_t i, unread = 0;
	const char *first = NULL;

	for (i = 0; i < left->n; i++) {
		if (ship_is_unreadable(&w->sh, &left->v[i]))
			unread++;
		else if (!first)
			first = left->v[i].path;
	}
	if (unread)
		log_error("%zu coverage file(s) in %s could not be read and stay there (the "
			  "\"cannot read\" lines above name them and the fix)", unread, w->o.dir);
	if (first)
		log_error("%zu coverage file(s) in %s were not final and stay there (first: %s)",
			  left->n - unread, w->o.dir, first);
	return left->n ? 1 : 0;
}

/* Final pass when the drain ends: ship what is settled, try the spool one
 * last time, and say what is left. Returns the exit status. */
static int finish(struct watcher *w, const struct run_state *rs, bool timed_out)
{
	struct filelist left = { 0 };
	long pending;
	int rc = 0, e;

	if (timed_out) {
		log_warn("drain timeout (%us): %s", w->o.drain_timeout,
			 !rs->have_run ? "no run.json (no covship-shim?); shipping only settled files" :
			 !rs->done ? "this run's done.json never came; shipping only settled files" :
				     "last attempt at what is left");
		if (!w->next_snapshot)
			w->next_snapshot = 1; /* the snapshot rule's settle check, once */
		(void)ship_settled(w, rs);
	}
	(void)ship_pending(&w->sh);
	pending = spool_pending(&w->sh.spool);
	if (pending != 0) {
		log_error("%ld bundle(s) left in the spool %s: %s", pending, w->o.spool,
			  w->sh.last_error[0] ? w->sh.last_error : "not delivered");
		rc = 1;
	}
	e = ship_unclaimed(&w->sh, &left);
	if (e == 0 && report_left(w, &left)) {
		rc = 1;
	} else if (e < 0 || w->root_gone) {
		/* what it holds cannot be known: not "everything delivered" */
		log_error("cannot tell what is left in %s: %s", w->o.dir,
			  e < 0 ? strerror(-e) : "it went away while watching");
		rc = 1;
	}
	filelist_free(&left);
	ship_status(&w->sh, rc ? "stopped-with-leftovers" : "stopped");
	if (!rc)
		log_info("drained: everything delivered");
	return rc;
}

/* Drain ends once this run's marker was shipped and nothing waits in the
 * spool. Without run.json there is no marker to wait for, and no way to know
 * the files are complete: we keep watching until --drain-timeout and then
 * ship only what the snapshot rule calls settled. */
static bool drain_complete(struct watcher *w, const struct run_state *rs)
{
	/* files that could not be read wait for a human, not for the drain */
	if (w->dirty || (w->retry_at && !w->retry_unreadable))
		return false;
	if (!rs->have_run || !rs->done || !marker_shipped(w, rs->run_id))
		return false;
	return spool_pending(&w->sh.spool) == 0;
}

/* Events or a signal not read yet: handle them before going idle. */
static bool input_waiting(struct watcher *w)
{
	struct pollfd pfd[2] = { { w->sfd, POLLIN, 0 }, { w->ifd, POLLIN, 0 } };

	return poll(pfd, 2, 0) != 0;
}

/* Nothing to do: no bundle in the spool, this run's marker (if any)
 * shipped, no coverage file in the volume (staging or bundling would want
 * it). */
static bool nothing_to_do(struct watcher *w)
{
	struct filelist files = { 0 };
	struct run_state rs;
	bool idle = spool_pending(&w->sh.spool) == 0;

	finality_read(w->sh.rootfd, &rs);
	if (idle && rs.done)
		idle = marker_shipped(w, rs.run_id);
	run_state_free(&rs);
	if (idle)
		idle = ship_unclaimed(&w->sh, &files) == 0 && files.n == 0;
	filelist_free(&files);
	return idle;
}

/*
 * With nothing to do and nothing scheduled, this process becomes the small
 * covship-idle (same PID, same spool lock) until there is possibly work,
 * which then execs covship watch again: idle, the delivery libraries are not
 * mapped. Any failure keeps us here, as with --no-idle-exec.
 */
static void maybe_idle(struct watcher *w)
{
	char done_id[HANDOFF_DONE_ID_LEN];
	int e;

	if (!w->idle_check || w->dirty || (w->sh.stage && stage_busy(w->sh.stage)) ||
	    input_waiting(w))
		return; /* look again once they are handled */
	w->idle_check = false;
	/* keep-sources: what was delivered stays, known only to this process;
	 * snapshots: a timer runs and files need their event history */
	if (w->o.no_idle_exec || w->o.keep_sources || w->o.snapshot_interval || w->idle_failed ||
	    w->draining || w->retry_at)
		return;
	handoff_done_id(w->sh.rootfd, done_id); /* first: a later done.json differs */
	if (!nothing_to_do(w))
		return;
	if (input_waiting(w)) {
		w->idle_check = true;
		return;
	}
	log_debug("idle: nothing to do; waiting in " HANDOFF_IDLE_NAME);
	e = handoff_to_idle(w->argc, w->argv, w->sh.spool.lockfd, done_id);
	log_debug("idle: staying in covship watch: %s " HANDOFF_IDLE_NAME ": %s",
		  e == -ENOENT ? "no" : "cannot exec", strerror(-e));
}

/* Is --dir still the directory we watch? Not when it was removed (no link
 * left: our descriptor keeps it alive, and its watch with it, so no event
 * says so) or its path names another one now (moved away, unmounted). One
 * fstat and one stat per loop turn. */
static bool root_still_there(struct watcher *w)
{
	struct stat held, now;

	if (fstat(w->sh.rootfd, &held) < 0 || held.st_nlink == 0 || stat(w->o.dir, &now) < 0)
		return false;
	return held.st_dev == now.st_dev && held.st_ino == now.st_ino;
}

/*
 * --dir went away under a running watcher: its descriptor and watches are
 * of the old directory, which cannot come back. Once the spool is empty
 * (bundles there still go out meanwhile), start again in place, as on
 * waking from covship-idle: that start waits for --dir with the retry
 * backoff and watches it again once it is back. Not with --keep-sources
 * (what was delivered is known only to this process) nor --no-idle-exec
 * (no exec wanted); the watcher then stays, and the drain ends in exit 1.
 */
static void maybe_restart(struct watcher *w)
{
	int e;

	if (!w->root_gone && !root_still_there(w)) {
		/* Nothing written there reaches us any more. Delivery of the spool
		 * goes on; a drain ends with exit 1 (finish). */
		w->root_gone = true;
		log_error("--dir %s went away while watching (removed, moved or unmounted): "
			  "nothing written there is seen any more until it is back", w->o.dir);
	}
	if (!w->root_gone || w->restart_failed || w->draining || w->o.keep_sources ||
	    w->o.no_idle_exec || spool_pending(&w->sh.spool) != 0 || input_waiting(w))
		return;
	log_info("restarting in place to wait for --dir %s", w->o.dir);
	e = handoff_restart(w->argc, w->argv, w->sh.spool.lockfd);
	w->restart_failed = true;
	log_warn("cannot restart in place (%s); staying, without --dir %s", strerror(-e),
		 w->o.dir);
}

static int loop(struct watcher *w)
{
	for (;;) {
		struct pollfd pfd[2] = { { w->sfd, POLLIN, 0 }, { w->ifd, POLLIN, 0 } };
		struct run_state rs;
		int n = poll(pfd, 2, poll_timeout(w));

		if (n < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			return 1;
		}
		if (n > 0 && (pfd[0].revents & POLLIN))
			read_signals(w);
		if (n > 0 && (pfd[1].revents & POLLIN))
			read_events(w);
		evaluate(w, &rs);
		if (w->draining && (drain_complete(w, &rs) || now_ms() >= w->drain_deadline)) {
			int rc = finish(w, &rs, !drain_complete(w, &rs));

			run_state_free(&rs);
			return rc;
		}
		run_state_free(&rs);
		maybe_restart(w);
		maybe_idle(w);
	}
}

/* Set up and deliver the spool's leftovers. Returns 0, the exit status (2:
 * bad configuration, only on a first start), or -1: back from covship-idle
 * into a world that changed (e.g. --dir gone); the line is logged and
 * start_again_later() tries again. */
static int start(struct watcher *w)
{
	size_t n = strlen(w->o.dir);

	if (snprintf(w->root, sizeof(w->root), "%s%s", w->o.dir,
		     n && w->o.dir[n - 1] == '/' ? "" : "/") >= (int)sizeof(w->root)) {
		log_error("--dir: path too long");
		return 2;
	}
	if (shipper_open(&w->sh, &w->o, w->from_idle) < 0)
		return w->from_idle ? -1 : 2;
	if (runid_generate(w->local_run_id) < 0) {
		log_error("start-up: %s", strerror(errno));
		return 1;
	}
	w->events = w->o.snapshot_interval ? EVENTS_SNAPSHOT : EVENTS_DONE;
	if (setup_inotify(w) < 0) {
		/* from idle: --dir may have gone between its open and its watch */
		if (w->from_idle)
			snprintf(w->sh.last_error, sizeof(w->sh.last_error), "cannot watch %s",
				 w->o.dir);
		return w->from_idle ? -1 : 1;
	}
	w->start_mono = now_ms();
	if (w->o.snapshot_interval)
		w->next_snapshot = w->start_mono + (int64_t)w->o.snapshot_interval * 1000;
	log_msg(w->from_idle ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
		"watching %s -> %s (spool %s, format %s%s)", w->o.dir, w->o.dest, w->o.spool,
		w->o.format, w->o.snapshot_interval ? ", snapshots" : "");
	/* Leftovers of an earlier life go first. */
	note_result(w, ship_pending(&w->sh));
	/* marker rule: files are complete long before done.json, compress ahead */
	if (!w->o.snapshot_interval)
		ship_stage_start(&w->sh);
	w->dirty = true;
	return 0;
}

/* Undo a start() that failed part-way, so that it can run again. */
static void unstart(struct watcher *w)
{
	inotifytools_cleanup(); /* a no-op when it was not initialised */
	w->ifd = -1;
	shipper_close(&w->sh);
}

/*
 * Back from covship-idle, start() failed. The configuration was accepted
 * when the watcher started (same argv, same environment, checked then),
 * so what failed is the world: --dir removed or unmounted, the spool
 * gone. A runtime error, never exit 2: try again with the retry backoff
 * (one line per attempt, from start()); SIGTERM/SIGINT gets one last
 * attempt and then exit 1, the reason named. The spool was empty when the
 * watcher went idle, so nothing spooled waits meanwhile. Returns 0 once
 * started (draining if a signal came), else the exit status.
 */
static int start_again_later(struct watcher *w)
{
	char why[sizeof(w->sh.last_error)];

	for (;;) {
		struct pollfd pfd = { w->sfd, POLLIN, 0 };
		int64_t delay;
		int n, rc;

		snprintf(why, sizeof(why), "%s", w->sh.last_error[0] ? w->sh.last_error :
			 "cannot start");
		unstart(w);
		delay = next_backoff_ms(w);
		n = poll(&pfd, 1, (int)delay);
		if (n < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			return 1;
		}
		if (n > 0)
			read_signals(w);
		rc = start(w);
		if (rc == 0)
			log_info("watching %s again", w->o.dir);
		if (rc >= 0)
			return rc;
		if (w->draining) {
			log_error("stopping: %s; nothing was bundled since then (what --dir "
				  "holds stays there)", w->sh.last_error[0] ? w->sh.last_error : why);
			return 1;
		}
	}
}

int cmd_watch(int argc, char **argv)
{
	struct watcher w;
	sigset_t set;
	int rc;

	/* Blocked from the first instant: a SIGTERM during start-up (delivering
	 * leftovers can take a while) waits in the signalfd and starts the drain
	 * instead of killing us. */
	drain_signals(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		log_error("sigprocmask: %s", strerror(errno));
		return 1;
	}
	memset(&w, 0, sizeof(w));
	w.ifd = w.sfd = -1;
	w.argc = argc;
	w.argv = argv;
	w.from_idle = handoff_returned(&w.idle_failed);
	w.sh.rootfd = w.sh.spool.dirfd = w.sh.spool.lockfd = -1;
	rc = options_load(OPTIONS_WATCH, argc, argv, &w.o);
	if (rc >= 0)
		return rc;
	if (setup_signals(&w) < 0) {
		log_error("start-up: signalfd: %s", strerror(errno));
		options_free(&w.o);
		return 1;
	}
	rc = start(&w);
	if (rc < 0)
		rc = start_again_later(&w);
	if (rc == 0)
		rc = loop(&w);
	inotifytools_cleanup();
	if (w.sfd >= 0)
		close(w.sfd);
	snapmap_free(&w.snaps);
	shipper_close(&w.sh);
	options_free(&w.o);
	return rc;
}
