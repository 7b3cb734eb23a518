/* SPDX-License-Identifier: MIT */
/* Run a helper program (coverage.py) for pull: no shell, output to a file. */
#ifndef COVSHIP_PULL_SPAWN_H
#define COVSHIP_PULL_SPAWN_H

#include <stddef.h>

/* Run argv[0] (a path) with argv and the current environment; stdin is
 * /dev/null, stdout and stderr go to out_fd. Returns the exit status
 * (0..255), 128 + N when killed by signal N, or -1 with one line in err when
 * it could not be started. */
int pull_run(char *const argv[], int out_fd, char *err, size_t errlen);

/* pull_run() with the child's working directory set to dir (absolute): the
 * interpreter then starts in a directory pull controls, never in the
 * workspace or --out where a bundle may have put a module. */
int pull_run_in(char *const argv[], const char *dir, int out_fd, char *err, size_t errlen);

/* Hand each line of the file at path (a child's captured output) to fn,
 * without its newline; empty lines are skipped, an unreadable file is. */
void pull_each_line(const char *path, void (*fn)(void *ctx, const char *line), void *ctx);

/* Log a child's captured output as "coverage.py: LINE" errors (only the
 * lines holding only, when it is not NULL), so the reason for a failure
 * is on the console. */
void pull_relay_output(const char *path, const char *only);

#endif
