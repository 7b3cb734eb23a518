/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "options.h"

static void clear_env(void)
{
	unsetenv("COVSHIP_DIR");
	unsetenv("COVSHIP_DEST");
	unsetenv("COVSHIP_INCLUDE");
	unsetenv("COVSHIP_KEEP_SOURCES");
	unsetenv("COVSHIP_SETTLE");
	unsetenv("COVSHIP_FORMAT");
	unsetenv("COVSHIP_LOG_FORMAT");
	unsetenv("COVSHIP_LOG_LEVEL");
	unsetenv("COVSHIP_NO_IDLE_EXEC");
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
	assert_string_equal(o.spool, "/cov/.covship-spool"); /* default: on the volume */
	assert_string_equal(o.key_template, OPTIONS_DEFAULT_KEY_TEMPLATE);
	assert_int_equal(o.drain_timeout, 60);
	assert_string_equal(o.dest_opts.spool_dir, "/cov/.covship-spool");
	options_free(&o);
	clear_env();
}

static void test_errors(void **state)
{
	char *no_dir[] = { "push", "--dest", "file:///x", NULL };
	char *bad_fmt[] = { "push", "--dir", "/c", "--dest", "file:///x", "--format", "x", NULL };
	char *bad_num[] = { "push", "--dir", "/c", "--dest", "file:///x", "--compression-level",
			    "-1", NULL };
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

/* Each command takes only the options its --help lists: a watch-only option
 * on push's command line is an error, not silently ignored, while the
 * environment (shared by every command in the container) is only read for
 * the options the command takes. */
static void test_per_command(void **state)
{
	char *push_settle[] = { "push", "--dir", "/c", "--dest", "file:///x", "--settle", "5", NULL };
	char *watch_settle[] = { "watch", "--dir", "/c", "--dest", "file:///x", "--settle", "5", NULL };
	char *health_dir[] = { "health", "--dir", "/c/", NULL };
	char *health_d[] = { "health", "-d", "/c", NULL };
	char *health_dest[] = { "health", "--dest", "file:///x", NULL };
	char *health_none[] = { "health", NULL };
	char *health[] = { "health", "--spool", "/s", NULL };
	struct options o;

	(void)state;
	clear_env();
	assert_int_equal(options_parse(OPTIONS_PUSH, 7, push_settle, &o), OPTIONS_ERROR);
	options_free(&o);
	/* control: the same option is fine for watch */
	assert_int_equal(options_parse(OPTIONS_WATCH, 7, watch_settle, &o), OPTIONS_OK);
	assert_int_equal(o.settle, 5);
	options_free(&o);
	/* health takes --dir only to find the default spool */
	assert_int_equal(options_parse(OPTIONS_HEALTH, 3, health_dir, &o), OPTIONS_OK);
	assert_string_equal(o.spool, "/c/.covship-spool");
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_HEALTH, 3, health_d, &o), OPTIONS_OK);
	assert_string_equal(o.spool, "/c/.covship-spool");
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_HEALTH, 3, health_dest, &o), OPTIONS_ERROR);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_HEALTH, 1, health_none, &o), OPTIONS_ERROR);
	options_free(&o);
	/* --spool wins over the default of COVSHIP_DIR */
	setenv("COVSHIP_DIR", "/c", 1);
	assert_int_equal(options_parse(OPTIONS_HEALTH, 3, health, &o), OPTIONS_OK);
	assert_string_equal(o.spool, "/s");
	options_free(&o);
	unsetenv("COVSHIP_DIR");

	/* a watcher's environment does not break health in the same container */
	setenv("COVSHIP_SETTLE", "not-a-number", 1);
	setenv("COVSHIP_FORMAT", "cobol", 1);
	assert_int_equal(options_parse(OPTIONS_HEALTH, 3, health, &o), OPTIONS_OK);
	assert_string_equal(o.spool, "/s");
	options_free(&o);
	/* control: watch does read them */
	assert_int_equal(options_parse(OPTIONS_WATCH, 5, watch_settle, &o), OPTIONS_ERROR);
	options_free(&o);
	clear_env();
}

