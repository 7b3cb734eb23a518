/* SPDX-License-Identifier: MIT */
/* HeadObject: size, ETag and our SHA-256 metadata of one object. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

int s3_head_object(struct s3_client *c, const char *bucket, const char *key,
		   struct s3_object_info *info, char *err, size_t errlen)
{
	struct s3_req r;
	struct http_xfer x;
	char len[32];
	int rc;

	memset(info, 0, sizeof(*info));
	s3_req_init(&r, "HEAD", bucket, key);
	rc = s3_request(c, &r, &x, err, errlen);
	if (rc == S3_OK) {
		if (http_header(&x.resp, "Content-Length", len, sizeof(len)) == 0)
			info->size = strtoull(len, NULL, 10);
		http_header(&x.resp, "ETag", info->etag, sizeof(info->etag));
		http_header(&x.resp, "x-amz-meta-covship-sha256", info->covship_sha256,
			    sizeof(info->covship_sha256));
	}
	http_response_reset(&x.resp);
	return rc;
}
