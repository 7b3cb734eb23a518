/* SPDX-License-Identifier: MIT */
/*
 * The baton passed between `covship watch` and `covship-idle`, two programs
 * that take turns in one process (same PID) by execve():
 *
 *   covship watch  --(nothing to do)-->  covship-idle  --(possibly work)-->  covship watch
 *   covship watch  --(--dir went away)-->  covship watch (handoff_restart)
 *
 * Both get the same argv (covship's, from "watch" on) and environment, plus:
 *   COVSHIP_IDLE_LOCK_FD  the spool's locked lock file, kept open across both
 *                         execs so the spool never looks free (covship health,
 *                         a second watcher); spool_open() adopts it
 *   COVSHIP_IDLE_RETURN   the covship executable covship-idle goes back to; in
 *                         covship watch, set: it comes back (from covship-idle
 *                         or a restart), its configuration was accepted before
 *   COVSHIP_IDLE_DONE     identity of DIR/.covship/done.json when the watcher
 *                         went idle ("-" when absent): another one is work
 *   COVSHIP_IDLE_FAILED   (back) covship-idle could not wait: the watcher
 *                         stays, rather than bounce between the two
 * SIGTERM/SIGINT stay blocked throughout; a pending one survives execve and
 * the watcher's signalfd reads it (covship-idle never reads it).
 */
#ifndef COVSHIP_HANDOFF_H
#define COVSHIP_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>

#define HANDOFF_ENV_LOCK_FD "COVSHIP_IDLE_LOCK_FD"
#define HANDOFF_ENV_RETURN "COVSHIP_IDLE_RETURN"
#define HANDOFF_ENV_DONE "COVSHIP_IDLE_DONE"
#define HANDOFF_ENV_FAILED "COVSHIP_IDLE_FAILED"
#define HANDOFF_IDLE_NAME "covship-idle"
#define HANDOFF_DONE_ID_LEN 80

/* Identity of DIR/.covship/done.json (device, inode, size, mtime) as a
 * string, "-" when there is none. The watcher takes it *before* it decides
 * there is nothing to do, so a done.json arriving meanwhile differs. */
void handoff_done_id(int rootfd, char buf[HANDOFF_DONE_ID_LEN]);

/* covship watch -> covship-idle, found next to this executable (build tree)
 * or in ../libexec/covship/ (install tree). argv = { idle, watch_argv[0]
 * ("watch"), ... }; the lock fd is handed over, every other descriptor but
 * 0-2 is closed by the exec. Returns only on failure: -errno, with the lock
 * fd and the environment as they were (the caller simply carries on). */
int handoff_to_idle(int watch_argc, char **watch_argv, int lockfd, const char *done_id);

/* covship-idle -> covship watch (HANDOFF_ENV_RETURN), same argv and lock;
 * idle_failed: it could not wait. Returns only on failure: -errno. */
int handoff_return(int watch_argc, char **watch_argv, int lockfd, bool idle_failed);

/* covship watch -> covship watch, in place (same PID, argv and lock), as
 * if back from covship-idle: its start then takes a changed world (a
 * vanished --dir) for a runtime error and waits for it. Returns only on
 * failure: -errno. */
int handoff_restart(int watch_argc, char **watch_argv, int lockfd);

/* In covship watch: true when it came back from covship-idle, and in
 * *idle_failed whether covship-idle could not wait; removes the hand-off
 * variables. */
bool handoff_returned(bool *idle_failed);

/* The lock fd handed over to this process, or -1; the variable is removed
 * (it belongs to this exec only). */
int handoff_take_lock_fd(void);

#endif
