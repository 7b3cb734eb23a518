/* SPDX-License-Identifier: MIT */
/*
 * Which Python runs coverage.py for `pull --combine`, whether it can, and how
 * it is started. Guarantees: the interpreter is the one a Jenkins user's
 * environment points at (--python, else $VIRTUAL_ENV/bin/python, else
 * python3 on PATH, else /usr/bin/python3) and is checked to import
 * coverage.py >= 6.3 (--data-file) before anything is downloaded or created;
 * and it always runs isolated (-I: neither the current directory nor
 * PYTHON* variables reach sys.path) from a directory pull controls, so a
 * bundle extracted into the workspace can never shadow coverage.py.
 */
#ifndef COVSHIP_PULL_PYTHON_H
#define COVSHIP_PULL_PYTHON_H

#include <stddef.h>

#define PULL_COVERAGE_MIN_MAJOR 6
#define PULL_COVERAGE_MIN_MINOR 3

/* Run `coverage.cmdline.main(argv[5:])` after a chdir to argv[4]: imports
 * happen in pull's work directory under -I, reports are still relative to
 * the workspace (the directory pull was started in). */
#define PULL_COVERAGE_BOOT                                                  \
	"import os, sys\n"                                                  \
	"from coverage.cmdline import main\n"                               \
	"os.chdir(sys.argv[1])\n"                                           \
	"sys.exit(main(sys.argv[2:]))\n"

/* The interpreter to use: given (--python/COVSHIP_PYTHON) when non-NULL,
 * else the documented default order. Writes it to buf; returns 0, or -1 when
 * it does not fit. */
int pull_python_pick(const char *given, char *buf, size_t len);

/* Start python isolated from "/" and check that it imports coverage.py
 * >= 6.3. Returns 0 with coverage.py's version in version, or -1 with one
 * line in err that says how to fix it. Creates nothing on disk. */
int pull_python_check(const char *python, char *version, size_t vlen, char *err,
		      size_t errlen);

#endif
