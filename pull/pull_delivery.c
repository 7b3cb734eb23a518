/* SPDX-License-Identifier: MIT */
#include "pull_delivery.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "atomic_file.h"
#include "utf8.h"

#define MAX_REASONS 64
#define RUN_ID_LEN 32

static char *xstrdup(struct pull_delivery *d, const char *s)
{
	char *c = s ? strdup(s) : NULL;

	if (s && !c)
		d->oom = true;
	return c;
}

int pull_delivery_init(struct pull_delivery *d, const char *url)
{
	time_t now = time(NULL);
	struct tm tm;

	memset(d, 0, sizeof(*d));
	d->url = strdup(url);
	if (!d->url)
		return -1;
	/* The Ant/Jenkins JUnit timestamp: ISO 8601 without a zone (UTC here). */
	if (now == (time_t)-1 || !gmtime_r(&now, &tm) ||
	    !strftime(d->timestamp, sizeof(d->timestamp), "%Y-%m-%dT%H:%M:%S", &tm))
		strcpy(d->timestamp, "1970-01-01T00:00:00");
	return 0;
}

static void free_run(struct pull_delivery_run *r)
{
	size_t i;

	free(r->id);
	free(r->hostname);
	free(r->task_id);
	free(r->build);
	free(r->git_commit);
	free(r->status);
	for (i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	for (i = 0; i < r->nkilled; i++)
		free(r->killed[i].command);
	free(r->killed);
	for (i = 0; i < r->nfailures; i++)
		free(r->failures[i]);
	free(r->failures);
}

void pull_delivery_free(struct pull_delivery *d)
{
	size_t i;

	for (i = 0; i < d->nruns; i++)
		free_run(&d->runs[i]);
	free(d->runs);
	free(d->url);
	memset(d, 0, sizeof(*d));
}

/* Find or add the run named id; NULL (and d->oom) on allocation failure. */
static struct pull_delivery_run *get_run(struct pull_delivery *d, const char *id)
{
	struct pull_delivery_run *v;
	size_t i;

	for (i = 0; i < d->nruns; i++)
		if (!strcmp(d->runs[i].id, id))
			return &d->runs[i];
	if (d->nruns == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;

		v = realloc(d->runs, cap * sizeof(*v));
		if (!v) {
			d->oom = true;
			return NULL;
		}
		d->runs = v;
		d->cap = cap;
	}
	v = &d->runs[d->nruns];
	memset(v, 0, sizeof(*v));
	v->id = strdup(id);
	if (!v->id) {
		d->oom = true;
		return NULL;
	}
	d->nruns++;
	return v;
}

static void add_failure(struct pull_delivery *d, struct pull_delivery_run *r, char *msg)
{
	char **v;

	if (!msg) {
		d->oom = true;
		return;
	}
	v = realloc(r->failures, (r->nfailures + 1) * sizeof(*v));
	if (!v) {
		free(msg);
		d->oom = true;
		return;
	}
	r->failures = v;
	r->failures[r->nfailures++] = msg;
}

void pull_delivery_fail(struct pull_delivery *d, const char *run_id, const char *fmt, ...)
{
	struct pull_delivery_run *r = get_run(d, run_id);
	char *msg;
	va_list ap;

	if (!r)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	add_failure(d, r, msg);
}

static bool is_run_id(const char *s, size_t n)
{
	size_t i;

	if (n < RUN_ID_LEN)
		return false;
	for (i = 0; i < RUN_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return n == RUN_ID_LEN || s[RUN_ID_LEN] == '-' || s[RUN_ID_LEN] == '.';
}

/* The run id a key names (…/<run_id>-<spool>-<seq>.tar.gz or <run_id>/…),
 * last component first; "" when none does. */
static void run_id_of_key(const char *key, char out[RUN_ID_LEN + 1])
{
	const char *end = key + strlen(key), *start;

	out[0] = '\0';
	while (end > key) {
		start = end;
		while (start > key && start[-1] != '/')
			start--;
		if (is_run_id(start, (size_t)(end - start))) {
			memcpy(out, start, RUN_ID_LEN);
			out[RUN_ID_LEN] = '\0';
			return;
		}
		end = start > key ? start - 1 : key;
	}
}

void pull_delivery_bundle_bad(struct pull_delivery *d, const char *key, const char *why)
{
	char id[RUN_ID_LEN + 1];
	struct pull_delivery_run *r;
	char *msg;

	d->nbundles_bad++;
	run_id_of_key(key, id);
	r = get_run(d, id[0] ? id : key);
	if (!r)
		return;
	if (asprintf(&msg, "bundle %s failed verification: %s; nothing of it was extracted",
		     key, why) < 0)
		msg = NULL;
	add_failure(d, r, msg);
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* hostname, ECS task id (last part of the task ARN), build tag, commit: the
 * first bundle that records one wins. */
static void note_metadata(struct pull_delivery *d, struct pull_delivery_run *r,
			  const char *out_abs, const char *relbase)
{
	const cJSON *md, *ecs;
	const char *arn, *slash;
	cJSON *root = NULL;
	char *path, *buf = NULL;
	size_t len = 0;
	FILE *f, *mem;

	if (asprintf(&path, "%s/%s/%s", out_abs, relbase, MANIFEST_ENTRY_NAME) < 0) {
		d->oom = true;
		return;
	}
	f = fopen(path, "re");
	free(path);
	mem = f ? open_memstream(&buf, &len) : NULL;
	if (mem) {
		char chunk[8192];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, mem);
		if (fclose(mem) == 0)
			root = cJSON_ParseWithLength(buf, len);
	}
	if (f)
		fclose(f);
	free(buf);
	md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	if (cJSON_IsObject(md)) {
		ecs = cJSON_GetObjectItemCaseSensitive(md, "ecs");
		arn = jstr(ecs, "task_arn");
		slash = arn ? strrchr(arn, '/') : NULL;
		if (!r->hostname)
			r->hostname = xstrdup(d, jstr(md, "hostname"));
		if (!r->task_id)
			r->task_id = xstrdup(d, slash ? slash + 1 : arn);
		if (!r->build)
			r->build = xstrdup(d, jstr(md, "build_tag"));
		if (!r->git_commit)
			r->git_commit = xstrdup(d, jstr(md, "git_commit"));
	}
	cJSON_Delete(root);
}

/* The command line of pid in done.json's "tree_at_stop" (the descendants
 * recorded when shutdown began), or NULL. */
static const char *tree_cmd(const cJSON *mk, long pid)
{
	const cJSON *p, *n;

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(mk, "tree_at_stop")) {
		n = cJSON_GetObjectItemCaseSensitive(p, "pid");
		if (cJSON_IsNumber(n) && (long)n->valuedouble == pid)
			return jstr(p, "cmd");
	}
	return NULL;
}

/* The processes the shim killed when its grace expired: done.json's
 * descendants with "killed_at_grace": true. A command is taken from
 * "command" or "comm" when the marker records one, else from its
 * "tree_at_stop". */
static void note_killed(struct pull_delivery *d, struct pull_delivery_run *r, const cJSON *mk)
{
	const cJSON *desc = cJSON_GetObjectItemCaseSensitive(mk, "descendants"), *p, *pid, *sig;
	struct pull_delivery_killed *v;
	const char *cmd;

	cJSON_ArrayForEach(p, desc) {
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "killed_at_grace")))
			continue;
		pid = cJSON_GetObjectItemCaseSensitive(p, "pid");
		sig = cJSON_GetObjectItemCaseSensitive(p, "signal");
		v = realloc(r->killed, (r->nkilled + 1) * sizeof(*v));
		if (!v) {
			d->oom = true;
			return;
		}
		r->killed = v;
		v = &r->killed[r->nkilled++];
		v->pid = cJSON_IsNumber(pid) ? (long)pid->valuedouble : -1;
		v->signal = cJSON_IsNumber(sig) ? (int)sig->valuedouble : 0;
		cmd = jstr(p, "command");
		if (!cmd)
			cmd = jstr(p, "comm");
		if (!cmd)
			cmd = tree_cmd(mk, v->pid);
		v->command = xstrdup(d, cmd);
	}
}

