/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the S3 response parsers (expat). The first byte picks the
 * parser: error body, ListObjectsV2, CreateMultipartUpload, Complete.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "s3xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_key(void *ctx, const char *key, uint64_t size, const char *etag)
{
	(void)key;
	(void)size;
	(void)etag;
	(*(size_t *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + 1;
	struct s3xml_error e;
	char upload_id[256];
	char *next = NULL;
	bool truncated = false;
	size_t n = 0;

	if (size < 1)
		return 0;
	size--;
	switch (data[0] % 4) {
	case 0:
		s3xml_parse_error(body, size, &e);
		break;
	case 1:
		s3xml_parse_list(body, size, count_key, &n, &truncated, &next);
		free(next);
		break;
	case 2:
		s3xml_parse_upload_id(body, size, upload_id, sizeof(upload_id));
		break;
	default:
		s3xml_parse_complete(body, size, &e);
		break;
	}
	return 0;
}
