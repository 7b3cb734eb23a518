/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <stdint.h>

/* Length of the sequence starting with lead byte c and the minimum value it
 * may encode (rejects overlong forms), or 0 for an invalid lead byte. */
static int seq_len(unsigned char c, uint32_t *cp, uint32_t *min)
{
	if (c < 0x80) {
		*cp = c;
		*min = 0;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		*cp = c & 0x1f;
		*min = 0x80;
		return 2;
	}
	if ((c & 0xf0) == 0xe0) {
		*cp = c & 0x0f;
		*min = 0x800;
		return 3;
	}
	if ((c & 0xf8) == 0xf0) {
		*cp = c & 0x07;
		*min = 0x10000;
		return 4;
	}
	return 0;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp, min;
		int n = seq_len(p[i], &cp, &min), k;

		if (n == 0 || (size_t)n > len - i)
			return false;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += (size_t)n;
	}
	return true;
}