static void note_marker(struct pull_delivery *d, struct pull_delivery_run *r,
			const struct manifest *m)
{
	const char *id, *st;

	if (!m->marker)
		return;
	id = jstr(m->marker, "run_id");
	st = jstr(m->marker, "status");
	if (!id || strcmp(id, m->run_id) != 0) {
		r->foreign = true;
	} else if (st && !strcmp(st, "complete")) {
		r->complete = true;
	} else {
		if (!r->status)
			r->status = xstrdup(d, st ? st : "marker without status");
		note_killed(d, r, m->marker);
	}
}

void pull_delivery_bundle_ok(struct pull_delivery *d, const char *out_abs, const char *relbase,
			     const struct manifest *m)
{
	struct pull_delivery_run *r = get_run(d, m->run_id);
	struct pull_delivery_file *v;
	size_t j;

	if (!r)
		return;
	r->nbundles++;
	note_marker(d, r, m);
	note_metadata(d, r, out_abs, relbase);
	v = realloc(r->files, (r->nfiles + m->nfiles + 1) * sizeof(*v));
	if (!v) {
		d->oom = true;
		return;
	}
	r->files = v;
	for (j = 0; j < m->nfiles; j++) {
		v = &r->files[r->nfiles];
		if (asprintf(&v->path, "%s/%s", relbase, m->files[j].path) < 0) {
			d->oom = true;
			return;
		}
		v->size = m->files[j].size;
		r->bytes += v->size;
		r->nfiles++;
	}
}

