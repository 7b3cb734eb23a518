/* SPDX-License-Identifier: MIT */
#include "marker.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "atomic_file.h"

/* cJSON's Add* return NULL on failure; collect that instead of checking each. */
static void add_str(cJSON *o, const char *k, const char *v, bool *ok)
{
	if (!(v ? cJSON_AddStringToObject(o, k, v) : cJSON_AddNullToObject(o, k)))
		*ok = false;
}

static void add_num(cJSON *o, const char *k, double v, bool *ok)
{
	if (!cJSON_AddNumberToObject(o, k, v))
		*ok = false;
}

/* A number, or null when the condition does not hold. */
static void add_num_or_null(cJSON *o, const char *k, bool present, double v, bool *ok)
{
	if (!(present ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k)))
		*ok = false;
}

static char *print_or_null(cJSON *o, bool ok)
{
	char *text = ok ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return text;
}

char *marker_run_json(const struct marker_run *r)
{
	cJSON *o = cJSON_CreateObject();
	char data_dir[RUNID_LEN + 8];
	bool ok = o != NULL;

	if (!o)
		return NULL;
	snprintf(data_dir, sizeof(data_dir), "run-%s", r->run_id);
	add_num(o, "schema", MARKER_SCHEMA, &ok);
	add_str(o, "run_id", r->run_id, &ok);
	add_str(o, "started", r->started, &ok);
	add_num(o, "shim_pid", (double)r->shim_pid, &ok);
	add_str(o, "shim_version", r->shim_version, &ok);
	add_str(o, "data_dir", data_dir, &ok);
	return print_or_null(o, ok);
}

/* {"pid":N,"exit_code":N|null,"signal":N|null} */
static cJSON *proc_json(const struct proc_record *p, bool with_killed)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	add_num(o, "pid", (double)p->pid, &ok);
	add_num_or_null(o, "exit_code", p->reaped && p->exit_code >= 0, p->exit_code, &ok);
	add_num_or_null(o, "signal", p->reaped && p->signal > 0, p->signal, &ok);
	if (with_killed && !cJSON_AddBoolToObject(o, "killed_at_grace", p->killed_at_grace))
		ok = false;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static bool add_descendants(cJSON *o, const struct proclist *l)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "descendants");

	if (!arr)
		return false;
	for (size_t i = 0; l && i < l->n; i++) {
		cJSON *p = proc_json(&l->v[i], true);

		if (!p || !cJSON_AddItemToArray(arr, p)) {
			cJSON_Delete(p);
			return false;
		}
	}
	return true;
}

/* "tree_at_stop":[{"pid","ppid","start_ticks","cmd"}] (null when no
 * snapshot was taken) and "tree_at_stop_truncated". */
static bool add_tree(cJSON *o, const struct procsnap *t)
{
	cJSON *arr;
	bool ok = true;

	if (!t || !t->taken)
		return cJSON_AddNullToObject(o, "tree_at_stop") &&
		       cJSON_AddBoolToObject(o, "tree_at_stop_truncated", false);
	arr = cJSON_AddArrayToObject(o, "tree_at_stop");
	if (!arr)
		return false;
	for (size_t i = 0; ok && i < t->n; i++) {
		cJSON *e = cJSON_CreateObject();

		if (!e || !cJSON_AddItemToArray(arr, e)) {
			cJSON_Delete(e);
			return false;
		}
		add_num(e, "pid", (double)t->v[i].pid, &ok);
		add_num(e, "ppid", (double)t->v[i].ppid, &ok);
		add_num(e, "start_ticks", (double)t->v[i].start_ticks, &ok);
		add_str(e, "cmd", t->v[i].cmd, &ok);
	}
	return ok && cJSON_AddBoolToObject(o, "tree_at_stop_truncated", t->truncated);
}

static bool add_killed_one(cJSON *arr, const struct proc_record *p, const struct procsnap *t)
{
	const struct procsnap_entry *e = t ? procsnap_find(t, p->pid) : NULL;
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	add_num(o, "pid", (double)p->pid, &ok);
	add_str(o, "cmd", e ? e->cmd : NULL, &ok);
	return ok;
}

/* "killed_by_others":[{"pid","cmd"|null}]: reaped by the shim after a
 * SIGKILL it did not send. */
static bool add_killed_by_others(cJSON *o, const struct marker_done *d)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "killed_by_others");

	if (!arr)
		return false;
	if (d->main.killed_by_other && !add_killed_one(arr, &d->main, d->tree))
		return false;
	for (size_t i = 0; d->descendants && i < d->descendants->n; i++)
		if (d->descendants->v[i].killed_by_other &&
		    !add_killed_one(arr, &d->descendants->v[i], d->tree))
			return false;
	return true;
}

