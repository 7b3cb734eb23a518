/* SPDX-License-Identifier: MIT */
#include "supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"
#include "log.h"
#include "proctree.h"

/*
 * A process whose parent dies while that parent is not the shim's child is
 * re-parented to the shim without any signal telling it so. While shutting
 * down (and only then: an idle shim never wakes) the shim therefore looks
 * at its children this often, so such an orphan gets its SIGTERM promptly.
 */
#define ADOPTION_SCAN_MS 100

void supervisor_init(struct supervisor *sv, const struct signals *sig, int64_t grace_ms,
		     pid_t main_pid)
{
	memset(sv, 0, sizeof(*sv));
	sv->sig = sig;
	sv->grace_ms = grace_ms;
	sv->self = getpid();
	sv->main_pid = main_pid;
	sv->main = (struct proc_record){ .pid = main_pid, .exit_code = -1 };
	sv->proc_usable = proctree_usable();
	if (!sv->proc_usable)
		log_warn("/proc is not mounted for this PID namespace: orphans adopted during "
			 "shutdown cannot be signalled (mount a fresh /proc, e.g. unshare "
			 "--mount-proc)");
}

void supervisor_free(struct supervisor *sv)
{
	proclist_free(&sv->procs);
	procsnap_free(&sv->tree);
}

int supervisor_exit_status(const struct supervisor *sv)
{
	if (sv->main.signal > 0)
		return 128 + sv->main.signal;
	return sv->main.exit_code >= 0 ? sv->main.exit_code : 255;
}

static struct proc_record *record(struct supervisor *sv, pid_t pid)
{
	struct proc_record *r = proclist_get(&sv->procs, pid);

	if (!r && !sv->oom_logged) {
		/* Reaping and signalling go on; only done.json loses detail. */
		log_error("out of memory: done.json will not list every descendant");
		sv->oom_logged = true;
	}
	return r;
}

static bool main_alive(const struct supervisor *sv)
{
	return !sv->main.reaped;
}

/* SIGTERM each child of the shim that has not had one: the adopted orphans. */
static void signal_orphans(struct supervisor *sv)
{
	struct pidvec kids = { 0 };
	int err;

	if (!sv->proc_usable)
		return;
	err = proctree_children(sv->self, &kids);
	if (err < 0)
		log_error("cannot list the shim's children in /proc: %s", strerror(-err));
	for (size_t i = 0; i < kids.n; i++) {
		pid_t pid = kids.v[i];
		struct proc_record *r;
		char comm[32];

		/* The main child gets the signals the shim received, nothing more. */
		if (pid == sv->main_pid && main_alive(sv))
			continue;
		r = proclist_find_live(&sv->procs, pid);
		if (r && (r->signalled || r->killed_at_grace))
			continue;
		if (proctree_is_zombie(pid))
			continue; /* exited already; the next reap() collects it */
		r = record(sv, pid);
		if (r)
			r->signalled = true;
		proctree_comm(pid, comm, sizeof(comm));
		if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
			log_error("cannot send SIGTERM to orphan %ld (%s): %s", (long)pid, comm,
				  strerror(errno));
		else
			log_info("sent SIGTERM to adopted orphan %ld (%s)", (long)pid, comm);
	}
	pidvec_free(&kids);
}

/*
 * Who is alive as shutdown begins, before anyone is signalled: pull names
 * the Python processes of this list that leave no data file (a worker that
 * gunicorn SIGKILLs after --graceful-timeout is reaped by gunicorn, so the
 * shim would never hear of it otherwise). Once per run, never while idle.
 */
static void take_tree(struct supervisor *sv)
{
	int err;

	if (sv->tree.taken || !sv->proc_usable)
		return;
	err = procsnap_take(&sv->tree, sv->self);
	if (err < 0)
		log_error("cannot record the descendant tree for done.json: %s", strerror(-err));
	if (sv->tree.truncated)
		log_warn("done.json lists only %zu of the descendants alive at stop (cap %d)",
			 sv->tree.n, PROCSNAP_MAX);
}

static void begin_shutdown(struct supervisor *sv, const char *why)
{
	take_tree(sv);
	sv->shutting_down = true;
	sv->deadline_ms = timefmt_monotonic_ms() + sv->grace_ms;
	sv->next_scan_ms = timefmt_monotonic_ms() + ADOPTION_SCAN_MS;
	log_info("shutting down (%s): waiting up to %.3g s for every descendant", why,
		 (double)sv->grace_ms / 1000.0);
	signal_orphans(sv);
}