void pull_delivery_set_coverage(struct pull_delivery *d, const struct pull_totals *t)
{
	d->have_coverage = true;
	d->coverage = *t;
}

/* "pid 12 (gunicorn: worker), pid 13" into a heap string. */
static char *killed_list(const struct pull_delivery_run *r)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (i = 0; i < r->nkilled; i++) {
		fprintf(f, "%spid %ld", i ? ", " : "", r->killed[i].pid);
		if (r->killed[i].command)
			fprintf(f, " (%s)", r->killed[i].command);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *marker_reason(const struct pull_delivery_run *r)
{
	char *s = NULL, *k;
	int n = 0;

	if (r->foreign) {
		n = asprintf(&s, "a bundle carries the done marker of another run: this run's "
			     "marker never arrived");
	} else if (r->status && !strcmp(r->status, "grace-expired")) {
		k = killed_list(r);
		if (k && *k)
			n = asprintf(&s, "the grace period expired: the shim killed %s before "
				     "they flushed their coverage (raise --grace and the stop "
				     "timeout)", k);
		else
			n = asprintf(&s, "the grace period expired: the shim killed processes "
				     "before they flushed their coverage (raise --grace and "
				     "the stop timeout)");
		free(k);
	} else if (r->status) {
		n = asprintf(&s, "the flush was incomplete: the done marker says '%s'", r->status);
	} else if (!r->complete) {
		n = asprintf(&s, "the shim's done marker never arrived (none of the run's %zu "
			     "verified bundle(s) carries it): the app was not stopped through "
			     "covship-shim, or the sidecar did not ship the last bundle", r->nbundles);
	} else {
		return NULL;
	}
	return n < 0 ? NULL : s;
}

size_t pull_delivery_reasons(const struct pull_delivery_run *r, char **msgs, size_t nmsg)
{
	size_t n = 0, i;
	char *m;

	for (i = 0; i < r->nfailures; i++) {
		if (n < nmsg)
			msgs[n] = strdup(r->failures[i]);
		n++;
	}
	m = marker_reason(r);
	if (m || r->foreign || r->status || !r->complete) {
		if (n < nmsg)
			msgs[n] = m;
		else
			free(m);
		n++;
	}
	return n;
}

/* Length of the well-formed UTF-8 sequence at s allowed in XML 1.0 (a Char
 * other than the ASCII controls, which the caller handles), or 0. */
static size_t xml_char_len(const unsigned char *s)
{
	unsigned cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1Fu;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0Fu;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
		return 0;
	return n;
}

void pull_xml_escape(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	while (*s) {
		switch (*s) {
		case '&': fputs("&amp;", f); s++; continue;
		case '<': fputs("&lt;", f); s++; continue;
		case '>': fputs("&gt;", f); s++; continue;
		case '"': fputs("&quot;", f); s++; continue;
		case '\'': fputs("&apos;", f); s++; continue;
		/* As references, so attribute values keep them too. */
		case '\t': fputs("&#9;", f); s++; continue;
		case '\n': fputs("&#10;", f); s++; continue;
		case '\r': fputs("&#13;", f); s++; continue;
		default: break;
		}
		if (*s < 0x20 || *s == 0x7F) {
			fputc('?', f); /* not an XML 1.0 Char (0x7F is, but is invisible) */
			s++;
			continue;
		}
		n = xml_char_len(s);
		if (!n) {
			fputc('?', f);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
}

static void xml_prop(FILE *f, const char *indent, const char *name, const char *value)
{
	if (!value)
		return;
	fprintf(f, "%s<property name=\"%s\" value=\"", indent, name);
	pull_xml_escape(f, value);
	fputs("\"/>\n", f);
}

static size_t count_failed(const struct pull_delivery *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->nruns; i++)
		if (pull_delivery_reasons(&d->runs[i], NULL, 0))
			n++;
	return n;
}

static void xml_case(FILE *f, const struct pull_delivery_run *r)
{
	char *msgs[MAX_REASONS] = { 0 };
	size_t n = pull_delivery_reasons(r, msgs, MAX_REASONS), i;
	char num[32];

	fputs("    <testcase name=\"", f);
	pull_xml_escape(f, r->id);
	fputs("\" classname=\"coverage delivered\" time=\"0\">\n      <properties>\n", f);
	xml_prop(f, "        ", "hostname", r->hostname);
	xml_prop(f, "        ", "ecs_task_id", r->task_id);
	xml_prop(f, "        ", "build", r->build);
	xml_prop(f, "        ", "git_commit", r->git_commit);
	snprintf(num, sizeof(num), "%zu", r->nbundles);
	xml_prop(f, "        ", "bundles", num);
	fputs("      </properties>\n", f);
	if (n) {
		fputs("      <failure type=\"coverage not delivered\" message=\"", f);
		pull_xml_escape(f, msgs[0] ? msgs[0] : "out of memory");
		fputs("\">", f);
		for (i = 0; i < n && i < MAX_REASONS; i++) {
			pull_xml_escape(f, msgs[i] ? msgs[i] : "out of memory");
			fputc('\n', f);
		}
		fputs("</failure>\n", f);
	}
	fputs("      <system-out>", f);
	fputs("hostname: ", f);
	pull_xml_escape(f, r->hostname ? r->hostname : "-");
	fputs("\necs task: ", f);
	pull_xml_escape(f, r->task_id ? r->task_id : "-");
	fputs("\nbuild: ", f);
	pull_xml_escape(f, r->build ? r->build : "-");
	fprintf(f, "\nfiles: %zu (%llu bytes) in %zu verified bundle(s)\n", r->nfiles,
		(unsigned long long)r->bytes, r->nbundles);
	for (i = 0; i < r->nfiles; i++) {
		fprintf(f, "%12llu  ", (unsigned long long)r->files[i].size);
		pull_xml_escape(f, r->files[i].path);
		fputc('\n', f);
	}
	fputs("</system-out>\n    </testcase>\n", f);
	for (i = 0; i < n && i < MAX_REASONS; i++)
		free(msgs[i]);
}

/* dir and base name of path, for atomic_write_file (which takes both). */
static int write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	char dir[4096];
	int rc;

	if (!slash)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (slash && (size_t)(slash - path) >= sizeof(dir))
		rc = -ENAMETOOLONG;
	else if (!*base)
		rc = -EISDIR;
	else
		rc = atomic_write_file(dir, base, data, len, 0644);
	if (rc < 0)
		snprintf(err, errlen, "cannot write %s: %s; check that its directory exists and "
			 "is writable", path, strerror(-rc));
	return rc < 0 ? -1 : 0;
}

int pull_delivery_write_junit(const struct pull_delivery *d, const char *path, char *err,
			      size_t errlen)
{
	size_t nfailed = count_failed(d), i, tests = d->nruns ? d->nruns : 1;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (d->oom) {
		snprintf(err, errlen, "cannot write %s: out of memory", path);
		return -1;
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (!d->nruns)
		nfailed = 1; /* the "bundles" case below */
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"covship pull\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
		"time=\"0\">\n  <testsuite name=\"covship pull ", tests, nfailed);
	pull_xml_escape(f, d->url);
	fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" time=\"0\" "
		"timestamp=\"%s\">\n    <properties>\n", tests, nfailed, d->timestamp);
	xml_prop(f, "      ", "url", d->url);
	fputs("    </properties>\n", f);
	for (i = 0; i < d->nruns; i++)
		xml_case(f, &d->runs[i]);
	if (!d->nruns) {
		/* An empty suite would look like "no tests ran"; say what happened. */
		fputs("    <testcase name=\"bundles\" classname=\"coverage delivered\" time=\"0\">\n"
		      "      <failure type=\"coverage not delivered\" message=\"no bundle was "
		      "delivered under ", f);
		pull_xml_escape(f, d->url);
		fputs("\"/>\n    </testcase>\n", f);
	}
	fputs("  </testsuite>\n</testsuites>\n", f);
	if (fclose(f) != 0) {
		free(buf);
		snprintf(err, errlen, "cannot write %s: out of memory", path);
		return -1;
	}
	rc = write_atomic(path, buf, len, err, errlen);
	free(buf);
	return rc;
}

