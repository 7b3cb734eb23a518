/* SPDX-License-Identifier: MIT */
/* libFuzzer: the bundle manifest parser (`covship pull` reads it from S3). */
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m;
	char err[256];

	log_set_level(LOG_LEVEL_ERROR);
	if (manifest_parse((const char *)data, size, &m, err, sizeof(err)) == 0)
		manifest_free(&m);
	return 0;
}
