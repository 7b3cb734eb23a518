/* SPDX-License-Identifier: MIT */
/* Source URL dispatch: file:// or s3://. */
#include "pull_source.h"

#include <stdio.h>
#include <string.h>

int pull_source_open(const char *url, const struct s3_options *opts, struct pull_source **out,
		     char *err, size_t errlen)
{
	*out = NULL;
	if (strncmp(url, "file://", 7) == 0)
		return pull_source_file_open(url, out, err, errlen);
	if (strncmp(url, "s3://", 5) == 0)
		return pull_source_s3_open(url, opts, out, err, errlen);
	snprintf(err, errlen,
		 "source URL '%s' is neither file:///dir nor s3://bucket/prefix; give one of those",
		 url);
	return -1;
}
