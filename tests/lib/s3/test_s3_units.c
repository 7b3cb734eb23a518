/* SPDX-License-Identifier: MIT */
/* S3 XML parsing, retry policy, URL parsing, endpoint/region resolution and
 * multipart part sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "retry.h"
#include "s3.h"
#include "upload.h"
#include "s3xml.h"

static void test_error_doc(void **state)
{
	const char *x = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
			"<Message>Reduce &amp; retry</Message><RequestId>r1</RequestId></Error>";
	struct s3xml_error e;

	(void)state;
	assert_int_equal(s3xml_parse_error(x, strlen(x), &e), 0);
	assert_string_equal(e.code, "SlowDown");
	assert_string_equal(e.message, "Reduce & retry");
	assert_string_equal(e.request_id, "r1");
	/* not an error document, and not XML at all */
	assert_int_equal(s3xml_parse_error("<A><Code>x</Code></A>", 21, &e), -1);
	assert_int_equal(s3xml_parse_error("garbage", 7, &e), -1);
	assert_int_equal(s3xml_parse_error(NULL, 0, &e), -1);
}

struct seen {
	int n;
	char last[64];
	uint64_t total;
};

static int on_key(void *ctx, const char *key, uint64_t size, const char *etag)
{
	struct seen *s = ctx;

	(void)etag;
	s->n++;
	s->total += size;
	strncpy(s->last, key, sizeof(s->last) - 1);
	return 0;
}

static void test_list_doc(void **state)
{
	const char *x =
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><IsTruncated>true</IsTruncated>"
		"<Contents><Key>a b&amp;c</Key><Size>10</Size><ETag>\"e\"</ETag></Contents>"
		"<Contents><Key>d</Key><Size>5</Size></Contents>"
		"<NextContinuationToken>1+/=</NextContinuationToken></ListBucketResult>";
	struct seen s = { 0 };
	bool trunc = false;
	char *tok = NULL;

	(void)state;
	assert_int_equal(s3xml_parse_list(x, strlen(x), on_key, &s, &trunc, &tok), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.total, 15);
	assert_string_equal(s.last, "d");
	assert_true(trunc);
	assert_string_equal(tok, "1+/=");
	free(tok);
	/* a truncated document is an error, not a short listing */
	memset(&s, 0, sizeof(s));
	assert_int_equal(s3xml_parse_list(x, strlen(x) / 2, on_key, &s, &trunc, &tok), -1);
	assert_null(tok);
}

static void test_complete_doc(void **state)
{
	const char *ok = "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag>"
			 "</CompleteMultipartUploadResult>";
	const char *err = "<?xml version=\"1.0\"?>\n\n   <Error><Code>InternalError</Code>"
			  "<Message>m</Message></Error>";
	const char *init = "<InitiateMultipartUploadResult><UploadId>2~x</UploadId>"
			   "</InitiateMultipartUploadResult>";
	struct s3xml_error e;
	char id[64];

	(void)state;
	assert_int_equal(s3xml_parse_complete(ok, strlen(ok), &e), 0);
	assert_int_equal(s3xml_parse_complete(err, strlen(err), &e), 1);
	assert_string_equal(e.code, "InternalError");
	assert_int_equal(s3xml_parse_complete(ok, 20, &e), -1);
	assert_int_equal(s3xml_parse_complete("", 0, &e), -1);
	assert_int_equal(s3xml_parse_upload_id(init, strlen(init), id, sizeof(id)), 0);
	assert_string_equal(id, "2~x");
}

static void test_retry_policy(void **state)
{
	struct retry_quota q;
	int i, takes = 0;

	(void)state;
	assert_true(retry_status_retryable(503));
	assert_false(retry_status_retryable(403));
	assert_true(retry_code_retryable("SlowDown"));
	assert_true(retry_code_retryable("RequestTimeout"));
	assert_false(retry_code_retryable("AccessDenied"));
	assert_false(retry_code_retryable(NULL));
	for (i = 0; i < 200; i++) {
		long d = retry_backoff_ms(i % 12 + 1, 1000, 20000);

		assert_true(d >= 0 && d <= 20000);
	}
	for (i = 0; i < 200; i++)
		assert_true(retry_backoff_ms(1, 100, 20000) <= 100);
	retry_quota_init(&q);
	while (retry_quota_take(&q, false))
		takes++;
	assert_int_equal(takes, RETRY_QUOTA_MAX / RETRY_COST);
	retry_quota_refund(&q, 10);
	assert_true(retry_quota_take(&q, true));
	assert_false(retry_quota_take(&q, true));
}

