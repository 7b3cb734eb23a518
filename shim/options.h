/* SPDX-License-Identifier: MIT */
/*
 * Command line and COVSHIP_* environment of covship-shim.
 *
 * Pure: reads only argv and the envp it is given, so the unit tests can
 * exercise every case without touching the process environment.
 */
#ifndef COVSHIP_SHIM_OPTIONS_H
#define COVSHIP_SHIM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define OPTIONS_DEFAULT_GRACE_MS ((int64_t)25000)
#define OPTIONS_MAX_GRACE_MS ((int64_t)86400 * 1000)

enum options_action {
	OPTIONS_RUN,
	OPTIONS_HELP,
	OPTIONS_VERSION,
};

struct options {
	enum options_action action;
	int64_t grace_ms;
	const char *coverage_dir; /* NULL: no marker, no data dir */
	enum log_level log_level;
	bool log_json;
	char **command; /* points into argv, NULL-terminated */
};

/*
 * Fills *o from argv (which wins) and envp. Returns 0, or -1 with one line
 * for the user in err (what is wrong and how to fix it).
 */
int options_parse(int argc, char **argv, char *const envp[], struct options *o, char *err,
		  size_t errlen);

/* "25", "2.5", "0.125": seconds with at most 3 decimals, 0..86400. */
int options_parse_grace(const char *s, int64_t *ms);

/* "debug", "info", "warning" (or "warn"), "error". */
int options_parse_level(const char *s, enum log_level *level);

/* Value of NAME in envp, or NULL when absent or empty. */
const char *options_env(char *const envp[], const char *name);

void options_usage(FILE *out);

#endif
