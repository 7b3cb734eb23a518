/* SPDX-License-Identifier: MIT */
/*
 * `pull --html DIR`: coverage.py's HTML report of the combined data, with
 * the same generated configuration (the [paths] remap of --map) as the XML,
 * for Jenkins' HTML Publisher plugin.
 *
 * Guarantees:
 * - DIR is only ever replaced when it is absent, empty, or an earlier
 *   coverage.py HTML report (index.html and status.json): `--html .` or
 *   `--html $WORKSPACE` by mistake is refused (exit 1, before coverage.py
 *   runs), never deleted.
 * - An earlier report is removed before combining, and the new one is
 *   written to a sibling temporary directory and renamed into place only
 *   when coverage.py succeeded: after a failed pull there is no stale or
 *   half-written report to publish.
 */
#ifndef COVSHIP_PULL_HTML_H
#define COVSHIP_PULL_HTML_H

#include <stddef.h>

#include "pull_combine.h"

/* Check that dir may be (re)written and remove an earlier report there.
 * Returns 0, or -1 with one line logged. */
int pull_html_prepare(const char *dir);

/* Run `coverage html --rcfile=RC --data-file=D -d TMP` isolated (-I,
 * started in o->workdir) but working in cwd, the workspace (file names are
 * relative to it, as in the XML), then rename TMP to o->html. Returns 0,
 * or -1 with coverage.py's output and one line logged. */
int pull_html_write(const struct pull_combine_opts *o, const char *cwd, const char *rcfile);

#endif
