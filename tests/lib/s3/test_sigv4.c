/* SPDX-License-Identifier: MIT */
/* SigV4 pieces against the AWS S3 documentation's "GET Object" example and
 * the AWS SigV4 test suite (sigv4_suite.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sigv4.h"
#include "sigv4_suite.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct sigv4_kv doc_headers[] = {
	{ "Host", "examplebucket.s3.amazonaws.com" },
	{ "Range", "bytes=0-9" },
	{ "x-amz-content-sha256", EMPTY_SHA },
	{ "x-amz-date", "20130524T000000Z" },
};

static struct sigv4_input doc_input(void)
{
	struct sigv4_input in = {
		.method = "GET",
		.path = "/test.txt",
		.headers = doc_headers,
		.nheaders = 4,
		.payload_hash = EMPTY_SHA,
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
		.access_key = "AKIAIOSFODNN7EXAMPLE",
		.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	};
	return in;
}

static void test_doc_example(void **state)
{
	struct sigv4_input in = doc_input();
	char *auth = sigv4_authorization(&in);

	(void)state;
	assert_non_null(auth);
	assert_string_equal(auth,
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	free(auth);
}

/* Control: one changed byte anywhere changes the signature. */
static void test_doc_example_tampered(void **state)
{
	struct sigv4_input in = doc_input();
	char *auth;

	(void)state;
	in.path = "/test.txT";
	auth = sigv4_authorization(&in);
	assert_non_null(auth);
	assert_null(strstr(auth, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
	free(auth);
}

static void test_canonical_request(void **state)
{
	struct sigv4_input in = doc_input();
	char *sh = NULL, *creq = sigv4_canonical_request(&in, &sh);

	(void)state;
	assert_string_equal(creq, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
				  "range:bytes=0-9\nx-amz-content-sha256:" EMPTY_SHA "\n"
				  "x-amz-date:20130524T000000Z\n\n"
				  "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA);
	assert_string_equal(sh, "host;range;x-amz-content-sha256;x-amz-date");
	free(creq);
	free(sh);
}

static void test_uri_encode(void **state)
{
	struct strbuf b = STRBUF_INIT;
	const char key[] = "a b+c=d%e~f/g//h\xc3\xa9*";

	(void)state;
	sigv4_uri_encode(&b, key, strlen(key), true);
	assert_string_equal(b.s, "a%20b%2Bc%3Dd%25e~f/g//h%C3%A9%2A");
	sb_free(&b);
	sigv4_uri_encode(&b, "a/b", 3, false);
	assert_string_equal(b.s, "a%2Fb");
	sb_free(&b);
}

static void test_query_sorted_valueless(void **state)
{
	const struct sigv4_kv q[] = {
		{ "uploadId", "x+y/z=" }, { "partNumber", "2" }, { "uploads", NULL },
		{ "list-type", "2" }, { "continuation-token", "a+b/c==" },
	};
	char *s = sigv4_canonical_query(q, 5);

	(void)state;
	assert_string_equal(s, "continuation-token=a%2Bb%2Fc%3D%3D&list-type=2&partNumber=2&"
			       "uploadId=x%2By%2Fz%3D&uploads=");
	free(s);
}

static void test_headers_trim_and_merge(void **state)
{
	const struct sigv4_kv h[] = {
		{ "X-Amz-Meta-B", "  two   words  " }, { "x-amz-meta-a", "1" }, { "x-amz-meta-a", "2" },
	};
	char *c = NULL, *s = NULL;

	(void)state;
	assert_int_equal(sigv4_canonical_headers(h, 3, &c, &s), 0);
	assert_string_equal(c, "x-amz-meta-a:1,2\nx-amz-meta-b:two words\n");
	assert_string_equal(s, "x-amz-meta-a;x-amz-meta-b");
	free(c);
	free(s);
}

/* A repeated header's values in the order given, not sorted: the control
 * for get-header-value-order (sorting them would give "1,2" both times). */
static void test_headers_duplicate_order(void **state)
{
	const struct sigv4_kv h[] = {
		{ "x-amz-meta-a", "2" }, { "Host", "h" }, { "X-Amz-Meta-A", "1" },
	};
	char *c = NULL, *s = NULL;

	(void)state;
	assert_int_equal(sigv4_canonical_headers(h, 3, &c, &s), 0);
	assert_string_equal(c, "host:h\nx-amz-meta-a:2,1\n");
	free(c);
	free(s);
}

/* A CR or LF in any header value (the session token is one) or name is
 * refused before signing: it would inject header lines. */
static void test_crlf_refused(void **state)
{
	static const char *const bad[] = { "a\r\nX-Injected: 1", "a\nb", "a\rb",
					   "value1\n  value2\n     value3" };
	struct sigv4_input in = doc_input();
	struct sigv4_kv h[5];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *c = NULL, *s = NULL;

		memcpy(h, doc_headers, sizeof(doc_headers));
		h[4] = (struct sigv4_kv){ "x-amz-security-token", bad[i] };
		in.headers = h;
		in.nheaders = 5;
		assert_int_equal(sigv4_bad_header(h, 5), 4);
		assert_int_equal(sigv4_canonical_headers(h, 5, &c, &s), -1);
		assert_null(c);
		assert_null(sigv4_authorization(&in));
	}
	h[4] = (struct sigv4_kv){ "x-amz-meta-x\n", "v" };
	assert_int_equal(sigv4_bad_header(h, 5), 4);
	assert_null(sigv4_authorization(&in));
	/* Control: the same header without the line break signs. */
	h[4] = (struct sigv4_kv){ "x-amz-security-token", "a b" };
	assert_int_equal(sigv4_bad_header(h, 5), -1);
	free(sigv4_authorization(&in));
}

/* Every applicable vector of the AWS SigV4 test suite: canonical request
 * and signature. */
static void test_aws_suite(void **state)
{
	size_t v, i, n;

	(void)state;
	for (v = 0; v < sizeof(suite_vectors) / sizeof(suite_vectors[0]); v++) {
		const struct suite_vector *t = &suite_vectors[v];
		struct sigv4_kv h[10], q[4];
		char hash[65], *creq, *sh = NULL, *auth, want[512];
		struct sigv4_input in = {
			.method = t->method, .path = t->path, .amz_date = "20150830T123600Z",
			.region = "us-east-1", .service = "service", .access_key = "AKIDEXAMPLE",
			.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		};

		sigv4_sha256_hex(t->body, strlen(t->body), hash);
		for (n = 0; n < 6 && t->headers[n].name; n++)
			h[n] = t->headers[n];
		h[n++] = (struct sigv4_kv){ "X-Amz-Date", "20150830T123600Z" };
		if (*t->token)
			h[n++] = (struct sigv4_kv){ "X-Amz-Security-Token", t->token };
		if (t->sign_body)
			h[n++] = (struct sigv4_kv){ "X-Amz-Content-SHA256", hash };
		for (i = 0; i < 4 && t->params[i].name; i++)
			q[i] = t->params[i];
		in.headers = h;
		in.nheaders = n;
		in.params = q;
		in.nparams = i;
		in.payload_hash = hash;
		creq = sigv4_canonical_request(&in, &sh);
		auth = sigv4_authorization(&in);
		print_message("%s\n", t->name);
		assert_non_null(creq);
		assert_non_null(auth);
		assert_string_equal(creq, t->canonical_request);
		snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
			 "us-east-1/service/aws4_request, SignedHeaders=%s, Signature=%s", sh,
			 t->signature);
		assert_string_equal(auth, want);
		free(creq);
		free(sh);
		free(auth);
	}
	assert_int_equal(v, 31);
}

static void test_signing_key(void **state)
{
	/* From the AWS SigV4 documentation ("Deriving the signing key"). */
	uint8_t k[32];
	char hex[65];

	(void)state;
	sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam", k);
	sigv4_hex(k, 32, hex);
	assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc_example),
		cmocka_unit_test(test_doc_example_tampered),
		cmocka_unit_test(test_canonical_request),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_query_sorted_valueless),
		cmocka_unit_test(test_headers_trim_and_merge),
		cmocka_unit_test(test_signing_key),
		cmocka_unit_test(test_headers_duplicate_order),
		cmocka_unit_test(test_crlf_refused),
		cmocka_unit_test(test_aws_suite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
