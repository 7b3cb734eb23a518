/* SPDX-License-Identifier: MIT */
#include "pull_limits.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void pull_limits_default(struct pull_limits *l)
{
	l->max_bundle_bytes = PULL_DEFAULT_MAX_BUNDLE_BYTES;
	l->max_total_bytes = PULL_DEFAULT_MAX_TOTAL_BYTES;
	l->max_ratio = PULL_DEFAULT_MAX_RATIO;
	l->used_total = 0;
}

int pull_parse_size(const char *s, uint64_t *out)
{
	unsigned long long n;
	unsigned shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1; /* no sign, no space, no empty string */
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || n == 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || (shift && n > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)n << shift;
	return 0;
}

int pull_parse_ratio(const char *s, uint64_t *out)
{
	unsigned long long n;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n == 0)
		return -1;
	*out = n;
	return 0;
}

const char *pull_limits_exceeded(const struct pull_limits *l, uint64_t compressed,
				 uint64_t bundle)
{
	if (bundle > l->max_bundle_bytes)
		return "--max-bundle-bytes";
	if (bundle > l->max_total_bytes || l->used_total > l->max_total_bytes - bundle)
		return "--max-total-bytes";
	/* bundle / compressed > ratio, without dividing (compressed may be 0
	 * for a source that could not tell) or overflowing. */
	if (bundle > PULL_RATIO_FLOOR && compressed && compressed <= UINT64_MAX / l->max_ratio &&
	    bundle > compressed * l->max_ratio)
		return "--max-ratio";
	return NULL;
}

static const char *const limit_opt[] = { "--max-bundle-bytes", "--max-total-bytes",
					 "--max-ratio" };
static const char *const limit_env[] = { "COVSHIP_PULL_MAX_BUNDLE_BYTES",
					 "COVSHIP_PULL_MAX_TOTAL_BYTES", "COVSHIP_PULL_MAX_RATIO" };

int pull_limits_option(struct pull_limits *l, int which, const char *v)
{
	uint64_t *dst[] = { &l->max_bundle_bytes, &l->max_total_bytes, &l->max_ratio };

	if (which < 0 || which > 2)
		return -1;
	if (which < 2 ? pull_parse_size(v, dst[which]) == 0 : pull_parse_ratio(v, dst[which]) == 0)
		return 0;
	if (which < 2)
		log_error("%s: '%s' is not a size (a positive number of bytes, K, M, G or T "
			  "suffix: 512M); fix the option or %s", limit_opt[which], v,
			  limit_env[which]);
	else
		log_error("%s: '%s' is not a whole number >= 1; fix the option or %s",
			  limit_opt[which], v, limit_env[which]);
	return -1;
}

int pull_limits_env(struct pull_limits *l)
{
	const char *v;
	int i;

	for (i = 0; i < 3; i++)
		if ((v = getenv(limit_env[i])) && *v && pull_limits_option(l, i, v) < 0)
			return -1;
	return 0;
}
