/* SPDX-License-Identifier: MIT */
/*
 * Healthy = a watcher holds the spool's lock (so it is alive: a flock dies
 * with its process, unlike a pid that can be reused) and its status.json
 * says neither that a delivery failed permanently ("failed") nor that a
 * coverage file cannot be read ("degraded").
 */
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "options.h"

static bool watcher_alive(int dirfd)
{
	int fd = openat(dirfd, "lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool alive = false;

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		alive = errno == EWOULDBLOCK;
	close(fd); /* drops our probe lock if we got it */
	return alive;
}

static cJSON *read_status(int dirfd)
{
	int fd = openat(dirfd, "status.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[8192];
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 ? cJSON_ParseWithLength(buf, (size_t)n) : NULL;
}

static int check(const char *spool)
{
	int dirfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const cJSON *state, *pid, *err;
	cJSON *st;
	int rc = 0;

	if (dirfd < 0) {
		printf("unhealthy: spool %s: %s\n", spool, strerror(errno));
		return 1;
	}
	st = read_status(dirfd);
	state = cJSON_GetObjectItemCaseSensitive(st, "state");
	pid = cJSON_GetObjectItemCaseSensitive(st, "pid");
	err = cJSON_GetObjectItemCaseSensitive(st, "last_error");
	if (!watcher_alive(dirfd) ||
	    (cJSON_IsNumber(pid) && kill((pid_t)pid->valuedouble, 0) < 0 && errno == ESRCH)) {
		printf("unhealthy: no covship watch is running on spool %s\n", spool);
		rc = 1;
	} else if (!cJSON_IsString(state)) {
		printf("unhealthy: %s/status.json is missing or unreadable\n", spool);
		rc = 1;
	} else if (!strcmp(state->valuestring, "failed")) {
		printf("unhealthy: a delivery failed permanently: %s\n",
		       cJSON_IsString(err) ? err->valuestring : "see the watcher's log");
		rc = 1;
	} else if (!strcmp(state->valuestring, "degraded")) {
		/* coverage the sidecar cannot read is never delivered until a
		 * human fixes the permissions: as unhealthy as a failed delivery */
		printf("unhealthy: degraded: %s\n",
		       cJSON_IsString(err) ? err->valuestring : "see the watcher's log");
		rc = 1;
	} else {
		printf("healthy: %s\n", state->valuestring);
	}
	cJSON_Delete(st);
	close(dirfd);
	return rc;
}

int cmd_health(int argc, char **argv)
{
	struct options o;
	int rc;

	rc = options_load(OPTIONS_HEALTH, argc, argv, &o);
	if (rc >= 0)
		return rc;
	rc = check(o.spool);
	options_free(&o);
	return rc;
}