static void test_parse_url(void **state)
{
	char b[64], p[256], err[256];

	(void)state;
	assert_int_equal(s3_parse_url("s3://my-bucket/a/b/", b, sizeof(b), p, sizeof(p), err,
				      sizeof(err)), 0);
	assert_string_equal(b, "my-bucket");
	assert_string_equal(p, "a/b/");
	assert_int_equal(s3_parse_url("s3://bkt", b, sizeof(b), p, sizeof(p), err, sizeof(err)), 0);
	assert_string_equal(p, "");
	assert_int_equal(s3_parse_url("http://bkt/x", b, sizeof(b), p, sizeof(p), err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "s3://BUCKET/PREFIX"));
	assert_int_equal(s3_parse_url("s3://ab/x", b, sizeof(b), p, sizeof(p), err, sizeof(err)), -1);
	assert_int_equal(s3_parse_url("s3://a b/x", b, sizeof(b), p, sizeof(p), err, sizeof(err)),
			 -1);
}

static void clear_env(void)
{
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("COVSHIP_S3_MAX_ATTEMPTS");
	unsetenv("COVSHIP_S3_PARALLEL_BUNDLES");
}

static void test_config_resolve(void **state)
{
	struct s3_options o = { 0 };
	struct s3_config c;
	char err[256];

	(void)state;
	clear_env();
	assert_int_equal(s3_config_resolve(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.region, "us-east-1");
	assert_string_equal(c.endpoint, "https://s3.us-east-1.amazonaws.com");
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	assert_int_equal(s3_config_resolve(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "https://s3.eu-west-1.amazonaws.com");
	setenv("AWS_REGION", "eu-central-1", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/", 1);
	assert_int_equal(s3_config_resolve(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.region, "eu-central-1");
	assert_string_equal(c.endpoint, "http://127.0.0.1:9000");
	setenv("AWS_ENDPOINT_URL_S3", "http://s3.local:1", 1);
	assert_int_equal(s3_config_resolve(&c, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "http://s3.local:1");
	o.endpoint = "https://minio.example:9000";
	o.region = "ap-south-1";
	assert_int_equal(s3_config_resolve(&c, &o, err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "https://minio.example:9000");
	assert_string_equal(c.region, "ap-south-1");
	o.endpoint = "ftp://x";
	assert_int_equal(s3_config_resolve(&c, &o, err, sizeof(err)), -1);
	o.endpoint = "http://x/some/path";
	assert_int_equal(s3_config_resolve(&c, &o, err, sizeof(err)), -1);
	o.endpoint = NULL;
	setenv("COVSHIP_S3_MAX_ATTEMPTS", "zero", 1);
	assert_int_equal(s3_config_resolve(&c, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "COVSHIP_S3_MAX_ATTEMPTS"));
	clear_env();
	/* Bundles in flight when the spool is delivered: 4 unless set, 1..64. */
	assert_int_equal(s3_config_resolve(&c, NULL, err, sizeof(err)), 0);
	assert_int_equal(c.max_parallel_bundles, 8);
	setenv("COVSHIP_S3_PARALLEL_BUNDLES", "1", 1);
	assert_int_equal(s3_config_resolve(&c, NULL, err, sizeof(err)), 0);
	assert_int_equal(c.max_parallel_bundles, 1);
	setenv("COVSHIP_S3_PARALLEL_BUNDLES", "0", 1);
	assert_int_equal(s3_config_resolve(&c, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "COVSHIP_S3_PARALLEL_BUNDLES"));
	setenv("COVSHIP_S3_PARALLEL_BUNDLES", "65", 1);
	assert_int_equal(s3_config_resolve(&c, NULL, err, sizeof(err)), -1);
	clear_env();
}

/* Parts stay >= the configured size and <= 10,000 whatever the file size. */
static void test_part_size(void **state)
{
	const uint64_t mib = 1024 * 1024, sizes[] = {
		64 * mib, 1024 * mib, 80000 * mib, 80000 * mib + 1, 1ULL << 40, 5ULL << 40,
	};
	size_t i;

	(void)state;
	assert_int_equal(s3_part_size(1024 * mib, 8 * mib), 8 * mib);
	/* 1 TiB at 8 MiB would be 131,072 parts */
	assert_true(s3_part_size(1ULL << 40, 8 * mib) > 8 * mib);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t ps = s3_part_size(sizes[i], 8 * mib);

		assert_true(ps >= 8 * mib);
		assert_int_equal(ps % mib, 0);
		assert_true((sizes[i] + ps - 1) / ps <= 10000);
		assert_true(ps <= 5ULL << 30);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_doc),     cmocka_unit_test(test_list_doc),
		cmocka_unit_test(test_complete_doc),  cmocka_unit_test(test_retry_policy),
		cmocka_unit_test(test_parse_url),     cmocka_unit_test(test_config_resolve),
		cmocka_unit_test(test_part_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
