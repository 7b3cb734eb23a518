/* SPDX-License-Identifier: MIT */
/*
 * spawn_main + signals against real processes: exact exec errors, and the
 * child gets the signal mask and SIGCHLD disposition the shim inherited,
 * not the shim's own (everything blocked, SIGCHLD at default).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exitcode.h"
#include "signals.h"
#include "spawn.h"

static int run(char *const argv[], const struct signals *sig, int *exec_errno)
{
	int status;
	pid_t pid = spawn_main(argv, sig, exec_errno);

	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return exitcode_from_wait(status);
}

/*
 * Each test runs with a pristine mask and every disposition at default: the
 * test runner may itself have been started with signals ignored (a shell's
 * background job ignores SIGINT and SIGQUIT, nohup ignores SIGHUP), and the
 * child's SigIgn is compared bit for bit.
 */
static int setup(void **state)
{
	static struct signals sig; /* cmocka state outlives the setup's frame */
	sigset_t none;

	sigemptyset(&none);
	assert_int_equal(sigprocmask(SIG_SETMASK, &none, NULL), 0);
	for (int s = 1; s < SIGRTMIN; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	*state = &sig;
	return 0;
}

static int teardown(void **state)
{
	sigset_t none;

	signals_close(*state);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	return 0;
}

static void test_exec_errors(void **state)
{
	struct signals *sig = *state;
	char *missing[] = { "covship-no-such-command", NULL };
	char path[] = "/tmp/covship-spawn-test.XXXXXX";
	char *not_exec[] = { path, NULL };
	char *dir[] = { "/", NULL };
	char *ok[] = { "true", NULL };
	int err;

	int fd = mkstemp(path); /* mode 0600: a file, not executable */

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(signals_setup(sig), 0);
	assert_int_equal(run(missing, sig, &err), 127);
	assert_int_equal(err, ENOENT);
	assert_int_equal(run(not_exec, sig, &err), 126);
	assert_int_equal(err, EACCES);
	assert_int_equal(run(dir, sig, &err), 126);
	assert_int_equal(err, EACCES);
	assert_int_equal(run(ok, sig, &err), 0);
	assert_int_equal(err, 0);
	unlink(path);
}

/* awk exits 0 when /proc/self/status has FIELD equal to VALUE (hex). */
static int child_field_is(const struct signals *sig, const char *field, const char *value)
{
	char prog[128];
	char *argv[] = { "awk", prog, "/proc/self/status", NULL };
	int err;

	snprintf(prog, sizeof(prog), "$1 == \"%s:\" { exit($2 == \"%s\" ? 0 : 1) }", field,
		 value);
	return run(argv, sig, &err);
}

static void test_child_gets_inherited_signal_state(void **state)
{
	struct signals *sig = *state;
	sigset_t usr2;

	/* What a parent (e.g. a CI runner) handed the shim: USR2 blocked, CHLD ignored. */
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	assert_int_equal(sigprocmask(SIG_BLOCK, &usr2, NULL), 0);
	assert_ptr_not_equal(signal(SIGCHLD, SIG_IGN), SIG_ERR);

	assert_int_equal(signals_setup(sig), 0);
	/* The shim itself must see SIGCHLD at default, or waitpid loses statuses. */
	assert_ptr_equal(signal(SIGCHLD, SIG_DFL), SIG_DFL);

	assert_int_equal(child_field_is(sig, "SigBlk", "0000000000000800"), 0);
	/* SIGCHLD (17) is bit 16: ignored again in the child, as inherited. */
	assert_int_equal(child_field_is(sig, "SigIgn", "0000000000010000"), 0);
	/* Control: the check itself fails on a value that is not there. */
	assert_int_equal(child_field_is(sig, "SigBlk", "0000000000000000"), 1);
}

static void test_signals_are_routed(void **state)
{
	struct signals *sig = *state;
	int got = 0, sender = 0;

	assert_int_equal(signals_setup(sig), 0);
	assert_int_equal(signals_next(sig, &got, &sender), 0); /* nothing pending */
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(signals_next(sig, &got, &sender), 1);
	assert_true(got == SIGUSR1 || got == SIGTERM);
	assert_int_equal(sender, getpid());
	assert_int_equal(signals_next(sig, &got, &sender), 1);
	assert_int_equal(signals_next(sig, &got, &sender), 0);
	assert_true(signals_is_forwarded(SIGTERM));
	assert_true(signals_is_forwarded(SIGWINCH));
	assert_false(signals_is_forwarded(SIGCHLD));
}

static void test_signal_names(void **state)
{
	char buf[24];

	(void)state;
	assert_string_equal(signals_name(SIGTERM, buf), "SIGTERM");
	assert_string_equal(signals_name(SIGWINCH, buf), "SIGWINCH");
	assert_string_equal(signals_name(SIGRTMIN + 2, buf), "SIGRTMIN+2");
	assert_string_equal(signals_name(200, buf), "signal 200");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exec_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_gets_inherited_signal_state, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_signals_are_routed, setup, teardown),
		cmocka_unit_test(test_signal_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