/* Append the pids of the list to buf for one log line, "..." when too many. */
static void format_pids(const struct pidvec *pv, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < pv->n; i++) {
		int n = snprintf(buf + used, len - used, "%s%ld", i ? " " : "", (long)pv->v[i]);

		if (n < 0 || (size_t)n >= len - used) {
			snprintf(buf + (used < len - 4 ? used : len - 4), 4, "...");
			return;
		}
		used += (size_t)n;
	}
}

/* SIGKILL every descendant not killed yet; log who. FIRST: the grace just ran out. */
static void kill_remaining(struct supervisor *sv, bool first)
{
	struct pidvec all = { 0 }, fresh = { 0 };
	char pids[1024];
	int err = sv->proc_usable ? proctree_descendants(sv->self, &all) : 0;

	if (err < 0)
		log_error("cannot list descendants in /proc: %s", strerror(-err));
	/* Without a usable /proc the main child at least is known. */
	if (!sv->proc_usable && main_alive(sv) && pidvec_push(&all, sv->main_pid) < 0)
		log_error("out of memory listing descendants");
	for (size_t i = 0; i < all.n; i++) {
		struct proc_record *r = proclist_find_live(&sv->procs, all.v[i]);

		if (sv->proc_usable && proctree_is_zombie(all.v[i]))
			continue; /* exited on its own in time: not killed */
		if (all.v[i] == sv->main_pid && main_alive(sv)) {
			if (sv->main.killed_at_grace)
				continue;
			sv->main.killed_at_grace = true;
		} else {
			if (r && r->killed_at_grace)
				continue;
			r = record(sv, all.v[i]);
			if (r)
				r->killed_at_grace = true;
		}
		if (pidvec_push(&fresh, all.v[i]) < 0)
			log_error("out of memory listing killed pids");
		/* Outside our own PID namespace every pid must be named. */
		if (sv->self != 1 && kill(all.v[i], SIGKILL) < 0 && errno != ESRCH)
			log_error("cannot SIGKILL %ld: %s", (long)all.v[i], strerror(errno));
	}
	/*
	 * As PID 1 everything else in the namespace is ours: kill(-1) takes
	 * them all at once, including any forked since the walk above.
	 */
	if (sv->self == 1 && kill(-1, SIGKILL) < 0 && errno != ESRCH)
		log_error("cannot SIGKILL the namespace: %s", strerror(errno));
	if (fresh.n > 0) {
		format_pids(&fresh, pids, sizeof(pids));
		log_warn("grace of %.3g s expired: sent SIGKILL to %zu process(es): %s",
			 (double)sv->grace_ms / 1000.0, fresh.n, pids);
	} else if (first && sv->self == 1) {
		log_warn("grace of %.3g s expired: sent SIGKILL to every process in the namespace",
			 (double)sv->grace_ms / 1000.0);
	}
	pidvec_free(&all);
	pidvec_free(&fresh);
}

/* A SIGKILL the shim did not send (OOM killer, a supervisor inside the
 * app, kubectl/ECS): the process saved nothing. Flagged in done.json. */
static bool killed_by_other(const struct supervisor *sv, const struct proc_record *r,
			    int status)
{
	/* After the grace, as PID 1, kill(-1) also takes processes the walk did
	 * not list: every SIGKILL from then on is presumed the shim's. */
	return sv->shutting_down && !sv->grace_expired && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGKILL && !r->killed_at_grace;
}

static void log_killed_by_other(const struct supervisor *sv, pid_t pid)
{
	const struct procsnap_entry *e = procsnap_find(&sv->tree, pid);

	log_warn("descendant %ld (%s) died of a SIGKILL the shim did not send: its coverage "
		 "data is lost", (long)pid, e && e->cmd[0] ? e->cmd : "?");
}

static void on_reaped(struct supervisor *sv, pid_t pid, int status)
{
	int code = exitcode_from_wait(status);

	if (pid == sv->main_pid && main_alive(sv)) {
		proc_record_reaped(&sv->main, status);
		if (killed_by_other(sv, &sv->main, status)) {
			sv->main.killed_by_other = true;
			log_killed_by_other(sv, pid);
		}
		if (WIFSIGNALED(status)) {
			char buf[24];

			log_info("main child %ld died of %s (exit status %d)", (long)pid,
				 signals_name(WTERMSIG(status), buf), code);
		} else {
			log_info("main child %ld exited with %d", (long)pid, code);
		}
		if (!sv->shutting_down)
			begin_shutdown(sv, "main child exited");
		return;
	}
	if (!sv->shutting_down) {
		log_debug("reaped orphan %ld (status %d)", (long)pid, code);
		return;
	}
	{
		struct proc_record *r = record(sv, pid);

		if (r) {
			proc_record_reaped(r, status);
			if (killed_by_other(sv, r, status)) {
				r->killed_by_other = true;
				log_killed_by_other(sv, pid);
			}
		}
	}
	log_info("descendant %ld ended (status %d)", (long)pid, code);
}

