/* SPDX-License-Identifier: MIT */
/*
 * Who are the shim's children and descendants right now, from
 * /proc/PID/task/TID/children (every thread: a child belongs to the thread
 * that forked it). Needs /proc of the shim's own PID namespace.
 */
#ifndef COVSHIP_SHIM_PROCTREE_H
#define COVSHIP_SHIM_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pidvec {
	pid_t *v;
	size_t n, cap;
};

/* Appends the children of PID to out. Returns 0 or -errno. */
int proctree_children(pid_t pid, struct pidvec *out);

/* Appends every descendant of PID (children first). Returns 0 or -errno. */
int proctree_descendants(pid_t pid, struct pidvec *out);

int pidvec_push(struct pidvec *pv, pid_t pid);
void pidvec_free(struct pidvec *pv);

/*
 * True when /proc belongs to the caller's PID namespace. Under
 * "unshare --pid --fork" without --mount-proc it does not: its pids are
 * someone else's, and acting on them would hit unrelated processes.
 */
bool proctree_usable(void);

/*
 * True when PID has exited and only waits for its parent to reap it: there
 * is nobody left to signal, and it must not be counted as killed.
 */
bool proctree_is_zombie(pid_t pid);

/* The command name of PID into buf ("?" when it is gone). */
void proctree_comm(pid_t pid, char *buf, size_t len);

#endif
