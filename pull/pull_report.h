/* SPDX-License-Identifier: MIT */
/* The totals of a Cobertura coverage.xml (as written by `coverage xml`). */
#ifndef COVSHIP_PULL_REPORT_H
#define COVSHIP_PULL_REPORT_H

#include <stddef.h>

struct pull_totals {
	double line_rate;   /* 0..1, the root's line-rate */
	long lines_covered; /* -1 when absent */
	long lines_valid;   /* -1 when absent */
};

/* Read the root <coverage> element's totals (expat). Returns 0 or -1 with
 * one line in err. */
int pull_report_totals(const char *xml_path, struct pull_totals *t, char *err, size_t errlen);

#endif
