/* SPDX-License-Identifier: MIT */
/* options_parse: defaults, command line, environment, precedence, every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

/* Message buffer shared by the helpers below; each test reads it right after a parse. */
static char err[512];

static int parse(int argc, char **argv, char **envp, struct options *o)
{
	return options_parse(argc, argv, envp, o, err, sizeof(err));
}

static void test_defaults(void **state)
{
	char *argv[] = { "covship-shim", "gunicorn", "-w", "4", NULL };
	char *envp[] = { "PATH=/bin", NULL };
	struct options o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, envp, &o), 0);
	assert_int_equal(o.action, OPTIONS_RUN);
	assert_int_equal(o.grace_ms, 25000);
	assert_null(o.coverage_dir);
	assert_int_equal(o.log_level, LOG_LEVEL_INFO);
	assert_false(o.log_json);
	/* The command's own flags are not ours. */
	assert_ptr_equal(o.command, argv + 1);
	assert_string_equal(o.command[1], "-w");
}

static void test_cli_values(void **state)
{
	char *argv[] = { "covship-shim", "--grace", "2.5", "--coverage-dir=/cov",
			 "--log-format", "json", "-v", "--", "-cmd", NULL };
	struct options o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, NULL, &o), 0);
	assert_int_equal(o.grace_ms, 2500);
	assert_string_equal(o.coverage_dir, "/cov");
	assert_true(o.log_json);
	assert_int_equal(o.log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(o.command[0], "-cmd");
}

static void test_env_values(void **state)
{
	char *argv[] = { "covship-shim", "app", NULL };
	char *envp[] = { "COVSHIP_GRACE=0.125", "COVSHIP_DIR=/vol", "COVSHIP_LOG_LEVEL=error",
			 "COVSHIP_LOG_FORMAT=json", NULL };
	struct options o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, envp, &o), 0);
	assert_int_equal(o.grace_ms, 125);
	assert_string_equal(o.coverage_dir, "/vol");
	assert_int_equal(o.log_level, LOG_LEVEL_ERROR);
	assert_true(o.log_json);
}

static void test_cli_beats_env(void **state)
{
	char *argv[] = { "covship-shim", "--grace=3", "--coverage-dir", "/cli", "-q",
			 "--log-format=text", "app", NULL };
	/* Even bad env values do not matter once the command line set the option. */
	char *envp[] = { "COVSHIP_GRACE=bogus", "COVSHIP_DIR=/env", "COVSHIP_LOG_LEVEL=loud",
			 "COVSHIP_LOG_FORMAT=xml", NULL };
	struct options o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, envp, &o), 0);
	assert_int_equal(o.grace_ms, 3000);
	assert_string_equal(o.coverage_dir, "/cli");
	assert_int_equal(o.log_level, LOG_LEVEL_WARN);
	assert_false(o.log_json);
}

static void test_empty_env_is_unset(void **state)
{
	char *argv[] = { "covship-shim", "app", NULL };
	char *envp[] = { "COVSHIP_GRACE=", "COVSHIP_DIR=", "COVSHIP_LOG_LEVEL=", NULL };
	struct options o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, envp, &o), 0);
	assert_int_equal(o.grace_ms, 25000);
	assert_null(o.coverage_dir);
}

static void test_last_level_flag_wins(void **state)
{
	char *argv[] = { "covship-shim", "-q", "--log-level", "debug", "-q", "app", NULL };
	struct options o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, NULL, &o), 0);
	assert_int_equal(o.log_level, LOG_LEVEL_WARN);
}

static void test_help_version(void **state)
{
	char *h[] = { "covship-shim", "--help", NULL };
	char *v[] = { "covship-shim", "-V", NULL };
	char *envp[] = { "COVSHIP_GRACE=bogus", NULL };
	struct options o;

	(void)state;
	/* --help must work without a command and despite a broken environment. */
	assert_int_equal(parse(ARGC(h), h, envp, &o), 0);
	assert_int_equal(o.action, OPTIONS_HELP);
	assert_int_equal(parse(ARGC(v), v, envp, &o), 0);
	assert_int_equal(o.action, OPTIONS_VERSION);
}

static void test_grace_values(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = { { "0", 0 },     { "25", 25000 },   { "2.5", 2500 },
		     { "0.001", 1 }, { "86400", 86400000 }, { "007", 7000 } };
	static const char *const bad[] = { "",    "abc", "-1",    "1.2345", "1e3", "86400.001",
					   "nan", "1.",  ".5",    " 5",     "5s",  "99999999999999999999" };
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(options_parse_grace(good[i].s, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(options_parse_grace(bad[i], &ms), -1);
}

/* Each bad input fails with one line naming the problem. */
static void expect_error(char **argv, int argc, char **envp, const char *needle)
{
	struct options o;

	assert_int_equal(parse(argc, argv, envp, &o), -1);
	assert_non_null(strstr(err, needle));
	assert_null(strchr(err, '\n'));
}

static void test_errors(void **state)
{
	char *none[] = { "covship-shim", NULL };
	char *only_opts[] = { "covship-shim", "--grace", "3", "--", NULL };
	char *unknown[] = { "covship-shim", "--frobnicate", "app", NULL };
	char *missing[] = { "covship-shim", "--grace", NULL };
	char *bad_grace[] = { "covship-shim", "--grace", "soon", "app", NULL };
	char *bad_level[] = { "covship-shim", "--log-level=loud", "app", NULL };
	char *bad_format[] = { "covship-shim", "--log-format", "xml", "app", NULL };
	char *empty_dir[] = { "covship-shim", "--coverage-dir=", "app", NULL };
	char *app[] = { "covship-shim", "app", NULL };
	char *env_grace[] = { "COVSHIP_GRACE=-4", NULL };
	char *env_level[] = { "COVSHIP_LOG_LEVEL=trace", NULL };
	char *env_format[] = { "COVSHIP_LOG_FORMAT=yaml", NULL };

	(void)state;
	expect_error(none, ARGC(none), NULL, "no command");
	expect_error(only_opts, ARGC(only_opts), NULL, "no command");
	expect_error(unknown, ARGC(unknown), NULL, "unknown option '--frobnicate'");
	expect_error(missing, ARGC(missing), NULL, "'--grace' needs a value");
	expect_error(bad_grace, ARGC(bad_grace), NULL, "bad --grace 'soon'");
	expect_error(bad_level, ARGC(bad_level), NULL, "bad --log-level 'loud'");
	expect_error(bad_format, ARGC(bad_format), NULL, "bad --log-format 'xml'");
	expect_error(empty_dir, ARGC(empty_dir), NULL, "empty --coverage-dir");
	expect_error(app, ARGC(app), env_grace, "bad COVSHIP_GRACE='-4'");
	expect_error(app, ARGC(app), env_level, "bad COVSHIP_LOG_LEVEL='trace'");
	expect_error(app, ARGC(app), env_format, "bad COVSHIP_LOG_FORMAT='yaml'");
}

static void test_env_lookup(void **state)
{
	char *envp[] = { "COVSHIP_DIRX=/no", "COVSHIP_DI=/no", "COVSHIP_DIR=/yes", NULL };

	(void)state;
	assert_string_equal(options_env(envp, "COVSHIP_DIR"), "/yes");
	assert_null(options_env(envp, "COVSHIP_GRACE"));
	assert_null(options_env(NULL, "COVSHIP_DIR"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_cli_values),
		cmocka_unit_test(test_env_values),
		cmocka_unit_test(test_cli_beats_env),
		cmocka_unit_test(test_empty_env_is_unset),
		cmocka_unit_test(test_last_level_flag_wins),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_grace_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_env_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
