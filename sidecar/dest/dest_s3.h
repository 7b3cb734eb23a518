/* SPDX-License-Identifier: MIT */
/* The s3://bucket/prefix destination (see ../dest.h). */
#ifndef COVSHIP_DEST_S3_H
#define COVSHIP_DEST_S3_H

#include "dest.h"

int dest_s3_open(const char *url, const struct dest_options *opts, struct dest **out, char *err,
		 size_t errlen);

#endif
