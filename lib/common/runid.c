/* SPDX-License-Identifier: MIT */
#include "runid.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

int runid_generate(char out[RUNID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[RUNID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[RUNID_LEN] = '\0';
	return 0;
}

bool runid_valid(const char *s)
{
	if (!s || strlen(s) != RUNID_LEN)
		return false;
	for (size_t i = 0; i < RUNID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}
