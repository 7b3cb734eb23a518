/* SPDX-License-Identifier: MIT */
#include "dest.h"

#include <stdio.h>
#include <string.h>

#include "dest_file.h"
#include "dest_s3.h"

int dest_open(const char *url, const struct dest_options *opts, struct dest **out, char *err,
	      size_t errlen)
{
	*out = NULL;
	if (!strncmp(url, "file://", 7))
		return dest_file_open(url, opts, out, err, errlen);
	if (!strncmp(url, "s3://", 5))
		return dest_s3_open(url, opts, out, err, errlen);
	snprintf(err, errlen, "destination '%s': unknown scheme; use file:///absolute/path or "
		 "s3://bucket/prefix", url);
	return -1;
}
