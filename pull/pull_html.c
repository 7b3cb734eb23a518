/* SPDX-License-Identifier: MIT */
#include "pull_html.h"
#include "pull_python.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pull_fs.h"
#include "pull_spawn.h"

/* What coverage.py's html writes in every version pull supports (>= 6):
 * enough to tell its report apart from a directory the user cares about. */
static bool is_report(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s/index.html", dir) >= (int)sizeof(p) ||
	    lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (snprintf(p, sizeof(p), "%s/status.json", dir) >= (int)sizeof(p) ||
	    lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return true;
}

static bool is_empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

int pull_html_prepare(const char *dir)
{
	struct stat st;
	int rc;

	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_error("--html %s: %s", dir, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode) && is_empty_dir(dir))
		return 0;
	if (!S_ISDIR(st.st_mode) || !is_report(dir)) {
		log_error("--html %s: exists and is not an earlier coverage.py HTML report (no "
			  "index.html and status.json); give a new or empty directory", dir);
		return -1;
	}
	rc = pull_rmtree_at(AT_FDCWD, dir);
	if (rc < 0) {
		log_error("--html %s: cannot remove the earlier report: %s", dir, strerror(-rc));
		return -1;
	}
	return 0;
}

int pull_html_write(const struct pull_combine_opts *o, const char *cwd, const char *rcfile)
{
	char tmp[PATH_MAX], logpath[PATH_MAX], rcarg[PATH_MAX + 16], dfarg[PATH_MAX + 16];
	/* Isolated as every coverage.py run of pull (pull_python.h): started
	 * in the work directory under -I, so nothing extracted into the
	 * workspace is ever imported; the bootstrap then works in cwd.
	 * --fail-under=0: below fail_under the HTML report is still wanted
	 * (pull_combine reports that threshold itself). */
	char *args[] = { (char *)o->python, "-I", "-c", PULL_COVERAGE_BOOT, (char *)cwd, "html",
			 rcarg, dfarg, "--fail-under=0", "-d", tmp, NULL };
	char dir[PATH_MAX], err[300];
	size_t n = strlen(o->html);
	int fd, rc;

	/* A sibling of DIR: the rename into place never crosses file systems. */
	while (n > 1 && o->html[n - 1] == '/')
		n--;
	if (n >= sizeof(dir) ||
	    snprintf(tmp, sizeof(tmp), "%.*s.covship-tmp.%ld", (int)n, o->html,
		     (long)getpid()) >= (int)sizeof(tmp) ||
	    snprintf(logpath, sizeof(logpath), "%s/html.log", o->workdir) >= (int)sizeof(logpath) ||
	    snprintf(rcarg, sizeof(rcarg), "--rcfile=%s", rcfile) >= (int)sizeof(rcarg) ||
	    snprintf(dfarg, sizeof(dfarg), "--data-file=%s", o->data_file) >= (int)sizeof(dfarg)) {
		log_error("--html %s: path too long", o->html);
		return -1;
	}
	memcpy(dir, o->html, n);
	dir[n] = '\0';
	(void)pull_rmtree_at(AT_FDCWD, tmp); /* a killed pull's leftovers, same pid */
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("html: cannot create %s: %s", logpath, strerror(errno));
		return -1;
	}
	rc = pull_run_in(args, o->workdir, fd, err, sizeof(err));
	close(fd);
	if (rc != 0) {
		if (rc < 0)
			log_error("html: %s; set --python to an interpreter with coverage.py", err);
		else {
			pull_relay_output(logpath, NULL);
			log_error("html: `%s -I -m coverage html` exited with status %d", o->python,
				  rc);
		}
		(void)pull_rmtree_at(AT_FDCWD, tmp);
		return -1;
	}
	/* prepare() left DIR absent or empty: rename() replaces an empty one. */
	if (rename(tmp, dir) < 0) {
		log_error("--html %s: cannot move the report into place: %s", dir, strerror(errno));
		(void)pull_rmtree_at(AT_FDCWD, tmp);
		return -1;
	}
	log_info("HTML report in %s", dir);
	return 0;
}
