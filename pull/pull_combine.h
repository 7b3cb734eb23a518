/* SPDX-License-Identifier: MIT */
/*
 * `pull --combine`: coverage.py combine with a generated [paths] remap, then
 * coverage xml. coverage combine only *warns* about a data file it cannot
 * read, so every input is checked to have been combined. coverage.py runs
 * isolated (-I) from pull's work directory (pull_python.h), with the
 * project's configuration merged in (pull_config.h).
 */
#ifndef COVSHIP_PULL_COMBINE_H
#define COVSHIP_PULL_COMBINE_H

#include <stddef.h>

#include "pull_report.h"

struct pull_map {
	char *src;       /* path (or coverage.py pattern) recorded in the container (owned) */
	char *dst;       /* absolute path on this machine (owned) */
};

struct pull_combine_opts {
	const char *python;          /* interpreter that has coverage.py */
	const struct pull_map *maps; /* in command-line order */
	size_t nmaps;
	const char *workdir;   /* empty scratch directory, absolute */
	const char *data_file; /* combined data file to write, absolute */
	const char *xml;       /* Cobertura report to write, absolute */
	const char *html;      /* --html directory for coverage html, or NULL (pull_html.h) */
	const char *rcfile;     /* --rcfile, or NULL: search the maps' DSTs, then cwd */
	const char *fail_under; /* --fail-under, or NULL: the configuration's */
};

enum pull_combine_result {
	PULL_COMBINE_OK = 0,
	PULL_COMBINE_FAILED = 1, /* coverage.py failed (message and its output logged) */
	PULL_COMBINE_LOST = 2,   /* some data file was not combined */
	PULL_COMBINE_CONFIG = 3, /* the project's coverage configuration is unusable */
	PULL_COMBINE_UNDER = 4,  /* report written, total below fail_under */
};

/* Combine the data files files[0..n) and write the XML report; totals are
 * read back from it. */
enum pull_combine_result pull_combine(const struct pull_combine_opts *o, char *const files[],
				      size_t n, struct pull_totals *totals);

/* Check SRC=DST and make DST absolute. Returns 0 or -1 with one line. */
int pull_map_parse(const char *arg, struct pull_map *m, char *err, size_t errlen);

#endif
