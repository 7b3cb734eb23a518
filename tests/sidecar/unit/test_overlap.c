/* SPDX-License-Identifier: MIT */
/* The paths kept apart (overlap.h): component-wise, on canonical paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "overlap.h"

static void test_within(void **state)
{
	(void)state;
	assert_true(path_within("/a/b", "/a/b"));
	assert_true(path_within("/a/b", "/a/b/c"));
	assert_true(path_within("/", "/a"));
	assert_false(path_within("/a/b", "/a/bc"));  /* a string prefix, not a parent */
	assert_false(path_within("/a/bc", "/a/b"));
	assert_false(path_within("/a/b/c", "/a/b"));
	assert_false(path_within("/a/b", "/a"));
}

/* In a scratch directory: a symlink resolves, a missing tail is appended
 * with "." and ".." resolved by name, a path under a file fails. */
static void test_canonical(void **state)
{
	char tmpl[] = "/tmp/covship-overlap.XXXXXX", real[PATH_MAX], want[PATH_MAX + 64];
	char path[PATH_MAX + 64], out[PATH_MAX];
	const char *base = mkdtemp(tmpl);
	FILE *f;

	(void)state;
	assert_non_null(base);
	assert_non_null(realpath(base, real));
	snprintf(path, sizeof(path), "%s/d", base);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/link", base);
	assert_int_equal(symlink("d", path), 0);

	snprintf(path, sizeof(path), "%s/link/new/./x/../y/", base);
	assert_int_equal(path_canonical(path, out), 0);
	snprintf(want, sizeof(want), "%s/d/new/y", real);
	assert_string_equal(out, want);

	snprintf(path, sizeof(path), "%s/link", base);
	assert_int_equal(path_canonical(path, out), 0);
	snprintf(want, sizeof(want), "%s/d", real);
	assert_string_equal(out, want);

	snprintf(path, sizeof(path), "%s/file", base);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	snprintf(path, sizeof(path), "%s/file/spool", base);
	assert_true(path_canonical(path, out) < 0);

	snprintf(path, sizeof(path), "%s/file", base);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/link", base);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/d", base);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(base), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_within),
		cmocka_unit_test(test_canonical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
