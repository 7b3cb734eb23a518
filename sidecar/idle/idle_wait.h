/* SPDX-License-Identifier: MIT */
/*
 * covship-idle's one job: wait, without a timer, until there is possibly
 * work for covship watch: a matching coverage file closed or moved in (or
 * found when a directory appears), a done.json other than the one the
 * watcher saw, an inotify queue overflow, or a pending SIGTERM/SIGINT.
 */
#ifndef COVSHIP_IDLE_WAIT_H
#define COVSHIP_IDLE_WAIT_H

#include <stdbool.h>

#include "options.h"

/* Returns when the watcher should take over: true, or false when waiting
 * here is impossible (logged at debug level, as the reason to wake).
 * done_id: handoff_done_id() as the watcher saw it. */
bool idle_wait(const struct options *o, const char *done_id);

#endif
