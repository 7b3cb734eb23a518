/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: covship-shim's option and environment parsing (the pure
 * options_parse(), which neither prints nor exits). The input is split at
 * NUL bytes into strings: argv up to the first empty string, envp after it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define MAX_STRINGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *p, *end;
	char *argv[MAX_STRINGS + 2], *envp[MAX_STRINGS + 1];
	int argc = 0, envc = 0;
	bool in_env = false;
	struct options o;
	char err[256];

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "covship-shim";
	for (p = buf, end = buf + size; p <= end && argc < MAX_STRINGS && envc < MAX_STRINGS;
	     p += strlen(p) + 1) {
		if (!*p && !in_env) {
			in_env = true;
			continue;
		}
		if (in_env)
			envp[envc++] = p;
		else
			argv[argc++] = p;
	}
	argv[argc] = NULL;
	envp[envc] = NULL;
	options_parse(argc, argv, envp, &o, err, sizeof(err));
	free(buf);
	return 0;
}
