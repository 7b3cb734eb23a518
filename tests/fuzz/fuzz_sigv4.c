/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the SigV4 canonicaliser. The input is URI-encoded as an object
 * key (with and without '/'), then read as a query string: '&'-separated
 * parameters, "name=value" or a valueless "name".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "strbuf.h"

#define MAX_PARAMS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode(const uint8_t *data, size_t size, bool keep_slash)
{
	struct strbuf b = STRBUF_INIT;

	sigv4_uri_encode(&b, (const char *)data, size, keep_slash);
	sb_free(&b);
}

static void query(const uint8_t *data, size_t size)
{
	struct sigv4_kv kv[MAX_PARAMS];
	char *copy = malloc(size + 1), *p, *save = NULL;
	size_t n = 0;

	if (!copy)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (p = strtok_r(copy, "&", &save); p && n < MAX_PARAMS; p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');

		if (eq)
			*eq++ = '\0';
		kv[n].name = p;
		kv[n].value = eq;
		n++;
	}
	free(sigv4_canonical_query(kv, n));
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	encode(data, size, true);
	encode(data, size, false);
	query(data, size);
	return 0;
}
