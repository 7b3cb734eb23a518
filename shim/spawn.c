/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "exitcode.h"

static void child_exec(char *const argv[], const struct signals *sig, int report_fd)
{
	int err;

	/*
	 * Own process group, and the terminal's foreground if there is one
	 * (docker run -t): Ctrl-C then reaches the child once, from the tty,
	 * instead of twice (tty + forwarded by the shim). SIGTTOU is still
	 * blocked here, which tcsetpgrp from a background group needs.
	 */
	if (setpgid(0, 0) == 0 && isatty(STDIN_FILENO))
		(void)tcsetpgrp(STDIN_FILENO, getpid());
	signals_restore_for_child(sig);
	execvp(argv[0], argv);
	err = errno;
	/* The parent reads the errno; if even that fails the exit code still tells. */
	while (write(report_fd, &err, sizeof(err)) < 0 && errno == EINTR)
		;
	_exit(exitcode_from_exec_errno(err));
}

/* Reads the child's exec errno: EOF means exec succeeded (the pipe closed on exec). */
static int read_exec_errno(int fd)
{
	int err = 0;
	size_t got = 0;

	while (got < sizeof(err)) {
		ssize_t n = read(fd, (char *)&err + got, sizeof(err) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got == sizeof(err) ? err : 0;
}

pid_t spawn_main(char *const argv[], const struct signals *sig, int *exec_errno)
{
	int pipefd[2];
	pid_t pid;

	*exec_errno = 0;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		(void)close(pipefd[0]);
		(void)close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		(void)close(pipefd[0]);
		child_exec(argv, sig, pipefd[1]);
	}
	(void)close(pipefd[1]);
	*exec_errno = read_exec_errno(pipefd[0]);
	(void)close(pipefd[0]);
	return pid;
}
