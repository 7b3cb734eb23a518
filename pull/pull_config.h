/* SPDX-License-Identifier: MIT */
/*
 * The project's own coverage.py configuration for `pull --combine`.
 * Guarantees: every coverage command of a pull reads one rcfile, written by
 * pull_config.py under the same isolated interpreter: pull's generated
 * [run] and [paths] first (so the container's paths map to the workspace
 * whatever the project says), then the project's [paths] entries and its
 * [report], [html] and [xml] sections, from --rcfile or else the first of
 * .coveragerc, setup.cfg, tox.ini, pyproject.toml that coverage.py itself
 * would use, looked for in each --map DST and then the current directory.
 * That way the Jenkins number honours the same omit, exclude_lines,
 * precision and fail_under as a developer's local run. It also warns when
 * the data files were written by another major version of coverage.py.
 */
#ifndef COVSHIP_PULL_CONFIG_H
#define COVSHIP_PULL_CONFIG_H

#include <stddef.h>

struct pull_config_opts {
	const char *python;     /* the interpreter of pull_python_pick() */
	const char *workdir;    /* pull's work directory (the helper runs there) */
	const char *gen_rc;     /* pull's generated rcfile */
	const char *out_rc;     /* the rcfile to write (must not exist) */
	const char *input_dir;  /* the staged data files (their coverage.py versions) */
	const char *rcfile;     /* --rcfile, or NULL to search */
	const char *fail_under; /* --fail-under, or NULL for the configuration's */
	const char *const *dirs; /* where to search, in order */
	size_t ndirs;
};

enum pull_config_result {
	PULL_CONFIG_OK = 0,
	PULL_CONFIG_BAD = 1,    /* the project's configuration is unusable (logged) */
	PULL_CONFIG_FAILED = 2, /* the helper could not run (logged) */
};

/* Write o->out_rc; relays the helper's info/warning/error lines to the log. */
enum pull_config_result pull_config_write(const struct pull_config_opts *o);

#endif
