/* SPDX-License-Identifier: MIT */
/*
 * libinotifytools keeps its inotify descriptor to itself. To wait on it and
 * on a signalfd in one poll() (no periodic wake-ups while idle) we find it
 * in /proc/self/fd: the one that was not there before it was initialised.
 */
#ifndef COVSHIP_INOTIFY_FD_H
#define COVSHIP_INOTIFY_FD_H

/* An inotify descriptor of this process other than not_this, or -1. */
int inotify_fd_find(int not_this);

#endif
