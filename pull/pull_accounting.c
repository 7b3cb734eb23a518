/* SPDX-License-Identifier: MIT */
#include "pull_accounting.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"

struct tree_proc {
	long pid, ppid;
	char *cmd;
	bool python;
	bool killed_at_grace;
};

struct acct_run {
	char run_id[33];
	long *writers; /* pids named by this run's data files */
	size_t nwriters, capwriters;
	struct tree_proc *procs; /* from the first marker of this run with a tree */
	size_t nprocs;
	bool have_tree;
	bool computed;
	struct pull_missing_writer *missing;
	size_t nmissing;
};

struct pull_acct {
	struct acct_run *runs;
	size_t n, cap;
};

struct pull_acct *pull_acct_new(void)
{
	return calloc(1, sizeof(struct pull_acct));
}

/* RANDOM of coverage.py's suffix: digits (%06d up to 6.x), or X…x. */
static bool random_part(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 18)
		return false;
	if (s[0] == 'X' && n >= 3 && s[n - 1] == 'x') {
		for (i = 1; i + 1 < n; i++)
			if (!isalnum((unsigned char)s[i]))
				return false;
		return true;
	}
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool pull_coverage_file_pid(const char *name, long *pid)
{
	const char *base = strrchr(name, '/');
	const char *rnd, *p, *q;
	long v = 0;

	base = base ? base + 1 : name;
	rnd = strrchr(base, '.');
	if (!rnd || rnd == base || !random_part(rnd + 1, strlen(rnd + 1)))
		return false;
	/* The pid: the digits between the previous dot and RANDOM's dot. */
	for (p = rnd; p > base && p[-1] != '.'; p--)
		;
	if (p == base || p == rnd || (*p == '0') || rnd - p > 9)
		return false;
	for (q = p; q < rnd; q++) {
		if (!isdigit((unsigned char)*q))
			return false;
		v = v * 10 + (*q - '0');
	}
	/* PREFIX.HOST before PID's dot: a dot after a non-empty PREFIX. */
	if (p - 1 <= base + 1 || !memchr(base + 1, '.', (size_t)(p - 1 - (base + 1))))
		return false;
	*pid = v;
	return true;
}

bool pull_acct_is_python(const char *cmd)
{
	static const char *const names[] = { "python", "pypy", "gunicorn", "uvicorn" };
	size_t len = strcspn(cmd, " ");
	const char *base = cmd, *p;

	for (p = cmd; p < cmd + len; p++)
		if (*p == '/')
			base = p + 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((size_t)(cmd + len - base) >= strlen(names[i]) &&
		    !strncmp(base, names[i], strlen(names[i])))
			return true;
	return false;
}

/* multiprocessing's helper processes never run application code. */
static bool helper(const char *cmd)
{
	return strstr(cmd, "multiprocessing.resource_tracker") ||
	       strstr(cmd, "multiprocessing.semaphore_tracker") ||
	       strstr(cmd, "multiprocessing.forkserver");
}

static struct acct_run *run_of(struct pull_acct *a, const char *run_id, bool create)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->runs[i].run_id, run_id))
			return &a->runs[i];
	if (!create)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct acct_run *v = realloc(a->runs, cap * sizeof(*v));

		if (!v)
			return NULL;
		a->runs = v;
		a->cap = cap;
	}
	memset(&a->runs[a->n], 0, sizeof(a->runs[0]));
	snprintf(a->runs[a->n].run_id, sizeof(a->runs[0].run_id), "%s", run_id);
	return &a->runs[a->n++];
}

static int add_writer(struct acct_run *r, long pid)
{
	if (r->nwriters == r->capwriters) {
		size_t cap = r->capwriters ? r->capwriters * 2 : 16;
		long *v = realloc(r->writers, cap * sizeof(*v));

		if (!v)
			return -1;
		r->writers = v;
		r->capwriters = cap;
	}
	r->writers[r->nwriters++] = pid;
	return 0;
}

static long num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
}

/* The pids the shim's own grace SIGKILL took ("descendants", "main"). */
static bool killed_at_grace(const cJSON *marker, long pid)
{
	const cJSON *d, *e;

	e = cJSON_GetObjectItemCaseSensitive(marker, "main");
	if (num(e, "pid") == pid &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "killed_at_grace")))
		return true;
	d = cJSON_GetObjectItemCaseSensitive(marker, "descendants");
	cJSON_ArrayForEach(e, d)
		if (num(e, "pid") == pid &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "killed_at_grace")))
			return true;
	return false;
}

