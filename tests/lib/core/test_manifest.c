/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"

#define RID "0123456789abcdef0123456789abcdef"
#define SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_round_trip(void **state)
{
	struct manifest_file files[3] = {
		{ "run-x/.coverage.a.1.2", 21, 10, SHA },
		{ "odd\xff\xfe name\n", 11, 0, SHA },
		{ "\xc3\xbc.coverage", 11, 5, SHA },
	};
	cJSON *marker = cJSON_Parse("{\"schema\":1,\"run_id\":\"" RID "\",\"status\":\"complete\"}");
	struct manifest_build b = { RID, 42, "2026-11-25T09:00:00.000Z", "python", files, 3,
				    marker, NULL };
	struct manifest m;
	char err[256];
	char *json = manifest_render(&b);

	(void)state;
	assert_non_null(json);
	assert_non_null(strstr(json, "\"path_b64\""));          /* the non-UTF-8 name */
	assert_non_null(strstr(json, "\"path\":\"\xc3\xbc.coverage\"")); /* UTF-8 stays text */
	assert_int_equal(manifest_parse(json, strlen(json), &m, err, sizeof(err)), 0);
	assert_string_equal(m.run_id, RID);
	assert_int_equal(m.seq, 42);
	assert_int_equal(m.nfiles, 3);
	assert_int_equal(m.files[1].path_len, 11);
	assert_memory_equal(m.files[1].path, "odd\xff\xfe name\n", 11);
	assert_string_equal(m.files[0].path, "run-x/.coverage.a.1.2");
	assert_int_equal(m.files[0].size, 10);
	assert_string_equal(m.files[2].sha256, SHA);
	assert_non_null(m.marker);
	manifest_free(&m);
	cJSON_free(json);
	cJSON_Delete(marker);
}

static void expect_bad(const char *json, const char *word)
{
	struct manifest m;
	char err[256];

	assert_int_equal(manifest_parse(json, strlen(json), &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, word));
	assert_null(m.files);
}

static void test_rejects(void **state)
{
	(void)state;
	expect_bad("not json", "JSON");
	expect_bad("{\"schema\":2}", "schema");
	expect_bad("{\"schema\":1,\"run_id\":\"xyz\"}", "run_id");
	expect_bad("{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":-1,\"files\":[]}", "seq");
	expect_bad("{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":1}", "files");
	expect_bad("{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":1,\"files\":[{\"size\":1,"
		   "\"sha256\":\"" SHA "\"}]}", "path");
	expect_bad("{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":1,\"files\":[{\"path\":\"a\","
		   "\"size\":1.5,\"sha256\":\"" SHA "\"}]}", "size");
	expect_bad("{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":1,\"files\":[{\"path\":\"a\","
		   "\"size\":1,\"sha256\":\"ABC\"}]}", "sha256");
	/* base64 of "a\0b": a NUL cannot be in a Linux name */
	expect_bad("{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":1,\"files\":[{\"path_b64\":\"YQBi\","
		   "\"size\":1,\"sha256\":\"" SHA "\"}]}", "path");
	expect_bad("{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":1,\"files\":[],\"marker\":3}",
		   "marker");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
