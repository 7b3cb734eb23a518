/* SPDX-License-Identifier: MIT */
/* proctree against real processes: the children files of this very process. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proclist.h"
#include "proctree.h"

static bool contains(const struct pidvec *pv, pid_t pid)
{
	for (size_t i = 0; i < pv->n; i++)
		if (pv->v[i] == pid)
			return true;
	return false;
}

/* A child that forks a grandchild, then both wait to be killed. */
static pid_t spawn_pair(int ready_fd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t g = fork();

		if (g == 0) {
			pause();
			_exit(0);
		}
		if (write(ready_fd, &g, sizeof(g)) != (ssize_t)sizeof(g))
			_exit(1);
		pause();
		_exit(0);
	}
	return pid;
}

static void test_children_and_descendants(void **state)
{
	struct pidvec kids = { 0 }, all = { 0 };
	int fds[2];
	pid_t child, grandchild;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	child = spawn_pair(fds[1]);
	assert_int_equal(read(fds[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
	close(fds[0]);
	close(fds[1]);

	assert_int_equal(proctree_children(getpid(), &kids), 0);
	assert_true(contains(&kids, child));
	assert_false(contains(&kids, grandchild));
	assert_int_equal(proctree_descendants(getpid(), &all), 0);
	assert_true(contains(&all, child));
	assert_true(contains(&all, grandchild));

	kill(grandchild, SIGKILL);
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, NULL, 0), child);
	pidvec_free(&kids);
	pidvec_free(&all);
}

static void test_zombie(void **state)
{
	siginfo_t info;
	pid_t pid;
	int fds[2];
	char c;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[1]);
		if (read(fds[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(fds[0]);
	assert_false(proctree_is_zombie(pid)); /* alive, blocked in read */
	close(fds[1]);                          /* lets it exit */
	assert_int_equal(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);
	assert_true(proctree_is_zombie(pid));   /* exited, not reaped yet */
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_false(proctree_is_zombie(pid));  /* gone */
	assert_true(proctree_usable());
}

static void test_gone_process_has_no_children(void **state)
{
	struct pidvec kids = { 0 };

	(void)state;
	/* pid_max is at most 2^22: this pid cannot exist. */
	assert_int_equal(proctree_children(1 << 23, &kids), 0);
	assert_int_equal(kids.n, 0);
	pidvec_free(&kids);
}

static void test_proclist_reuse(void **state)
{
	struct proclist l = { 0 };
	struct proc_record *r = proclist_get(&l, 42);

	(void)state;
	r->signalled = true;
	assert_ptr_equal(proclist_get(&l, 42), r);
	proc_record_reaped(r, 0);
	/* Reaped: pid 42 may now be somebody new, who has not been signalled. */
	assert_null(proclist_find_live(&l, 42));
	r = proclist_get(&l, 42);
	assert_false(r->signalled);
	assert_int_equal(l.n, 2);
	for (pid_t p = 100; p < 200; p++)
		assert_non_null(proclist_get(&l, p));
	assert_int_equal(l.n, 102);
	proclist_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children_and_descendants),
		cmocka_unit_test(test_zombie),
		cmocka_unit_test(test_gone_process_has_no_children),
		cmocka_unit_test(test_proclist_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