/* Only the Python processes of the tree are kept: nothing else is judged. */
static int take_tree(struct acct_run *r, const cJSON *marker)
{
	const cJSON *tree = cJSON_GetObjectItemCaseSensitive(marker, "tree_at_stop"), *e;
	size_t n = 0;

	if (!cJSON_IsArray(tree))
		return 0; /* an older shim: no finding rather than a false one */
	r->have_tree = true;
	r->procs = calloc((size_t)cJSON_GetArraySize(tree) + 1, sizeof(*r->procs));
	if (!r->procs)
		return -1;
	cJSON_ArrayForEach(e, tree) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "cmd");
		const char *cmd = cJSON_IsString(c) ? c->valuestring : "";
		struct tree_proc *p = &r->procs[n];

		p->pid = num(e, "pid");
		p->ppid = num(e, "ppid");
		if (p->pid <= 0 || !pull_acct_is_python(cmd))
			continue;
		p->cmd = strdup(cmd);
		if (!p->cmd)
			return -1;
		p->python = true;
		p->killed_at_grace = killed_at_grace(marker, p->pid);
		n++;
	}
	r->nprocs = n;
	return 0;
}

int pull_acct_add_bundle(struct pull_acct *a, const struct manifest *m)
{
	struct acct_run *r = run_of(a, m->run_id, true);
	const cJSON *id;

	if (!r)
		return -1;
	for (size_t i = 0; i < m->nfiles; i++) {
		long pid;

		if (pull_coverage_file_pid(m->files[i].path, &pid) && add_writer(r, pid) < 0)
			return -1;
	}
	if (!m->marker || r->have_tree)
		return 0;
	id = cJSON_GetObjectItemCaseSensitive(m->marker, "run_id");
	if (!cJSON_IsString(id) || strcmp(id->valuestring, m->run_id) != 0)
		return 0; /* another run's marker: the flush check reports it */
	return take_tree(r, m->marker);
}

static const struct tree_proc *proc_of(const struct acct_run *r, long pid)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid)
			return &r->procs[i];
	return NULL;
}

static bool wrote(const struct acct_run *r, long pid)
{
	for (size_t i = 0; i < r->nwriters; i++)
		if (r->writers[i] == pid)
			return true;
	return false;
}

/* The top of a Python subtree with Python children: a master. */
static bool master(const struct acct_run *r, const struct tree_proc *p)
{
	if (proc_of(r, p->ppid))
		return false;
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].ppid == p->pid && !helper(r->procs[i].cmd))
			return true;
	return false;
}

static void compute(struct acct_run *r)
{
	r->computed = true;
	if (!r->have_tree || r->nprocs == 0)
		return;
	r->missing = calloc(r->nprocs, sizeof(*r->missing));
	if (!r->missing) {
		log_error("out of memory: the per-process accounting of run %s is skipped",
			  r->run_id);
		return;
	}
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct tree_proc *p = &r->procs[i];

		if (helper(p->cmd) || master(r, p) || wrote(r, p->pid))
			continue;
		r->missing[r->nmissing++] = (struct pull_missing_writer){
			.pid = p->pid, .cmd = p->cmd, .killed_at_grace = p->killed_at_grace
		};
	}
}

size_t pull_acct_missing(struct pull_acct *a, const char *run_id,
			 const struct pull_missing_writer **out)
{
	struct acct_run *r = run_of(a, run_id, false);

	*out = NULL;
	if (!r)
		return 0;
	if (!r->computed)
		compute(r);
	*out = r->missing;
	return r->nmissing;
}

size_t pull_acct_report_run(struct pull_acct *a, const char *run_id, bool as_warning)
{
	const struct pull_missing_writer *w;
	size_t n = pull_acct_missing(a, run_id, &w);

	for (size_t i = 0; i < n; i++) {
		const char *why = w[i].killed_at_grace ?
			"the shim's --grace SIGKILL took it; raise --grace and the stop timeout" :
			"was it killed after --graceful-timeout? (keep gunicorn's graceful_timeout "
			"above the longest request)";

		if (as_warning)
			log_warn("run %s: worker %ld (`%s`) wrote no coverage data; %s", run_id,
				 w[i].pid, w[i].cmd, why);
		else
			log_error("run %s: worker %ld (`%s`) wrote no coverage data; %s", run_id,
				  w[i].pid, w[i].cmd, why);
	}
	return n;
}

void pull_acct_free(struct pull_acct *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		for (size_t j = 0; j < a->runs[i].nprocs; j++)
			free(a->runs[i].procs[j].cmd);
		free(a->runs[i].procs);
		free(a->runs[i].writers);
		free(a->runs[i].missing);
	}
	free(a->runs);
	free(a);
}