char *marker_done_json(const struct marker_run *r, const struct marker_done *d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *main_obj;
	bool ok = o != NULL;

	if (!o)
		return NULL;
	add_num(o, "schema", MARKER_SCHEMA, &ok);
	add_str(o, "run_id", r->run_id, &ok);
	add_str(o, "status", d->status, &ok);
	main_obj = proc_json(&d->main, false);
	if (!main_obj || !cJSON_AddItemToObject(o, "main", main_obj)) {
		cJSON_Delete(main_obj);
		ok = false;
	}
	add_num(o, "exit_status", d->exit_status, &ok);
	if (!add_descendants(o, d->descendants))
		ok = false;
	if (!add_tree(o, d->tree) || !add_killed_by_others(o, d))
		ok = false;
	add_num(o, "grace_seconds", (double)d->grace_ms / 1000.0, &ok);
	add_str(o, "started", r->started, &ok);
	add_str(o, "stop_requested", d->stop_requested, &ok);
	add_str(o, "finished", d->finished, &ok);
	add_str(o, "shim_version", r->shim_version, &ok);
	return print_or_null(o, ok);
}

static int fail(int err, char *msg, size_t len, const char *what, const char *path)
{
	snprintf(msg, len, "cannot %s %s: %s", what, path, strerror(-err));
	return err;
}

/* mkdir that accepts an existing directory (and nothing else). */
static int ensure_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0) {
		/* The umask must not lock out a worker that runs as another user.
		 * chmod would also clear the set-group-ID bit that mkdir inherited
		 * from a shared-group volume (docs/operations.md, "Hardened
		 * task"): keep it, or the files below lose the group a non-root
		 * sidecar reads them through. */
		if (stat(path, &st) < 0)
			return -errno;
		return chmod(path, mode | (st.st_mode & S_ISGID)) < 0 ? -errno : 0;
	}
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* mkdir -p for the parents of PATH: a fresh volume may not have them yet. */
static int ensure_parents(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		int rc;

		*p = '\0';
		rc = ensure_dir(buf, 0755);
		*p = '/';
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int write_json(const char *dir, const char *name, char *text, char *err, size_t errlen)
{
	int rc;

	if (!text)
		return fail(-ENOMEM, err, errlen, "build", name);
	rc = atomic_write_file(dir, name, text, strlen(text), 0644);
	cJSON_free(text);
	if (rc < 0)
		return fail(rc, err, errlen, "write", name);
	return 0;
}

int marker_data_dir(const char *dir, const struct marker_run *r, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/run-%s", dir, r->run_id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int marker_begin(const char *dir, const struct marker_run *r, char *err, size_t errlen)
{
	char sub[4096], stale[4200], data[4096];
	int rc;

	if (snprintf(sub, sizeof(sub), "%s/" MARKER_SUBDIR, dir) >= (int)sizeof(sub) ||
	    marker_data_dir(dir, r, data, sizeof(data)) < 0)
		return fail(-ENAMETOOLONG, err, errlen, "use", dir);
	snprintf(stale, sizeof(stale), "%s/done.json", sub);

	rc = ensure_parents(dir);
	if (rc == 0)
		rc = ensure_dir(dir, 0777);
	if (rc < 0)
		return fail(rc, err, errlen, "create directory", dir);
	rc = ensure_dir(sub, 0755);
	if (rc < 0)
		return fail(rc, err, errlen, "create directory", sub);
	/* An earlier run's done.json must not be taken for this run's. */
	if (unlink(stale) < 0 && errno != ENOENT)
		return fail(-errno, err, errlen, "remove stale", stale);
	rc = write_json(sub, "run.json", marker_run_json(r), err, errlen);
	if (rc < 0)
		return rc;
	rc = ensure_dir(data, 0777);
	if (rc < 0)
		return fail(rc, err, errlen, "create directory", data);
	rc = fsync_dir(dir);
	if (rc < 0)
		return fail(rc, err, errlen, "fsync", dir);
	return 0;
}

int marker_finish(const char *dir, const struct marker_run *r, const struct marker_done *d,
		  char *err, size_t errlen)
{
	char sub[4096];

	if (snprintf(sub, sizeof(sub), "%s/" MARKER_SUBDIR, dir) >= (int)sizeof(sub))
		return fail(-ENAMETOOLONG, err, errlen, "use", dir);
	return write_json(sub, "done.json", marker_done_json(r, d), err, errlen);
}
