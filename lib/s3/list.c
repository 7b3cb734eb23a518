/* SPDX-License-Identifier: MIT */
/* ListObjectsV2, every page. */
#include "request.h"
#include "errbuf.h"

#include <stdlib.h>

#include "s3xml.h"

int s3_list_objects(struct s3_client *c, const char *bucket, const char *prefix,
		    s3_list_cb cb, void *ctx, char *err, size_t errlen)
{
	char *token = NULL;
	int rc;

	for (;;) {
		struct s3_req r;
		struct http_xfer x;
		bool truncated = false;
		char *next = NULL;

		s3_req_init(&r, "GET", bucket, "");
		s3_req_param(&r, "list-type", "2");
		if (prefix && *prefix)
			s3_req_param(&r, "prefix", prefix);
		if (token)
			s3_req_param(&r, "continuation-token", token);
		rc = s3_request(c, &r, &x, err, errlen);
		if (rc == S3_OK) {
			rc = s3xml_parse_list(x.resp.body.s, x.resp.body.len, cb, ctx, &truncated,
					      &next);
			if (rc == -1 || (truncated && !next)) {
				set_err(err, errlen, "S3 ListObjectsV2 s3://%s/%s: malformed answer",
					bucket, prefix ? prefix : "");
				rc = S3_ERR_RETRY;
			} else if (rc) {
				set_err(err, errlen, "listing stopped by the caller");
			}
		}
		http_response_reset(&x.resp);
		free(token);
		token = next;
		if (rc != S3_OK || !truncated)
			break;
	}
	free(token);
	return rc;
}
