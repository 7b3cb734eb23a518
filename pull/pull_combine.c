/* SPDX-License-Identifier: MIT */
#include "pull_combine.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pull_html.h"
#include "pull_config.h"
#include "pull_python.h"
#include "pull_spawn.h"

/* coverage combine, given a directory, takes the files named like the data
 * file plus a dot: the inputs are linked in as .coverage.<index>. */
#define INPUT_DIR "in"
#define INPUT_BASE ".coverage"
#define RC_NAME "covship-pull.rc"
#define GEN_RC_NAME "covship-pull.gen.rc"
#define FAIL_UNDER_EXIT 2 /* coverage.py's FAIL_UNDER, with "Coverage failure:" */

/* pull_combine() checked that workdir leaves room for our names, so this
 * never truncates; the check keeps it so should that change. */
static void input_path(char *buf, size_t len, const char *indir, size_t i)
{
	int n = snprintf(buf, len, "%s/%s.%06zu", indir, INPUT_BASE, i);

	if (n < 0 || (size_t)n >= len)
		abort();
}

static void work_path(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s%s", a, b);

	if (n < 0 || (size_t)n >= len)
		abort();
}

static bool bad_chars(const char *s)
{
	size_t n = strlen(s);

	return n == 0 || strpbrk(s, "\r\n") || isspace((unsigned char)s[0]) ||
	       isspace((unsigned char)s[n - 1]);
}

int pull_map_parse(const char *arg, struct pull_map *m, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	char cwd[PATH_MAX];
	size_t n;

	m->src = NULL;
	m->dst = NULL;
	if (!eq || eq == arg || !eq[1]) {
		snprintf(err, errlen, "--map '%s': expected SRC=DST, e.g. /app=$WORKSPACE", arg);
		return -1;
	}
	m->src = strndup(arg, (size_t)(eq - arg));
	if (!m->src)
		goto oom;
	if (bad_chars(m->src) || bad_chars(eq + 1) || m->src[strlen(m->src) - 1] == '*') {
		snprintf(err, errlen,
			 "--map '%s': SRC and DST must be non-empty, without line breaks or "
			 "surrounding spaces, and SRC must not end with '*'", arg);
		goto fail;
	}
	if (eq[1] == '/') {
		m->dst = strdup(eq + 1);
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			snprintf(err, errlen, "--map: cannot resolve '%s': %s", eq + 1,
				 strerror(errno));
			goto fail;
		}
		if (asprintf(&m->dst, "%s/%s", cwd, eq + 1) < 0)
			m->dst = NULL;
	}
	if (!m->dst)
		goto oom;
	n = strlen(m->dst);
	while (n > 1 && m->dst[n - 1] == '/')
		m->dst[--n] = '\0';
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(m->src);
	free(m->dst);
	m->src = NULL;
	m->dst = NULL;
	return -1;
}

/* coverage.py expands $VAR in configuration values; "$$" is a literal "$". */
static void put_value(FILE *f, const char *s)
{
	fputs("    ", f);
	for (; *s; s++) {
		if (*s == '$')
			fputc('$', f);
		fputc(*s, f);
	}
	fputc('\n', f);
}

/* One [paths] group per --map, in order: the first entry of a group is
 * where the files are here, the second the pattern recorded in the data. */
static int write_rc(const struct pull_combine_opts *o, const char *path)
{
	FILE *f = fopen(path, "wxe");
	size_t i;

	if (!f)
		return -1;
	fputs("# written by covship pull: remaps the paths recorded in the container\n", f);
	fputs("[run]\nparallel = false\n", f);
	if (o->nmaps)
		fputs("[paths]\n", f);
	for (i = 0; i < o->nmaps; i++) {
		fprintf(f, "covship_map_%zu =\n", i + 1);
		put_value(f, o->maps[i].dst);
		put_value(f, o->maps[i].src);
	}
	if (ferror(f)) {
		fclose(f);
		errno = EIO;
		return -1;
	}
	return fclose(f);
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	}
	close(in);
	if (close(out) < 0)
		rc = -1;
	return rc;
}

/* coverage combine deletes what it combined: it gets hard links (or
 * copies), so the extracted files stay, and whatever is left in the input
 * directory afterwards is exactly what it could not use. */
