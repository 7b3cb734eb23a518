/* SPDX-License-Identifier: MIT */
/* libFuzzer: the --key-template checkers and expander (user configuration). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keytemplate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct key_vars v = {
		.run_id = "0123456789abcdef0123456789abcdef",
		.hostname = "host-1",
		.task_id = NULL,
		.build = "jenkins-job-42",
		.date = "2026-11-25",
		.seq = 7,
		.bundle = "0123456789abcdef0123456789abcdef-00c0ffee00c0ffee-000007.tar.gz",
		.spool_id = "00c0ffee00c0ffee",
	};
	char *tmpl = malloc(size + 1);
	char out[1024], err[256];

	if (!tmpl)
		return 0;
	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	keytemplate_check(tmpl, err, sizeof(err));
	keytemplate_check_unique(tmpl, err, sizeof(err));
	keytemplate_expand(tmpl, &v, out, sizeof(out), err, sizeof(err));
	/* A tiny buffer exercises the truncation paths too. */
	keytemplate_expand(tmpl, &v, out, 8, err, sizeof(err));
	free(tmpl);
	return 0;
}
