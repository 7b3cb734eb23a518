/* SPDX-License-Identifier: MIT */
#include "pull_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keytemplate.h"

char *pull_build_url(const char *url, const char *build, char *err, size_t errlen)
{
	char id[KEYTEMPLATE_BUILD_MAX + 1], msg[256];
	size_t n = strlen(url), len;
	const char *sep;
	char *out;

	if (keytemplate_build_id(build, id, sizeof(id), msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "--build (or COVSHIP_BUILD): %s", msg);
		return NULL;
	}
	/* "s3://b/p" and "s3://b/p/" name the same prefix: one '/' either way */
	sep = n && url[n - 1] == '/' ? "" : "/";
	len = n + strlen(sep) + strlen(id) + 2;
	out = malloc(len);
	if (!out) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(out, len, "%s%s%s/", url, sep, id);
	return out;
}
