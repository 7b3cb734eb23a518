/* SPDX-License-Identifier: MIT */
/* Strict UTF-8 check: decides whether a file name can be a JSON string. */
#ifndef COVSHIP_UTF8_H
#define COVSHIP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). JSON escapes control characters itself. */
bool utf8_valid(const char *s, size_t len);

#endif
