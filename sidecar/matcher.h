/* SPDX-License-Identifier: MIT */
/*
 * Which files are coverage data: a format preset (python, go, llvm, gcov,
 * v8) plus --include/--exclude globs (fnmatch). A glob holding '/' matches
 * the path relative to the coverage directory, any other glob the file name.
 */
#ifndef COVSHIP_MATCHER_H
#define COVSHIP_MATCHER_H

#include <stdbool.h>
#include <stddef.h>

struct matcher {
	int preset;
	const char *const *include;
	size_t ninclude;
	const char *const *exclude;
	size_t nexclude;
};

bool matcher_preset_known(const char *name);

/* Returns 0, or -1 for an unknown preset name. Globs are borrowed. */
int matcher_init(struct matcher *m, const char *preset, const char *const *include,
		 size_t ninclude, const char *const *exclude, size_t nexclude);

/* relpath: path relative to the coverage directory, '/'-separated. */
bool matcher_match(const struct matcher *m, const char *relpath);

#endif
