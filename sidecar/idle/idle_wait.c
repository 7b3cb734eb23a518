/* SPDX-License-Identifier: MIT */
#include "idle_wait.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <inotifytools/inotifytools.h>

#include "handoff.h"
#include "inotify_fd.h"
#include "log.h"
#include "matcher.h"
#include "scan.h"

/* Only what can make work: closes and moves in (files, done.json), new
 * directories, and --dir itself moved away (its removal ends the watch:
 * IN_IGNORED). IN_Q_OVERFLOW comes anyway. */
#define IDLE_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MOVE_SELF)
#define DONE_RELPATH SCAN_MARKER_DIR "/done.json"

struct idle {
	const struct options *o;
	const char *done_id;
	char root[PATH_MAX]; /* --dir with one trailing '/', as inotifytools names it */
	int rootfd;
	int ifd;
	int sfd;
	struct matcher m;
	struct scanner sc;
};

/* The same look as the watcher's before it went idle: any matching regular
 * file (scan.h's rules, so what the watcher would not take never wakes it
 * in a loop), or another done.json. --dir is opened for the look only: an
 * open descriptor would keep a removed --dir from ending its watch, and
 * its IN_IGNORED is what tells us it went away. */
static bool work_waiting(struct idle *s)
{
	struct filelist files = { 0 };
	char id[HANDOFF_DONE_ID_LEN];
	int e;
	bool work;

	s->rootfd = open(s->o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		log_debug("idle: cannot open --dir: %s", strerror(errno));
		return true; /* the watcher says why, and waits for it */
	}
	s->sc.rootfd = s->rootfd;
	e = scan_tree(&s->sc, &files);
	work = e < 0 || files.n > 0;
	if (work)
		log_debug("idle: %s", e < 0 ? "cannot read the volume" : "coverage file present");
	filelist_free(&files);
	handoff_done_id(s->rootfd, id);
	close(s->rootfd); /* read-only: nothing to report */
	s->rootfd = s->sc.rootfd = -1;
	if (!work && strcmp(id, s->done_id)) {
		log_debug("idle: a new done.json");
		work = true;
	}
	return work;
}

/* A spool inside the volume must not wake us with the watcher's writes;
 * the scanner skips it too. */
static const char *spool_inside(struct idle *s, char *spool)
{
	char dir[PATH_MAX];
	struct stat st;
	size_t n;

	if (stat(s->o->spool, &st) == 0) {
		s->sc.skip_dev = st.st_dev;
		s->sc.skip_ino = st.st_ino;
	}
	if (realpath(s->o->dir, dir) && realpath(s->o->spool, spool) && (n = strlen(dir)) &&
	    !strncmp(spool, dir, n) && spool[n] == '/')
		return spool;
	return NULL;
}

static int setup(struct idle *s)
{
	char spool[PATH_MAX];
	const char *exclude[2] = { NULL, NULL };
	size_t n = strlen(s->o->dir);
	int inherited;
	sigset_t set;

	if (snprintf(s->root, sizeof(s->root), "%s%s", s->o->dir,
		     n && s->o->dir[n - 1] == '/' ? "" : "/") >= (int)sizeof(s->root))
		return -1;
	matcher_init(&s->m, s->o->format, s->o->include, s->o->ninclude, s->o->exclude,
		     s->o->nexclude);
	s->sc.matcher = &s->m;
	exclude[0] = spool_inside(s, spool);
	/* still blocked since covship watch: polled, never read, so a signal
	 * stays pending for the watcher's signalfd */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	inherited = inotify_fd_find(-1);
	if (s->sfd < 0 || !inotifytools_initialize() ||
	    !inotifytools_watch_recursively_with_exclude(s->o->dir, IDLE_EVENTS, exclude))
		return -1;
	s->ifd = inotify_fd_find(inherited);
	return s->ifd < 0 || fcntl(s->ifd, F_SETFL, O_NONBLOCK) < 0 ? -1 : 0;
}

static bool event_is_work(struct idle *s, const struct inotify_event *ev)
{
	const char *dir;
	const char *rel;
	char full[PATH_MAX];
	size_t rl = strlen(s->root);

	if (ev->mask & IN_Q_OVERFLOW) {
		log_debug("idle: inotify queue overflowed");
		return true;
	}
	dir = inotifytools_filename_from_wd(ev->wd);
	if (!dir || snprintf(full, sizeof(full), "%s%s", dir, ev->len ? ev->name : "") >=
			    (int)sizeof(full) || strncmp(full, s->root, rl))
		return false;
	rel = full + rl;
	if (!*rel && (ev->mask & (IN_IGNORED | IN_UNMOUNT | IN_DELETE_SELF | IN_MOVE_SELF))) {
		/* --dir itself removed, moved or unmounted: nothing comes here
		 * any more; the watcher says so and waits for it to come back */
		log_debug("idle: --dir went away");
		return true;
	}
	if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
		/* watch it, then look at what it held before the watch */
		if (!inotifytools_watch_recursively(full, IDLE_EVENTS)) {
			log_debug("idle: cannot watch %s", full);
			return true;
		}
		return work_waiting(s);
	}
	if (!(ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) || (ev->mask & IN_ISDIR))
		return false;
	if (!strcmp(rel, DONE_RELPATH)) {
		log_debug("idle: done.json written");
		return true;
	}
	if (!strncmp(rel, SCAN_MARKER_DIR "/", sizeof(SCAN_MARKER_DIR)) ||
	    !strncmp(rel, SCAN_SPOOL_DIR "/", sizeof(SCAN_SPOOL_DIR)) ||
	    !matcher_match(&s->m, rel))
		return false;
	log_debug("idle: %s written", rel);
	return true;
}

/* true when an event (of those queued) says there is possibly work */
static bool read_events(struct idle *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(s->ifd, buf, sizeof(buf));
		char *p;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno != EAGAIN; /* a broken descriptor: hand over */
		for (p = buf; p + sizeof(struct inotify_event) <= buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (event_is_work(s, ev))
				return true;
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* true: possibly work; false: cannot wait (poll failed) */
static bool wait_events(struct idle *s)
{
	for (;;) {
		struct pollfd pfd[2] = { { s->sfd, POLLIN, 0 }, { s->ifd, POLLIN, 0 } };

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_debug("idle: poll: %s", strerror(errno));
			return false;
		}
		if (pfd[0].revents & POLLIN) {
			log_debug("idle: signal pending");
			return true;
		}
		if ((pfd[1].revents & (POLLIN | POLLERR | POLLHUP)) && read_events(s))
			return true;
	}
}

bool idle_wait(const struct options *o, const char *done_id)
{
	struct idle s;
	bool ok = true;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.done_id = done_id;
	s.rootfd = s.ifd = s.sfd = -1;
	if (setup(&s) < 0) {
		int e = errno;
		struct stat st;

		/* --dir gone (since the watcher looked): the watcher's to tell and
		 * wait for; that is no reason never to idle again */
		ok = stat(o->dir, &st) < 0;
		log_debug("idle: %s (%s)", ok ? "--dir went away" :
			  "cannot wait in " HANDOFF_IDLE_NAME, strerror(e));
	} else if (!work_waiting(&s)) {
		ok = wait_events(&s);
	}
	inotifytools_cleanup();
	if (s.sfd >= 0)
		close(s.sfd);
	if (s.rootfd >= 0)
		close(s.rootfd);
	scanner_free(&s.sc);
	return ok;
}
