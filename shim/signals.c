/* SPDX-License-Identifier: MIT */
#include "signals.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/*
 * Faults are left unblocked: blocking a synchronous SIGSEGV only turns a
 * crash of the shim into an unexplained SIGKILL. KILL and STOP cannot be
 * caught at all.
 */
static void fill_routed(sigset_t *set)
{
	static const int keep[] = { SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE,
				    SIGILL,  SIGTRAP, SIGSYS,  SIGABRT };

	sigfillset(set);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		sigdelset(set, keep[i]);
}

int signals_setup(struct signals *s)
{
	struct sigaction dfl;
	sigset_t routed;

	s->fd = -1;
	if (sigprocmask(SIG_SETMASK, NULL, &s->inherited_mask) < 0)
		return -errno;
	if (sigaction(SIGCHLD, NULL, &s->inherited_chld) < 0)
		return -errno;
	/*
	 * An inherited SIGCHLD=SIG_IGN would make the kernel reap children
	 * itself and hide their exit status from us: take the default.
	 */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, NULL) < 0)
		return -errno;

	fill_routed(&routed);
	if (sigprocmask(SIG_BLOCK, &routed, NULL) < 0)
		return -errno;
	s->fd = signalfd(-1, &routed, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	return 0;
}

void signals_restore_for_child(const struct signals *s)
{
	/* Nothing to report to from here: a failure leaves the shim's state. */
	(void)sigaction(SIGCHLD, &s->inherited_chld, NULL);
	(void)sigprocmask(SIG_SETMASK, &s->inherited_mask, NULL);
}

int signals_next(const struct signals *s, int *sig, int *sender_pid)
{
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = read(s->fd, &si, sizeof(si));

		if (n == (ssize_t)sizeof(si)) {
			*sig = (int)si.ssi_signo;
			*sender_pid = (int)si.ssi_pid;
			return 1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return n < 0 ? -errno : -EIO;
	}
}

bool signals_is_forwarded(int sig)
{
	/* SIGCHLD is about the shim's own children, not news for the main child. */
	return sig != SIGCHLD;
}

void signals_close(struct signals *s)
{
	if (s->fd >= 0)
		(void)close(s->fd);
	s->fd = -1;
}

const char *signals_name(int sig, char buf[24])
{
	/* strsignal's text differs between glibc and musl; names do not. */
	static const char *const names[] = {
		[SIGHUP] = "SIGHUP",	 [SIGINT] = "SIGINT",	  [SIGQUIT] = "SIGQUIT",
		[SIGILL] = "SIGILL",	 [SIGTRAP] = "SIGTRAP",	  [SIGABRT] = "SIGABRT",
		[SIGBUS] = "SIGBUS",	 [SIGFPE] = "SIGFPE",	  [SIGKILL] = "SIGKILL",
		[SIGUSR1] = "SIGUSR1",	 [SIGSEGV] = "SIGSEGV",	  [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE",	 [SIGALRM] = "SIGALRM",	  [SIGTERM] = "SIGTERM",
		[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",
		[SIGSTOP] = "SIGSTOP",	 [SIGTSTP] = "SIGTSTP",	  [SIGTTIN] = "SIGTTIN",
		[SIGTTOU] = "SIGTTOU",	 [SIGURG] = "SIGURG",	  [SIGXCPU] = "SIGXCPU",
		[SIGXFSZ] = "SIGXFSZ",	 [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
		[SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO",	  [SIGPWR] = "SIGPWR",
		[SIGSYS] = "SIGSYS",
	};

	if (sig > 0 && (size_t)sig < sizeof(names) / sizeof(names[0]) && names[sig])
		return names[sig];
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, 24, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, 24, "signal %d", sig);
	return buf;
}
