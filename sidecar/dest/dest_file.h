/* SPDX-License-Identifier: MIT */
/* The file:///path destination: a host-mounted directory. */
#ifndef COVSHIP_DEST_FILE_H
#define COVSHIP_DEST_FILE_H

#include "dest.h"

int dest_file_open(const char *url, const struct dest_options *opts, struct dest **out,
		   char *err, size_t errlen);

#endif