static int stage_inputs(const char *indir, char *const files[], size_t n)
{
	char path[PATH_MAX];
	size_t i;

	if (mkdir(indir, 0700) < 0) {
		log_error("combine: cannot create %s: %s", indir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		input_path(path, sizeof(path), indir, i);
		if (link(files[i], path) == 0)
			continue;
		if (copy_file(files[i], path) < 0) {
			log_error("combine: cannot stage %s: %s", files[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Whether coverage.py's log says the total was below fail_under. */
static bool says_fail_under(const char *logpath)
{
	char line[4096];
	FILE *f = fopen(logpath, "re");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "Coverage failure:", 17);
	fclose(f);
	return found;
}

/* Run `coverage CMD args...` (args: NULL-terminated, after the command) as
 * PYTHON -I -c BOOT CWD CMD args...: started in the work directory with
 * nothing of the workspace on sys.path, reporting relative to cwd. Returns
 * 0, 1 when under fail_under (allow_under), -1 on failure (logged). */
static int run_coverage(const struct pull_combine_opts *o, const char *cwd, const char *what,
			char *const args[], const char *logpath, bool allow_under)
{
	char *argv[16];
	char err[300];
	size_t k = 0, i;
	int fd, rc;

	argv[k++] = (char *)o->python;
	argv[k++] = "-I";
	argv[k++] = "-c";
	argv[k++] = PULL_COVERAGE_BOOT;
	argv[k++] = (char *)cwd;
	argv[k++] = (char *)what;
	for (i = 0; args[i] && k + 1 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("%s: cannot create %s: %s", what, logpath, strerror(errno));
		return -1;
	}
	rc = pull_run_in(argv, o->workdir, fd, err, sizeof(err));
	close(fd);
	if (rc < 0) {
		log_error("%s: %s; set --python to an interpreter with coverage.py", what, err);
		return -1;
	}
	if (rc == FAIL_UNDER_EXIT && allow_under && says_fail_under(logpath))
		return 1;
	if (rc != 0) {
		pull_relay_output(logpath, NULL);
		log_error("%s: `%s -I -m coverage %s` exited with status %d", what, o->python,
			  what, rc);
		return -1;
	}
	return 0;
}

/* Any input still present was not combined: name it, with coverage.py's
 * warning about it, and report how many. */
static size_t count_leftovers(const char *indir, char *const files[], size_t n,
			      const char *logpath)
{
	char path[PATH_MAX];
	size_t i, lost = 0;
	struct stat st;

	for (i = 0; i < n; i++) {
		input_path(path, sizeof(path), indir, i);
		if (lstat(path, &st) < 0 && errno == ENOENT)
			continue;
		log_error("combine: data file %s was NOT combined (coverage.py cannot read it)",
			  files[i]);
		pull_relay_output(logpath, path);
		lost++;
	}
	return lost;
}

/* Where the project's configuration may be: each --map DST, then cwd. */
static enum pull_combine_result merge_config(const struct pull_combine_opts *o,
					     const char *cwd, const char *rc,
					     const char *indir)
{
	const char *dirs[65];
	char gen[PATH_MAX];
	struct pull_config_opts c = { 0 };
	size_t i, k = 0;

	work_path(gen, sizeof(gen), o->workdir, "/" GEN_RC_NAME);
	if (write_rc(o, gen) < 0) {
		log_error("combine: cannot write %s: %s", gen, strerror(errno));
		return PULL_COMBINE_FAILED;
	}
	for (i = 0; i < o->nmaps && k + 1 < sizeof(dirs) / sizeof(dirs[0]); i++)
		dirs[k++] = o->maps[i].dst;
	dirs[k++] = cwd;
	c.python = o->python;
	c.workdir = o->workdir;
	c.gen_rc = gen;
	c.out_rc = rc;
	c.input_dir = indir;
	c.rcfile = o->rcfile;
	c.fail_under = o->fail_under;
	c.dirs = dirs;
	c.ndirs = k;
	switch (pull_config_write(&c)) {
	case PULL_CONFIG_OK:
		return PULL_COMBINE_OK;
	case PULL_CONFIG_BAD:
		return PULL_COMBINE_CONFIG;
	default:
		return PULL_COMBINE_FAILED;
	}
}

static enum pull_combine_result combine(const struct pull_combine_opts *o, const char *cwd,
					const char *rc, char *const files[], size_t n)
{
	char indir[PATH_MAX], logpath[PATH_MAX], rcarg[PATH_MAX + 16], dfarg[PATH_MAX + 16];
	char *args[] = { rcarg, dfarg, indir, NULL };
	enum pull_combine_result r;
	size_t lost;

	work_path(indir, sizeof(indir), o->workdir, "/" INPUT_DIR);
	work_path(logpath, sizeof(logpath), o->workdir, "/combine.log");
	work_path(rcarg, sizeof(rcarg), "--rcfile=", rc);
	work_path(dfarg, sizeof(dfarg), "--data-file=", o->data_file);
	if (stage_inputs(indir, files, n) < 0)
		return PULL_COMBINE_FAILED;
	r = merge_config(o, cwd, rc, indir);
	if (r != PULL_COMBINE_OK)
		return r;
	if (run_coverage(o, cwd, "combine", args, logpath, false) < 0)
		return PULL_COMBINE_FAILED;
	lost = count_leftovers(indir, files, n, logpath);
	if (lost) {
		log_error("combine: %zu of %zu data files could not be combined; the report would "
			  "understate coverage, so none was written", lost, n);
		return PULL_COMBINE_LOST;
	}
	log_info("combined %zu data files into %s", n, o->data_file);
	return PULL_COMBINE_OK;
}

static enum pull_combine_result report(const struct pull_combine_opts *o, const char *cwd,
				       const char *rc, struct pull_totals *totals)
{
	char logpath[PATH_MAX], rcarg[PATH_MAX + 16], dfarg[PATH_MAX + 16], err[PATH_MAX + 200];
	char *args[] = { rcarg, dfarg, "-o", (char *)o->xml, NULL };
	int under;

	work_path(logpath, sizeof(logpath), o->workdir, "/xml.log");
	work_path(rcarg, sizeof(rcarg), "--rcfile=", rc);
	work_path(dfarg, sizeof(dfarg), "--data-file=", o->data_file);
	under = run_coverage(o, cwd, "xml", args, logpath, true);
	if (under < 0) {
		log_error("xml: if coverage.py found no source, check that --map SRC=DST maps the "
			  "container's path to where the sources are here");
		return PULL_COMBINE_FAILED;
	}
	if (pull_report_totals(o->xml, totals, err, sizeof(err)) < 0) {
		log_error("xml: %s", err);
		return PULL_COMBINE_FAILED;
	}
	return under ? PULL_COMBINE_UNDER : PULL_COMBINE_OK;
}

enum pull_combine_result pull_combine(const struct pull_combine_opts *o, char *const files[],
				      size_t n, struct pull_totals *totals)
{
	enum pull_combine_result r;
	char rc[PATH_MAX], cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd))) {
		log_error("combine: the current directory is unreadable: %s", strerror(errno));
		return PULL_COMBINE_FAILED;
	}
	if (strlen(o->workdir) + 32 > PATH_MAX || strlen(o->data_file) >= PATH_MAX ||
	    strlen(o->xml) >= PATH_MAX) {
		log_error("combine: path too long");
		return PULL_COMBINE_FAILED;
	}
	work_path(rc, sizeof(rc), o->workdir, "/" RC_NAME);
	/* A report or data file left by an earlier pull into the same
	 * workspace must not outlive a failure of this one. */
	if ((unlink(o->xml) < 0 && errno != ENOENT) ||
	    (unlink(o->data_file) < 0 && errno != ENOENT)) {
		log_error("combine: cannot remove the previous %s or %s: %s", o->xml,
			  o->data_file, strerror(errno));
		return PULL_COMBINE_FAILED;
	}
	if (o->html && pull_html_prepare(o->html) < 0)
		return PULL_COMBINE_FAILED;
	r = combine(o, cwd, rc, files, n);
	if (r == PULL_COMBINE_OK)
		r = report(o, cwd, rc, totals);
	/* Below fail_under the reports are right and kept (the HTML one too):
	 * Jenkins records and publishes them. */
	if ((r == PULL_COMBINE_OK || r == PULL_COMBINE_UNDER) && o->html &&
	    pull_html_write(o, cwd, rc) < 0)
		r = PULL_COMBINE_FAILED;
	if (r != PULL_COMBINE_OK && r != PULL_COMBINE_UNDER) {
		/* Understated or half-written results are worse than none. */
		(void)unlink(o->xml);
		(void)unlink(o->data_file);
	}
	return r;
}
