/* SPDX-License-Identifier: MIT */
/*
 * Test helper: print our SigV4 Authorization for a request given on the
 * command line, so that test_sigv4_botocore.py can compare it with botocore.
 *   s3sign_cli METHOD PATH AMZDATE REGION AK SK PAYLOADHASH
 *              [q NAME[=VALUE]]... [h NAME:VALUE]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

int main(int argc, char **argv)
{
	struct sigv4_kv q[64], h[64];
	size_t nq = 0, nh = 0;
	struct sigv4_input in;
	char *auth;
	int i;

	if (argc < 8 || (argc - 8) % 2) {
		fprintf(stderr, "usage: s3sign_cli METHOD PATH AMZDATE REGION AK SK PAYLOADHASH"
				" [q NAME[=VALUE]]... [h NAME:VALUE]...\n");
		return 2;
	}
	for (i = 8; i < argc; i += 2) {
		char *arg = argv[i + 1], *sep;

		if (strcmp(argv[i], "q") == 0 && nq < 64) {
			sep = strchr(arg, '=');
			if (sep)
				*sep++ = '\0';
			q[nq].name = arg;
			q[nq++].value = sep;
		} else if (strcmp(argv[i], "h") == 0 && nh < 64 && (sep = strchr(arg, ':'))) {
			*sep++ = '\0';
			h[nh].name = arg;
			h[nh++].value = sep;
		} else {
			fprintf(stderr, "s3sign_cli: bad argument '%s'\n", argv[i]);
			return 2;
		}
	}
	memset(&in, 0, sizeof(in));
	in.method = argv[1];
	in.path = argv[2];
	in.amz_date = argv[3];
	in.region = argv[4];
	in.access_key = argv[5];
	in.secret_key = argv[6];
	in.payload_hash = argv[7];
	in.service = "s3";
	in.params = q;
	in.nparams = nq;
	in.headers = h;
	in.nheaders = nh;
	auth = sigv4_authorization(&in);
	if (!auth)
		return 1;
	puts(auth);
	free(auth);
	return 0;
}
