/* SPDX-License-Identifier: MIT */
#include "handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int handoff_take_lock_fd(void)
{
	const char *v = getenv(HANDOFF_ENV_LOCK_FD);
	char *end;
	long fd;

	if (!v)
		return -1;
	errno = 0;
	fd = strtol(v, &end, 10);
	if (errno || end == v || *end || fd < 3 || fd > INT_MAX)
		fd = -1;
	unsetenv(HANDOFF_ENV_LOCK_FD);
	return (int)fd;
}

void handoff_done_id(int rootfd, char buf[HANDOFF_DONE_ID_LEN])
{
	struct stat st;

	if (fstatat(rootfd, ".covship/done.json", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		strcpy(buf, "-");
		return;
	}
	snprintf(buf, HANDOFF_DONE_ID_LEN, "%llu:%llu:%lld:%lld.%09ld",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static int set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}

/* The exec itself: only 0-2 and the lock survive it. */
static int exec_with_lock(const char *exe, int argc, char **argv, int lockfd)
{
	char num[16];
	char **nargv = calloc((size_t)argc + 2, sizeof(*nargv));
	int e;

	if (!nargv)
		return -ENOMEM;
	nargv[0] = (char *)exe;
	memcpy(nargv + 1, argv, (size_t)argc * sizeof(*nargv));
	snprintf(num, sizeof(num), "%d", lockfd);
	if (setenv(HANDOFF_ENV_LOCK_FD, num, 1) < 0 ||
	    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		e = -errno;
		goto out;
	}
	e = set_cloexec(lockfd, false);
	if (e == 0) {
		execv(exe, nargv);
		e = -errno;
		/* best effort: the lock is ours either way, and we carry on */
		(void)set_cloexec(lockfd, true);
	}
out:
	unsetenv(HANDOFF_ENV_LOCK_FD);
	free(nargv);
	return e;
}

static int self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	const char *gone = " (deleted)";

	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	/* replaced on disk (an upgrade): the old path now names another binary */
	if ((size_t)n > strlen(gone) && !strcmp(buf + n - strlen(gone), gone))
		return -ENOENT;
	return 0;
}

static int find_idle(const char *self, char *buf, size_t len)
{
	static const char *const where[] = { "", "../libexec/covship/" };
	const char *slash = strrchr(self, '/');
	int dirlen = slash ? (int)(slash - self + 1) : 0;
	size_t i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		if (snprintf(buf, len, "%.*s%s" HANDOFF_IDLE_NAME, dirlen, self, where[i]) <
			    (int)len &&
		    access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int handoff_to_idle(int watch_argc, char **watch_argv, int lockfd, const char *done_id)
{
	char self[PATH_MAX], idle[PATH_MAX];
	int e = self_exe(self, sizeof(self));

	if (e == 0)
		e = find_idle(self, idle, sizeof(idle));
	if (e < 0)
		return e;
	if (setenv(HANDOFF_ENV_RETURN, self, 1) < 0 || setenv(HANDOFF_ENV_DONE, done_id, 1) < 0)
		e = -errno;
	else
		e = exec_with_lock(idle, watch_argc, watch_argv, lockfd);
	unsetenv(HANDOFF_ENV_RETURN);
	unsetenv(HANDOFF_ENV_DONE);
	return e;
}

int handoff_return(int watch_argc, char **watch_argv, int lockfd, bool idle_failed)
{
	const char *v = getenv(HANDOFF_ENV_RETURN);
	char exe[PATH_MAX];

	if (!v || snprintf(exe, sizeof(exe), "%s", v) >= (int)sizeof(exe))
		return -ENOENT;
	if (idle_failed && setenv(HANDOFF_ENV_FAILED, "1", 1) < 0)
		return -errno;
	return exec_with_lock(exe, watch_argc, watch_argv, lockfd);
}

int handoff_restart(int watch_argc, char **watch_argv, int lockfd)
{
	char self[PATH_MAX];
	int e = self_exe(self, sizeof(self));

	if (e < 0)
		return e;
	/* the mark of a watcher coming back: handoff_returned() reads it */
	if (setenv(HANDOFF_ENV_RETURN, self, 1) < 0)
		return -errno;
	e = exec_with_lock(self, watch_argc, watch_argv, lockfd);
	unsetenv(HANDOFF_ENV_RETURN);
	return e;
}

bool handoff_returned(bool *idle_failed)
{
	bool back = getenv(HANDOFF_ENV_RETURN) != NULL;

	*idle_failed = back && getenv(HANDOFF_ENV_FAILED) != NULL;
	/* set afresh on the next hand-off; nobody else is to see them */
	unsetenv(HANDOFF_ENV_RETURN);
	unsetenv(HANDOFF_ENV_DONE);
	unsetenv(HANDOFF_ENV_FAILED);
	return back;
}
