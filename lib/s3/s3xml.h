/* SPDX-License-Identifier: MIT */
/* The few S3 XML documents covship reads, parsed with expat. */
#ifndef COVSHIP_S3_S3XML_H
#define COVSHIP_S3_S3XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct s3xml_error {
	char code[64];
	char message[256];
	char request_id[128];
};

/* Returns 0 when body is an <Error> document (fields filled), -1 otherwise. */
int s3xml_parse_error(const char *body, size_t len, struct s3xml_error *e);

typedef int (*s3xml_list_cb)(void *ctx, const char *key, uint64_t size, const char *etag);

/* ListBucketResult (V2): cb per <Contents>; *truncated and *next_token
 * (malloc'd, NULL when absent). Returns 0, -1 on malformed XML, or the
 * callback's non-zero value. */
int s3xml_parse_list(const char *body, size_t len, s3xml_list_cb cb, void *ctx,
		     bool *truncated, char **next_token);

/* InitiateMultipartUploadResult → UploadId. 0 or -1. */
int s3xml_parse_upload_id(const char *body, size_t len, char *out, size_t outlen);

/* CompleteMultipartUpload's answer, which may be an <Error> even with 200:
 * returns 0 for CompleteMultipartUploadResult, 1 for <Error> (e filled),
 * -1 for anything else (e.g. a truncated body). */
int s3xml_parse_complete(const char *body, size_t len, struct s3xml_error *e);

#endif
