/* SPDX-License-Identifier: MIT */
/*
 * What the shim knows about the processes it dealt with during shutdown:
 * whom it signalled (so nobody gets SIGTERM twice), whom the grace SIGKILL
 * took, and how each one it reaped ended. Feeds done.json.
 */
#ifndef COVSHIP_SHIM_PROCLIST_H
#define COVSHIP_SHIM_PROCLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct proc_record {
	pid_t pid;
	int exit_code; /* -1: did not exit normally (or not reaped by us) */
	int signal;    /* 0: not killed by a signal (or not reaped by us) */
	bool signalled;       /* got SIGTERM from the shim */
	bool killed_at_grace; /* got SIGKILL from the shim when the grace ran out */
	bool killed_by_other; /* reaped by the shim, dead of a SIGKILL the shim did not send */
	bool reaped;          /* gone: the pid may now belong to someone else */
};

struct proclist {
	struct proc_record *v;
	size_t n, cap;
};

/* The record of the live process PID, or NULL. */
struct proc_record *proclist_find_live(struct proclist *l, pid_t pid);

/* find_live, else a fresh record; NULL only when out of memory. */
struct proc_record *proclist_get(struct proclist *l, pid_t pid);

/* Fill in how a reaped process ended (waitpid status). */
void proc_record_reaped(struct proc_record *r, int status);

void proclist_free(struct proclist *l);

#endif
