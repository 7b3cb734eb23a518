/* SPDX-License-Identifier: MIT */
#include "keytemplate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"

struct outbuf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void put_char(struct outbuf *o, char c)
{
	if (o->len + 1 >= o->cap) {
		o->overflow = true;
		return;
	}
	o->p[o->len++] = c;
}

static bool safe_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static void put_value(struct outbuf *o, const char *v, const char *fallback)
{
	if (!v || !*v)
		v = fallback;
	if (!strcmp(v, ".") || !strcmp(v, "..")) {
		put_char(o, '_');
		return;
	}
	for (; *v; v++)
		put_char(o, safe_char(*v) ? *v : '_');
}

int keytemplate_build_id(const char *raw, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t n, i;

	if (!raw || !*raw) {
		snprintf(err, errlen, "build id: empty; pass the build's id, e.g. --build \"$BUILD_TAG\" "
			 "(or leave --build and COVSHIP_BUILD unset)");
		return -1;
	}
	n = strlen(raw); /* one output byte per input byte */
	if (n > KEYTEMPLATE_BUILD_MAX || n >= outlen) {
		snprintf(err, errlen, "build id: %zu bytes, more than %d (S3 keys hold 1024); pass a "
			 "shorter one, e.g. jenkins-$JOB_BASE_NAME-$BUILD_NUMBER", n,
			 KEYTEMPLATE_BUILD_MAX);
		return -1;
	}
	if (!strcmp(raw, ".") || !strcmp(raw, "..")) {
		strcpy(out, "_"); /* never a "." or ".." path segment */
		return 0;
	}
	for (i = 0; i < n; i++)
		out[i] = safe_char(raw[i]) ? raw[i] : '_';
	out[n] = '\0';
	return 0;
}

/* {build} through keytemplate_build_id(), the rule pull --build shares;
 * -2 with err when the id breaks it (watch/push check it at start-up). */
static int expand_build(struct outbuf *o, const char *build, char *err, size_t errlen)
{
	char id[KEYTEMPLATE_BUILD_MAX + 1];
	const char *p;

	if (!build || !*build) {
		put_value(o, NULL, "nobuild");
		return 0;
	}
	if (keytemplate_build_id(build, id, sizeof(id), err, errlen) < 0)
		return -2;
	for (p = id; *p; p++)
		put_char(o, *p);
	return 0;
}

static int expand_var(struct outbuf *o, const char *name, size_t n, const struct key_vars *v,
		      char *err, size_t errlen)
{
	char seq[24];

#define IS(s) (n == sizeof(s) - 1 && !memcmp(name, s, n))
	if (IS("run_id"))
		put_value(o, v->run_id, "norun");
	else if (IS("hostname"))
		put_value(o, v->hostname, "unknown");
	else if (IS("task_id"))
		put_value(o, v->task_id, "local");
	else if (IS("build"))
		return expand_build(o, v->build, err, errlen);
	else if (IS("date"))
		put_value(o, v->date, "nodate");
	else if (IS("bundle"))
		put_value(o, v->bundle, "nobundle");
	else if (IS("spool_id"))
		put_value(o, v->spool_id, "nospool");
	else if (IS("seq")) {
		snprintf(seq, sizeof(seq), "%06lu", v->seq);
		put_value(o, seq, "0");
	} else
		return -1;
#undef IS
	return 0;
}

int keytemplate_expand(const char *tmpl, const struct key_vars *v, char *out, size_t outlen,
		       char *err, size_t errlen)
{
	struct outbuf o = { out, 0, outlen, false };
	const char *p = tmpl;
	int rc;

	if (outlen == 0)
		return -1;
	while (*p) {
		const char *close;

		if (*p == '}') {
			snprintf(err, errlen, "key template: unbalanced '}' in '%s'", tmpl);
			return -1;
		}
		if (*p != '{') {
			put_char(&o, *p++);
			continue;
		}
		close = strchr(p, '}');
		if (!close) {
			snprintf(err, errlen, "key template: unbalanced '{' in '%s'", tmpl);
			return -1;
		}
		rc = expand_var(&o, p + 1, (size_t)(close - p - 1), v, err, errlen);
		if (rc == -2)
			return -1; /* err says what */
		if (rc < 0) {
			snprintf(err, errlen,
				 "key template: unknown variable '%.*s' (use run_id, hostname, "
				 "task_id, build, date, seq, bundle, spool_id)",
				 (int)(close - p + 1), p);
			return -1;
		}
		p = close + 1;
	}
	out[o.len] = '\0';
	if (o.overflow) {
		snprintf(err, errlen, "key template: expanded key longer than %zu bytes", outlen - 1);
		return -1;
	}
	if (!relpath_safe(out)) { /* every segment non-empty, not . or .. */
		snprintf(err, errlen,
			 "key template: '%s' gives key '%s' with an empty, '.' or '..' segment "
			 "or a leading '/'", tmpl, out);
		return -1;
	}
	return 0;
}

int keytemplate_check(const char *tmpl, char *err, size_t errlen)
{
	const struct key_vars sample = { "0123456789abcdef0123456789abcdef", "host", "task",
					 "build", "2026-01-01", 1,
					 "0123456789abcdef0123456789abcdef-0123456789abcdef-000001.tar.gz",
					 "0123456789abcdef" };
	char key[1024];

	if (!*tmpl) {
		snprintf(err, errlen, "key template: empty");
		return -1;
	}
	return keytemplate_expand(tmpl, &sample, key, sizeof(key), err, errlen);
}

/* Does tmpl use the variable {name}? */
static bool names_var(const char *tmpl, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{'))
		if (!strncmp(p + 1, name, n) && p[1 + n] == '}')
			return true;
	return false;
}

/*
 * The variable sets that make a key unique per bundle, one row each (a
 * template must name every variable of at least one row). Two keys equal
 * means the second delivery replaces the first (file://) or fails for good
 * (S3, If-None-Match): coverage lost either way. {bundle} is the bundle's
 * file name, which holds the run id, the spool id and the sequence number;
 * without {spool_id}, two spools (a restarted sidecar, a push after a
 * watch) number the same run's bundles alike.
 */
static const char *const unique_sets[][4] = {
	{ "bundle", NULL, NULL, NULL },
	{ "run_id", "spool_id", "seq", NULL },
};

int keytemplate_check_unique(const char *tmpl, char *err, size_t errlen)
{
	size_t i, k;

	for (i = 0; i < sizeof(unique_sets) / sizeof(unique_sets[0]); i++) {
		for (k = 0; unique_sets[i][k] && names_var(tmpl, unique_sets[i][k]); k++)
			;
		if (!unique_sets[i][k])
			return 0; /* every variable of this row is there */
	}
	snprintf(err, errlen,
		 "key template: '%s' can give two bundles the same key (the second would replace "
		 "or be refused in place of the first); it must contain {bundle}, or {run_id}, "
		 "{spool_id} and {seq}", tmpl);
	return -1;
}
