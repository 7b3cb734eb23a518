/* SPDX-License-Identifier: MIT */
/* Exit statuses follow the shell: code, 128+signal, 126/127 for exec failures. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exitcode.h"

/*
 * A real wait status from a real child, not a hand-built bit pattern. The
 * child execs sh at once so tools like valgrind do not judge the fork.
 */
static int status_of_child(int code, int sig)
{
	char script[64];
	int status;
	pid_t pid;

	if (sig)
		snprintf(script, sizeof(script), "kill -%d $$", sig);
	else
		snprintf(script, sizeof(script), "exit %d", code);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(99);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_exit_codes(void **state)
{
	(void)state;
	for (int code = 0; code < 256; code += 17)
		assert_int_equal(exitcode_from_wait(status_of_child(code, 0)), code);
	assert_int_equal(exitcode_from_wait(status_of_child(255, 0)), 255);
}

static void test_signals(void **state)
{
	(void)state;
	assert_int_equal(exitcode_from_wait(status_of_child(0, SIGTERM)), 128 + SIGTERM);
	assert_int_equal(exitcode_from_wait(status_of_child(0, SIGKILL)), 137);
	assert_int_equal(exitcode_from_wait(status_of_child(0, SIGUSR1)), 128 + SIGUSR1);
}

static void test_exec_errno(void **state)
{
	(void)state;
	assert_int_equal(exitcode_from_exec_errno(ENOENT), 127);
	assert_int_equal(exitcode_from_exec_errno(ENOTDIR), 127);
	assert_int_equal(exitcode_from_exec_errno(EACCES), 126);
	assert_int_equal(exitcode_from_exec_errno(ENOEXEC), 126);
	assert_int_equal(exitcode_from_exec_errno(E2BIG), 126);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_exec_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