/* --no-idle-exec / COVSHIP_NO_IDLE_EXEC: watch only, off by default. */
static void test_no_idle_exec(void **state)
{
	char *watch[] = { "watch", "--dir", "/c", "--dest", "file:///x", NULL };
	char *watch_opt[] = { "watch", "--dir", "/c", "--dest", "file:///x", "--no-idle-exec",
			      NULL };
	char *push_opt[] = { "push", "--dir", "/c", "--dest", "file:///x", "--no-idle-exec",
			     NULL };
	struct options o;

	(void)state;
	clear_env();
	assert_int_equal(options_parse(OPTIONS_WATCH, 5, watch, &o), OPTIONS_OK);
	assert_false(o.no_idle_exec);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_WATCH, 6, watch_opt, &o), OPTIONS_OK);
	assert_true(o.no_idle_exec);
	options_free(&o);
	setenv("COVSHIP_NO_IDLE_EXEC", "yes", 1);
	assert_int_equal(options_parse(OPTIONS_WATCH, 5, watch, &o), OPTIONS_OK);
	assert_true(o.no_idle_exec);
	options_free(&o);
	setenv("COVSHIP_NO_IDLE_EXEC", "perhaps", 1);
	assert_int_equal(options_parse(OPTIONS_WATCH, 5, watch, &o), OPTIONS_ERROR);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_PUSH, 6, push_opt, &o), OPTIONS_ERROR);
	options_free(&o);
	clear_env();
}

static void test_logging_options(void **state)
{
	char *verbose[] = { "health", "-d", "/c", "--log-level", "error", "-v", NULL };
	char *quiet[] = { "push", "--dir", "/c", "--dest", "file:///x", "--quiet", NULL };
	char *json[] = { "health", "--spool", "/s", "--log-format", "json", NULL };
	char *bad[] = { "health", "--spool", "/s", "--log-format", "xml", NULL };
	struct options o;

	(void)state;
	clear_env();
	assert_int_equal(options_parse(OPTIONS_HEALTH, 6, verbose, &o), OPTIONS_OK);
	assert_string_equal(o.log_level, "debug"); /* the last one wins */
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_PUSH, 6, quiet, &o), OPTIONS_OK);
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_HEALTH, 5, json, &o), OPTIONS_OK);
	options_free(&o);
	assert_int_equal(options_parse(OPTIONS_HEALTH, 5, bad, &o), OPTIONS_ERROR);
	options_free(&o);
	log_set_json(false);
	log_set_level(LOG_LEVEL_INFO);
}

/* The entry points' exit statuses; with COVSHIP_INCLUDE set, --help and an
 * error must still free the copied patterns (the ASan build's leak check). */
static void test_load(void **state)
{
	char *help[] = { "watch", "--help", NULL };
	char *bad[] = { "push", "--dir", "/c", "--dest", "file:///x", "--format", "x", NULL };
	char *good[] = { "push", "--dir", "/c", "--dest", "file:///x", NULL };
	struct options o;

	(void)state;
	clear_env();
	setenv("COVSHIP_INCLUDE", "*.x,*.y", 1);
	assert_int_equal(options_load(OPTIONS_WATCH, 2, help, &o), 0);
	assert_null(o.env_globs[0]);
	assert_int_equal(options_load(OPTIONS_PUSH, 7, bad, &o), 2);
	assert_null(o.env_globs[0]);
	assert_int_equal(options_load(OPTIONS_PUSH, 5, good, &o), -1);
	assert_int_equal(o.ninclude, 2);
	options_free(&o);
	clear_env();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_then_argv),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_per_command),
		cmocka_unit_test(test_no_idle_exec),
		cmocka_unit_test(test_logging_options),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
