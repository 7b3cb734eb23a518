/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "keytemplate.h"

static const struct key_vars vars = { "0123456789abcdef0123456789abcdef", "ip-10-0-0-1", "abc123",
				      "jenkins-app-42", "2026-11-25", 7,
				      "0123456789abcdef0123456789abcdef-00c0ffee00c0ffee-000007.tar.gz",
				      "00c0ffee00c0ffee" };

static void test_default_and_all(void **state)
{
	char out[512], err[256];

	(void)state;
	assert_int_equal(keytemplate_expand("{run_id}/{bundle}", &vars, out, sizeof(out), err,
					    sizeof(err)), 0);
	assert_string_equal(out, "0123456789abcdef0123456789abcdef/"
				 "0123456789abcdef0123456789abcdef-00c0ffee00c0ffee-000007.tar.gz");
	/* {spool_id}: the spool's id, so {run_id}-{spool_id}-{seq} is unique across spools */
	assert_int_equal(keytemplate_expand("{run_id}/{spool_id}/{seq}", &vars, out, sizeof(out),
					    err, sizeof(err)), 0);
	assert_string_equal(out, "0123456789abcdef0123456789abcdef/00c0ffee00c0ffee/000007");
	assert_int_equal(keytemplate_expand("{build}/{date}/{hostname}/{task_id}/{seq}.x", &vars,
					    out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "jenkins-app-42/2026-11-25/ip-10-0-0-1/abc123/000007.x");
}

static void test_sanitised_values(void **state)
{
	struct key_vars v = vars;
	char out[512], err[256];

	(void)state;
	v.build = "../../etc/passwd";
	v.hostname = "..";
	v.task_id = NULL;
	assert_int_equal(keytemplate_expand("{build}/{hostname}/{task_id}", &v, out, sizeof(out),
					    err, sizeof(err)), 0);
	assert_string_equal(out, ".._.._etc_passwd/_/local");
	v.spool_id = NULL;
	assert_int_equal(keytemplate_expand("{spool_id}", &v, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "nospool");
}

static void test_errors(void **state)
{
	char out[64], err[256];

	(void)state;
	assert_int_equal(keytemplate_expand("{nope}", &vars, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "{nope}"));
	assert_int_equal(keytemplate_expand("{run_id", &vars, out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(keytemplate_expand("a}b", &vars, out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(keytemplate_expand("/abs/{seq}", &vars, out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(keytemplate_expand("a//{seq}", &vars, out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(keytemplate_expand("../{seq}", &vars, out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(keytemplate_expand("x/", &vars, out, sizeof(out), err, sizeof(err)), -1);
	/* too long for the buffer */
	assert_int_equal(keytemplate_expand("{bundle}{bundle}", &vars, out, sizeof(out), err,
					    sizeof(err)), -1);
	assert_int_equal(keytemplate_check("", err, sizeof(err)), -1);
	assert_int_equal(keytemplate_check("{run_id}/{bundle}", err, sizeof(err)), 0);
}

/* Unique keys: {bundle}, or {run_id}, {spool_id} and {seq}; a near miss
 * ({run_idx}, {seq} alone, {run_id} and {seq} without the spool id) is
 * refused. */
static void test_unique(void **state)
{
	static const char *const good[] = { "{run_id}/{bundle}", "{bundle}", "x/{build}/{bundle}",
					    "{run_id}-{spool_id}-{seq}.tar.gz",
					    "{seq}/{date}/{spool_id}/{run_id}" };
	static const char *const bad[] = { "{run_id}/x.tar.gz", "{seq}.tar.gz", "{build}/{date}",
					   "run_id/seq/bundle", "{run_id}/{hostname}",
					   "{run_idx}/{seq}", "{run_id}-{seq}.tar.gz" };
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(keytemplate_check_unique(good[i], err, sizeof(err)), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(keytemplate_check_unique(bad[i], err, sizeof(err)), -1);
		assert_non_null(strstr(err, "{bundle}"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_and_all),
		cmocka_unit_test(test_sanitised_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
