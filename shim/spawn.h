/* SPDX-License-Identifier: MIT */
/* Start the main child with the signal state the shim inherited. */
#ifndef COVSHIP_SHIM_SPAWN_H
#define COVSHIP_SHIM_SPAWN_H

#include <sys/types.h>

#include "signals.h"

/*
 * fork + execvp(argv[0], argv). Returns the child's pid (even when exec
 * failed: the child then exits 126/127 and is reaped like any other) or
 * -errno when fork failed. *exec_errno is 0 on success, else exec's errno,
 * reported through a close-on-exec pipe so it is exact.
 */
pid_t spawn_main(char *const argv[], const struct signals *sig, int *exec_errno);

#endif
