/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: `covship watch/push/health` option parsing. The input is split
 * at NUL bytes into argv; the first byte picks the command. COVSHIP_*
 * variables are read with getenv(), so the environment stays as it is.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum options_cmd cmds[] = { OPTIONS_WATCH, OPTIONS_PUSH, OPTIONS_HEALTH };
	static const char *const names[] = { "watch", "push", "health" };
	char *buf, *p, *end, *argv[MAX_ARGS + 2];
	struct options o;
	int argc = 0, c;

	if (size < 1)
		return 0;
	c = data[0] % 3;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	argv[argc++] = (char *)names[c];
	for (p = buf, end = buf + size - 1; p < end && argc < MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	log_set_level(LOG_LEVEL_ERROR);
	options_parse(cmds[c], argc, argv, &o);
	options_free(&o);
	free(buf);
	return 0;
}
