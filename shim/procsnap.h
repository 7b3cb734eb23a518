/* SPDX-License-Identifier: MIT */
/*
 * The descendant tree as it was when shutdown began: pid, parent pid,
 * command line and start time of every descendant, for done.json's
 * "tree_at_stop". `covship pull` matches it against the data files' writer
 * pids and names the Python processes that were alive at stop and left no
 * data (docs/shim.md, docs/pull.md).
 *
 * Guarantees: it is taken once, only at shutdown (an idle shim never reads
 * /proc), and it is bounded — at most PROCSNAP_MAX processes and
 * PROCSNAP_BUDGET bytes of command lines, "truncated" set beyond — so that
 * done.json stays far below the sidecar's 1 MiB marker limit. Command lines
 * are cut at PROCSNAP_CMD_MAX bytes and made valid UTF-8 without control
 * characters (NULs between arguments become spaces), so every JSON reader
 * accepts them.
 */
#ifndef COVSHIP_SHIM_PROCSNAP_H
#define COVSHIP_SHIM_PROCSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROCSNAP_MAX 4096
#define PROCSNAP_CMD_MAX 200
#define PROCSNAP_BUDGET (256 * 1024)

struct procsnap_entry {
	pid_t pid, ppid;
	unsigned long long start_ticks; /* /proc/PID/stat field 22: clock ticks after boot */
	char *cmd; /* never NULL: "" when /proc had nothing (a zombie, a kernel thread) */
};

struct procsnap {
	struct procsnap_entry *v;
	size_t n, cap;
	size_t cmd_bytes; /* sum of strlen(cmd), checked against PROCSNAP_BUDGET */
	bool taken;       /* a snapshot was attempted (it may be empty) */
	bool truncated;   /* the caps left processes out */
};

/* Record every descendant of ROOT (breadth first). Returns 0 or -errno;
 * what was read before an error is kept. */
int procsnap_take(struct procsnap *s, pid_t root);

/* The entry of PID, or NULL. */
const struct procsnap_entry *procsnap_find(const struct procsnap *s, pid_t pid);

/* /proc/PID/cmdline made printable as described above into buf (len > 4);
 * "" when unreadable. Exposed for the unit tests. */
void procsnap_cmdline(pid_t pid, char *buf, size_t len);

/* Make raw bytes RAW[0..n) printable into buf (len > 4): NUL -> ' ', other
 * control bytes and invalid UTF-8 -> '?', trailing spaces dropped, cut on a
 * character boundary. */
void procsnap_sanitize(const char *raw, size_t n, char *buf, size_t len);

void procsnap_free(struct procsnap *s);

#endif