/* JSON strings must be UTF-8: other bytes become '?' (names keep their raw
 * bytes as path_b64 instead). */
static cJSON *jtext(const char *s)
{
	char *c;
	size_t n, i;
	cJSON *j;

	if (!s)
		return cJSON_CreateNull();
	n = strlen(s);
	if (utf8_valid(s, n))
		return cJSON_CreateString(s);
	c = strdup(s);
	if (!c)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t k = (unsigned char)c[i] < 0x80 ? 1 : xml_char_len((unsigned char *)c + i);

		if (k)
			i += k - 1;
		else
			c[i] = '?';
	}
	j = cJSON_CreateString(c);
	free(c);
	return j;
}

static bool put(cJSON *o, const char *name, cJSON *v)
{
	if (!v)
		return false;
	if (!cJSON_AddItemToObject(o, name, v)) {
		cJSON_Delete(v);
		return false;
	}
	return true;
}

static bool put_array_item(cJSON *arr, cJSON *v)
{
	if (!v)
		return false;
	if (!cJSON_AddItemToArray(arr, v)) {
		cJSON_Delete(v);
		return false;
	}
	return true;
}

static cJSON *json_run(const struct pull_delivery_run *r)
{
	char *msgs[MAX_REASONS] = { 0 };
	size_t n = pull_delivery_reasons(r, msgs, MAX_REASONS), i;
	cJSON *o = cJSON_CreateObject(), *arr, *f;
	bool ok = o != NULL;

	ok = ok && put(o, "run_id", jtext(r->id)) &&
	     put(o, "delivered", cJSON_CreateBool(n == 0)) &&
	     put(o, "hostname", jtext(r->hostname)) && put(o, "ecs_task_id", jtext(r->task_id)) &&
	     put(o, "build", jtext(r->build)) && put(o, "git_commit", jtext(r->git_commit)) &&
	     put(o, "marker", r->complete && !r->status && !r->foreign
			      ? cJSON_CreateString("complete")
			      : r->foreign ? cJSON_CreateString("foreign")
					   : jtext(r->status)) &&
	     put(o, "bundles", cJSON_CreateNumber((double)r->nbundles)) &&
	     put(o, "files_count", cJSON_CreateNumber((double)r->nfiles)) &&
	     put(o, "bytes", cJSON_CreateNumber((double)r->bytes));
	arr = ok ? cJSON_AddArrayToObject(o, "failures") : NULL;
	for (i = 0; arr && i < n && i < MAX_REASONS; i++)
		ok = ok && put_array_item(arr, msgs[i] ? jtext(msgs[i]) : NULL);
	ok = ok && arr;
	arr = ok ? cJSON_AddArrayToObject(o, "killed") : NULL;
	for (i = 0; arr && i < r->nkilled; i++) {
		f = cJSON_CreateObject();
		ok = ok && put_array_item(arr, f) &&
		     put(f, "pid", cJSON_CreateNumber((double)r->killed[i].pid)) &&
		     put(f, "command", jtext(r->killed[i].command));
	}
	ok = ok && arr;
	arr = ok ? cJSON_AddArrayToObject(o, "files") : NULL;
	for (i = 0; arr && i < r->nfiles; i++) {
		f = cJSON_CreateObject();
		ok = ok && put_array_item(arr, f) &&
		     manifest_put_path(f, r->files[i].path, strlen(r->files[i].path)) == 0 &&
		     put(f, "size", cJSON_CreateNumber((double)r->files[i].size));
	}
	ok = ok && arr;
	for (i = 0; i < n && i < MAX_REASONS; i++)
		free(msgs[i]);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *json_totals(const struct pull_delivery *d)
{
	cJSON *t = cJSON_CreateObject();
	size_t failed = count_failed(d), files = 0, i, bundles = 0;
	uint64_t bytes = 0;

	for (i = 0; i < d->nruns; i++) {
		files += d->runs[i].nfiles;
		bytes += d->runs[i].bytes;
		bundles += d->runs[i].nbundles;
	}
	if (t && put(t, "runs", cJSON_CreateNumber((double)d->nruns)) &&
	    put(t, "delivered", cJSON_CreateNumber((double)(d->nruns - failed))) &&
	    put(t, "failed", cJSON_CreateNumber((double)failed)) &&
	    put(t, "bundles", cJSON_CreateNumber((double)bundles)) &&
	    put(t, "bundles_bad", cJSON_CreateNumber((double)d->nbundles_bad)) &&
	    put(t, "files", cJSON_CreateNumber((double)files)) &&
	    put(t, "bytes", cJSON_CreateNumber((double)bytes)))
		return t;
	cJSON_Delete(t);
	return NULL;
}

static cJSON *json_coverage(const struct pull_delivery *d)
{
	cJSON *c;

	if (!d->have_coverage)
		return cJSON_CreateNull();
	c = cJSON_CreateObject();
	if (c && put(c, "line_rate", cJSON_CreateNumber(d->coverage.line_rate)) &&
	    put(c, "lines_covered", d->coverage.lines_covered >= 0
			    ? cJSON_CreateNumber((double)d->coverage.lines_covered)
			    : cJSON_CreateNull()) &&
	    put(c, "lines_valid", d->coverage.lines_valid >= 0
			    ? cJSON_CreateNumber((double)d->coverage.lines_valid)
			    : cJSON_CreateNull()))
		return c;
	cJSON_Delete(c);
	return NULL;
}

int pull_delivery_write_summary(const struct pull_delivery *d, const char *path, char *err,
				size_t errlen)
{
	cJSON *o = d->oom ? NULL : cJSON_CreateObject(), *runs;
	bool ok = o != NULL;
	char *text = NULL;
	size_t i;
	int rc;

	ok = ok && put(o, "schema", cJSON_CreateNumber(1)) && put(o, "url", jtext(d->url)) &&
	     put(o, "timestamp", cJSON_CreateString(d->timestamp)) &&
	     put(o, "totals", json_totals(d)) && put(o, "coverage", json_coverage(d));
	runs = ok ? cJSON_AddArrayToObject(o, "runs") : NULL;
	for (i = 0; runs && i < d->nruns; i++)
		ok = ok && put_array_item(runs, json_run(&d->runs[i]));
	if (ok && runs)
		text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text) {
		snprintf(err, errlen, "cannot write %s: out of memory", path);
		return -1;
	}
	/* cJSON_Print has no final newline; a text file should. */
	{
		size_t n = strlen(text);
		char *t2 = realloc(text, n + 2);

		if (!t2) {
			cJSON_free(text);
			snprintf(err, errlen, "cannot write %s: out of memory", path);
			return -1;
		}
		text = t2;
		text[n] = '\n';
		text[n + 1] = '\0';
		rc = write_atomic(path, text, n + 1, err, errlen);
	}
	free(text);
	return rc;
}