/* Collect every zombie. Returns true when the shim has no children left. */
static bool reap(struct supervisor *sv)
{
	bool any = false;

	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			on_reaped(sv, pid, status);
			any = true;
			continue;
		}
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 && errno == ECHILD)
			return true;
		if (pid < 0)
			log_error("waitpid: %s", strerror(errno));
		break;
	}
	/* A child that ended may have left its own children to us. */
	if (any && sv->shutting_down && !sv->grace_expired)
		signal_orphans(sv);
	if (any && sv->grace_expired)
		kill_remaining(sv, false);
	return false;
}

static void forward(struct supervisor *sv, int sig, int sender)
{
	char buf[24];
	const char *name = signals_name(sig, buf);

	if (!main_alive(sv)) {
		log_debug("%s from pid %d: main child already gone, not forwarded", name, sender);
		return;
	}
	if (kill(sv->main_pid, sig) < 0)
		log_error("cannot forward %s to main child %ld: %s", name, (long)sv->main_pid,
			  strerror(errno));
	else
		log_debug("forwarded %s from pid %d to main child %ld", name, sender,
			  (long)sv->main_pid);
}

static void on_signal(struct supervisor *sv, int sig, int sender)
{
	if (!signals_is_forwarded(sig))
		return; /* SIGCHLD: reap() runs on every wake-up */
	/*
	 * The shim's own doing (a SIGPIPE or SIGTTOU from writing a log line to
	 * a closed pipe or a terminal): not news for the child, and a SIGPIPE
	 * would kill it. Not logged either: that write would raise it again.
	 */
	if (sender == sv->self)
		return;
	/* Before the forward: the tree as it was when the stop was asked for. */
	if (sig == SIGTERM || sig == SIGINT)
		take_tree(sv);
	forward(sv, sig, sender);
	if (sig != SIGTERM && sig != SIGINT)
		return;
	if (!sv->stop_requested) {
		sv->stop_requested = true;
		timefmt_rfc3339_now(sv->stop_requested_at);
	}
	if (!sv->shutting_down)
		begin_shutdown(sv, sig == SIGTERM ? "SIGTERM received" : "SIGINT received");
}

/* Bounded, so that a flood of signals cannot starve reaping. */
#define SIGNALS_PER_WAKEUP 64

static void drain_signals(struct supervisor *sv)
{
	for (int i = 0; i < SIGNALS_PER_WAKEUP; i++) {
		int sig, sender;
		int rc = signals_next(sv->sig, &sig, &sender);

		if (rc == 0)
			return;
		if (rc < 0) {
			log_error("reading signals: %s", strerror(-rc));
			return;
		}
		on_signal(sv, sig, sender);
	}
}

/* -1 (no timeout) unless shutting down: an idle shim never wakes up. */
static int poll_timeout(const struct supervisor *sv)
{
	int64_t now, until;

	if (!sv->shutting_down)
		return -1;
	now = timefmt_monotonic_ms();
	until = sv->next_scan_ms;
	if (!sv->grace_expired && sv->deadline_ms < until)
		until = sv->deadline_ms;
	return until <= now ? 0 : (int)(until - now);
}

static void on_timeout(struct supervisor *sv)
{
	int64_t now = timefmt_monotonic_ms();

	if (!sv->grace_expired && now >= sv->deadline_ms) {
		sv->grace_expired = true;
		kill_remaining(sv, true);
	} else if (sv->grace_expired) {
		kill_remaining(sv, false); /* stragglers forked after the kill */
	} else {
		signal_orphans(sv);
	}
	sv->next_scan_ms = now + ADOPTION_SCAN_MS;
}

void supervisor_run(struct supervisor *sv)
{
	struct pollfd pfd = { .fd = sv->sig->fd, .events = POLLIN };

	while (!reap(sv)) {
		int n = poll(&pfd, 1, poll_timeout(sv));

		if (n < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			continue;
		}
		if (n == 0) {
			on_timeout(sv);
			continue;
		}
		if (n > 0)
			drain_signals(sv);
		/* The scan is due even when signals keep arriving. */
		if (sv->shutting_down && timefmt_monotonic_ms() >= sv->next_scan_ms)
			on_timeout(sv);
	}
}
