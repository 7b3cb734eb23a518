/* SPDX-License-Identifier: MIT */
/* Run ids: 128 random bits as 32 lowercase hex digits. */
#ifndef COVSHIP_RUNID_H
#define COVSHIP_RUNID_H

#include <stdbool.h>

#define RUNID_LEN 32

/* Returns 0, or -errno when the kernel has no randomness to give. */
int runid_generate(char out[RUNID_LEN + 1]);
bool runid_valid(const char *s);

#endif
