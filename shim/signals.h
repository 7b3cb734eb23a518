/* SPDX-License-Identifier: MIT */
/*
 * Signals arrive through a signalfd: every catchable signal is blocked, so
 * the shim runs no handlers and only wakes when something really happens.
 * The child must not inherit that: it gets back the mask and the SIGCHLD
 * disposition the shim itself was started with.
 */
#ifndef COVSHIP_SHIM_SIGNALS_H
#define COVSHIP_SHIM_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

struct signals {
	sigset_t inherited_mask;
	struct sigaction inherited_chld;
	int fd; /* signalfd, non-blocking, close-on-exec */
};

/* Save what was inherited, block and route every catchable signal. Returns 0 or -errno. */
int signals_setup(struct signals *s);

/* In the forked child, before exec. Async-signal-safe. */
void signals_restore_for_child(const struct signals *s);

/* Next pending signal: 1 with *sig set, 0 when none is left, -errno on error. */
int signals_next(const struct signals *s, int *sig, int *sender_pid);

/* Signals the shim keeps for itself instead of passing to the main child. */
bool signals_is_forwarded(int sig);

/* "SIGTERM", "SIGRTMIN+3", or "signal 99": for log lines. */
const char *signals_name(int sig, char buf[24]);

void signals_close(struct signals *s);

#endif
