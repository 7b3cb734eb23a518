/* SPDX-License-Identifier: MIT */
/*
 * covship-idle: the idle state of `covship watch` (see handoff.h). The
 * watcher execs it, in the same process, when there is nothing to do; it
 * waits with nothing but libc, libinotifytools and cJSON mapped and execs
 * the watcher again as soon as there is possibly work. Not for people.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "idle_wait.h"
#include "log.h"
#include "options.h"

int main(int argc, char **argv)
{
	struct options o;
	sigset_t set;
	bool waited = false;
	int lockfd, e;

	(void)log_init("covship"); /* the watcher checked COVSHIP_LOG_FORMAT */
	lockfd = handoff_take_lock_fd();
	if (argc < 2 || strcmp(argv[1], "watch") || lockfd < 0 || !getenv(HANDOFF_ENV_RETURN) ||
	    !getenv(HANDOFF_ENV_DONE)) {
		log_error(HANDOFF_IDLE_NAME " is started by 'covship watch' when it is idle; run "
			  "'covship watch' instead");
		return 2;
	}
	/* Inherited blocked from the watcher; blocked again in case it was not,
	 * so that a stop waits for the watcher's drain. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		log_warn("sigprocmask: %s", strerror(errno));
	/* The watcher accepted this configuration: parsed again the same way */
	if (options_parse(OPTIONS_WATCH, argc - 1, argv + 1, &o) == OPTIONS_OK)
		waited = idle_wait(&o, getenv(HANDOFF_ENV_DONE));
	options_free(&o);
	e = handoff_return(argc - 1, argv + 1, lockfd, !waited);
	log_error("cannot return to covship watch (%s): %s; restart the watcher",
		  getenv(HANDOFF_ENV_RETURN) ? getenv(HANDOFF_ENV_RETURN) : "?", strerror(-e));
	return 1;
}
