/* SPDX-License-Identifier: MIT */
/* `covship watch`: the sidecar daemon. */
#ifndef COVSHIP_WATCH_H
#define COVSHIP_WATCH_H

int cmd_watch(int argc, char **argv);

#endif
