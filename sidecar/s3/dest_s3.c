/* SPDX-License-Identifier: MIT */
/* Placeholder until the S3 transport lands. */
#include "dest_s3.h"

#include <stdio.h>

int dest_s3_open(const char *url, const struct dest_options *opts, struct dest **out, char *err,
		 size_t errlen)
{
	(void)url;
	(void)opts;
	*out = NULL;
	snprintf(err, errlen, "s3:// destinations are not available in this build");
	return -1;
}
