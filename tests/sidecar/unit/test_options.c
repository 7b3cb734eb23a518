/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

static void clear_env(void)
{
	unsetenv("COVSHIP_DIR");
	unsetenv("COVSHIP_DEST");
	unsetenv("COVSHIP_INCLUDE");
	unsetenv("COVSHIP_KEEP_SOURCES");
	unsetenv("COVSHIP_SETTLE");
	unsetenv("COVSHIP_FORMAT");
}

static void test_env_then_argv(void **state)
{
	char *argv[] = { "watch", "--dest", "file:///b", "--settle", "3", NULL };
	struct options o;

	(void)state;
	clear_env();
	setenv("COVSHIP_DIR", "/cov", 1);
	setenv("COVSHIP_DEST", "file:///a", 1);
	setenv("COVSHIP_INCLUDE", "*.x,sub/*.y", 1);
	setenv("COVSHIP_KEEP_SOURCES", "1", 1);
	setenv("COVSHIP_SETTLE", "9", 1);
	assert_int_equal(options_parse(OPTIONS_WATCH, 5, argv, &o), OPTIONS_OK);
	assert_string_equal(o.dir, "/cov");
	assert_string_equal(o.dest, "file:///b"); /* the command line wins */
	assert_int_equal(o.settle, 3);
	assert_true(o.keep_sources);
	assert_int_equal(o.ninclude, 2);
	assert_string_equal(o.include[1], "sub/*.y");
	assert_string_equal(o.spool, OPTIONS_DEFAULT_SPOOL);
	assert_string_equal(o.key_template, OPTIONS_DEFAULT_KEY_TEMPLATE);
	assert_int_equal(o.drain_timeout, 60);
	assert_string_equal(o.dest_opts.spool_dir, OPTIONS_DEFAULT_SPOOL);
	options_free(&o);
	clear_env();
}

static void test_errors(void **state)
{
	char *no_dir[] = { "push", "--dest", "file:///x", NULL };
	char *bad_fmt[] = { "push", "--dir", "/c", "--dest", "file:///x", "--format", "x", NULL };
	char *bad_num[] = { "push", "--dir", "/c", "--dest", "file:///x", "--settle", "-1", NULL };
	char *extra[] = { "push", "--dir", "/c", "--dest", "file:///x", "stray", NULL };
	char *help[] = { "push", "--help", NULL };
	struct options o;

	(void)state;
	clear_env();
	assert_int_equal(options_parse(OPTIONS_PUSH, 3, no_dir, &o), OPTIONS_ERROR);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_PUSH, 7, bad_fmt, &o), OPTIONS_ERROR);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_PUSH, 7, bad_num, &o), OPTIONS_ERROR);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_PUSH, 6, extra, &o), OPTIONS_ERROR);
	options_free(&o);
	setenv("COVSHIP_FORMAT", "cobol", 1);
	assert_int_equal(options_parse(OPTIONS_PUSH, 2, help, &o), OPTIONS_EXIT_OK);
	options_free(&o);
	clear_env();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_then_argv),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
