/* SPDX-License-Identifier: MIT */
#include "exitcode.h"

#include <errno.h>
#include <sys/wait.h>

int exitcode_from_wait(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255; /* stopped/continued are never asked for (no WUNTRACED) */
}

int exitcode_from_exec_errno(int err)
{
	/* ENOTDIR: a path component is a file, the command is just as absent. */
	return (err == ENOENT || err == ENOTDIR) ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
}
