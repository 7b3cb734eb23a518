/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "matcher.h"

static bool m(const char *preset, const char *path)
{
	struct matcher mt;

	assert_int_equal(matcher_init(&mt, preset, NULL, 0, NULL, 0), 0);
	return matcher_match(&mt, path);
}

static void test_python(void **state)
{
	(void)state;
	assert_true(m("python", ".coverage"));
	assert_true(m("python", "run-x/.coverage.host.12.345678"));
	assert_false(m("python", ".coveragerc"));
	assert_false(m("python", ".coverage.host.1.2-journal"));
	assert_false(m("python", ".coverage.host.1.2-wal"));
	assert_false(m("python", ".coverage.host.1.2-shm"));
	assert_false(m("python", ".coverage.x.tmp"));
	assert_false(m("python", "coverage.xml"));
	assert_false(m("python", "dir.coverage/"));
}

static void test_other_presets(void **state)
{
	(void)state;
	assert_true(m("go", "covmeta.0123abcd"));
	assert_true(m("go", "a/covcounters.0123.45.67"));
	assert_false(m("go", "covmeta"));
	assert_true(m("llvm", "default-123.profraw"));
	assert_false(m("llvm", "default.profdata"));
	assert_true(m("gcov", "obj/main.gcda"));
	assert_false(m("gcov", "obj/main.gcno"));
	assert_true(m("v8", "coverage-123-456-0.json"));
	assert_false(m("v8", "package.json"));
	assert_false(matcher_preset_known("cobol"));
	assert_true(matcher_preset_known("v8"));
}

static void test_globs(void **state)
{
	const char *inc[] = { "*.cov", "sub/*.data" };
	const char *exc[] = { "skip.*", "run-old/*" };
	struct matcher mt;

	(void)state;
	assert_int_equal(matcher_init(&mt, "python", inc, 2, exc, 2), 0);
	assert_true(matcher_match(&mt, "deep/x.cov"));        /* name glob, any depth */
	assert_true(matcher_match(&mt, "sub/a.data"));        /* path glob */
	assert_false(matcher_match(&mt, "other/sub/a.data")); /* path glob is anchored */
	assert_false(matcher_match(&mt, "skip.cov"));         /* exclude wins */
	assert_false(matcher_match(&mt, "run-old/.coverage.a.1.2"));
	assert_true(matcher_match(&mt, "run-new/.coverage.a.1.2"));
	assert_int_equal(matcher_init(&mt, "nope", NULL, 0, NULL, 0), -1);
}

/* A source being removed (unlink_if_same's private name) is never coverage
 * data, even under --include '*' or a preset-like glob. */
static void test_unlink_private_name(void **state)
{
	const char *inc[] = { "*", ".covship-unlink.*" };
	struct matcher mt;

	(void)state;
	assert_int_equal(matcher_init(&mt, "python", inc, 2, NULL, 0), 0);
	assert_false(matcher_match(&mt, ".covship-unlink.12.0123456789abcdef"));
	assert_false(matcher_match(&mt, "run-x/.covship-unlink.12.0123456789abcdef"));
	assert_true(matcher_match(&mt, "run-x/.covship-unlinked")); /* only the prefix */
	assert_false(m("python", "run-x/.covship-unlink.1.2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_python),
		cmocka_unit_test(test_other_presets),
		cmocka_unit_test(test_unlink_private_name),
		cmocka_unit_test(test_globs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
