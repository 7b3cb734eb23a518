/* SPDX-License-Identifier: MIT */
/*
 * covship-shim: a PID 1 that does not exit while any descendant may still be
 * writing coverage data. Wiring only; each duty lives in its own file:
 * options.c (argv/env), marker.c (run.json/done.json), signals.c (signalfd),
 * spawn.c (fork/exec), supervisor.c (reaping and the shutdown rule).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "exitcode.h"
#include "log.h"
#include "marker.h"
#include "options.h"
#include "runid.h"
#include "signals.h"
#include "spawn.h"
#include "supervisor.h"
#include "timefmt.h"

extern char **environ;

/*
 * An absolute coverage dir: the child may chdir, COVSHIP_DATA_DIR must still
 * point right. Symlinks are kept as given (no realpath: the static build
 * stays smaller, and the path the user chose is the one they will look for).
 */
static int absolute_dir(const char *dir, char out[PATH_MAX], char *err, size_t errlen)
{
	size_t cwd_len;

	if (dir[0] == '/') {
		if (strlen(dir) >= PATH_MAX)
			goto too_long;
		strcpy(out, dir);
		return 0;
	}
	if (!getcwd(out, PATH_MAX)) {
		snprintf(err, errlen,
			 "cannot use coverage dir %s: the current directory is unknown (%s); "
			 "give an absolute --coverage-dir/COVSHIP_DIR",
			 dir, strerror(errno));
		return -1;
	}
	cwd_len = strlen(out);
	if (cwd_len + 1 + strlen(dir) >= PATH_MAX)
		goto too_long;
	out[cwd_len] = '/';
	strcpy(out + cwd_len + 1, dir);
	return 0;
too_long:
	snprintf(err, errlen, "coverage dir %.200s...: path too long; give a shorter one", dir);
	return -1;
}

/* run.json, the data dir and the child's environment. 0, or -1 with err set. */
static int prepare_marker(const char *dir, struct marker_run *run, char *err, size_t errlen)
{
	char data[PATH_MAX];
	char why[PATH_MAX + 128];

	if (marker_begin(dir, run, why, sizeof(why)) < 0) {
		snprintf(err, errlen,
			 "%s; make the coverage dir writable by uid %ld or pick another with "
			 "--coverage-dir/COVSHIP_DIR",
			 why, (long)geteuid());
		return -1;
	}
	if (marker_data_dir(dir, run, data, sizeof(data)) < 0 ||
	    setenv("COVSHIP_RUN_ID", run->run_id, 1) < 0 ||
	    setenv("COVSHIP_DATA_DIR", data, 1) < 0) {
		snprintf(err, errlen, "cannot export COVSHIP_RUN_ID/COVSHIP_DATA_DIR: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

static void finish_marker(const char *dir, const struct marker_run *run,
			  const struct supervisor *sv, int status)
{
	struct marker_done done = {
		.status = sv->grace_expired ? "grace-expired" : "complete",
		.main = sv->main,
		.exit_status = status,
		.descendants = &sv->procs,
		.tree = &sv->tree,
		.grace_ms = sv->grace_ms,
		.stop_requested = sv->stop_requested ? sv->stop_requested_at : NULL,
	};
	char err[PATH_MAX + 128];

	timefmt_rfc3339_now(done.finished);
	if (marker_finish(dir, run, &done, err, sizeof(err)) < 0)
		log_error("%s: the sidecar will not see this run as finished", err);
	else
		log_info("wrote %s/" MARKER_SUBDIR "/done.json (%s)", dir, done.status);
}

static int start_run(struct marker_run *run)
{
	int rc = runid_generate(run->run_id);

	timefmt_rfc3339_now(run->started);
	run->shim_pid = (long)getpid();
	run->shim_version = COVSHIP_VERSION;
	return rc;
}

static void become_subreaper(void)
{
	/* As PID 1 orphans come to us anyway; otherwise (docker run --init, a
	 * wrapper) they would go to the real init and escape the grace. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_warn("cannot become a child subreaper (%s): orphans will not be waited for",
			 strerror(errno));
}

static void log_started(char *const command[], pid_t pid, int exec_errno, const char *run_id)
{
	if (exec_errno)
		log_error("cannot run %s: %s (exit status %d); check the command and PATH",
			  command[0], strerror(exec_errno), exitcode_from_exec_errno(exec_errno));
	else
		log_info("started %s as pid %ld (run %s)", command[0], (long)pid, run_id);
}

static int usage_error(const char *msg)
{
	log_error("%s", msg);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct options opts;
	struct marker_run run;
	struct signals sig;
	struct supervisor sv;
	char err[PATH_MAX + 256];
	char dir[PATH_MAX];
	int exec_errno, status, rc;
	pid_t pid;

	(void)log_init("covship-shim"); /* a bad COVSHIP_LOG_FORMAT is reported below */
	if (options_parse(argc, argv, environ, &opts, err, sizeof(err)) < 0)
		return usage_error(err);
	if (opts.action == OPTIONS_HELP) {
		options_usage(stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (opts.action == OPTIONS_VERSION) {
		printf("covship-shim %s\n", COVSHIP_VERSION);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	log_set_level(opts.log_level);
	log_set_json(opts.log_json);

	rc = start_run(&run);
	if (rc < 0) {
		log_error("cannot generate a run id: %s", strerror(-rc));
		return 1;
	}
	/* First, so a SIGTERM during start-up is kept for the child, not lost. */
	rc = signals_setup(&sig);
	if (rc < 0) {
		log_error("cannot set up signal handling: %s", strerror(-rc));
		return 1;
	}
	if (opts.coverage_dir) {
		if (absolute_dir(opts.coverage_dir, dir, err, sizeof(err)) < 0 ||
		    prepare_marker(dir, &run, err, sizeof(err)) < 0) {
			signals_close(&sig);
			return usage_error(err);
		}
	}
	become_subreaper();
	pid = spawn_main(opts.command, &sig, &exec_errno);
	if (pid < 0) {
		log_error("cannot fork: %s", strerror(-pid));
		signals_close(&sig);
		return 1;
	}
	/* From here on the shim never bails out: it reaps until nobody is left. */
	log_started(opts.command, pid, exec_errno, run.run_id);

	supervisor_init(&sv, &sig, opts.grace_ms, pid);
	supervisor_run(&sv);
	status = supervisor_exit_status(&sv);
	if (opts.coverage_dir)
		finish_marker(dir, &run, &sv, status);
	log_info("exiting with status %d", status);
	supervisor_free(&sv);
	signals_close(&sig);
	return status;
}
