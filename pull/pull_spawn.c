/* SPDX-License-Identifier: MIT */
#include "pull_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

static int wait_child(pid_t pid, char *err, size_t errlen)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int pull_run(char *const argv[], int out_fd, char *err, size_t errlen)
{
	return pull_run_in(argv, NULL, out_fd, err, errlen);
}

int pull_run_in(char *const argv[], const char *dir, int out_fd, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0)
		rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
	if (rc == 0 && dir)
		rc = posix_spawn_file_actions_addchdir_np(&fa, dir);
	if (rc == 0)
		rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	return wait_child(pid, err, errlen);
}

void pull_each_line(const char *path, void (*fn)(void *ctx, const char *line), void *ctx)
{
	char line[4096];
	FILE *f = fopen(path, "re");
	size_t len;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		len = strlen(line);
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len)
			fn(ctx, line);
	}
	fclose(f);
}

static void relay_line(void *only, const char *line)
{
	if (!only || strstr(line, only))
		log_error("coverage.py: %s", line);
}

void pull_relay_output(const char *path, const char *only)
{
	pull_each_line(path, relay_line, (void *)only);
}
