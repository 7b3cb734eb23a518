/* SPDX-License-Identifier: MIT */
/*
 * Object keys from --key-template: {run_id} {hostname} {task_id} {build}
 * {date} {seq} {bundle} {spool_id}. A pure function so it can be unit-tested
 * and fuzzed.
 */
#ifndef COVSHIP_KEYTEMPLATE_H
#define COVSHIP_KEYTEMPLATE_H

#include <stddef.h>

struct key_vars {
	const char *run_id;
	const char *hostname; /* may be NULL: "unknown" */
	const char *task_id;  /* may be NULL: "local" */
	const char *build;    /* may be NULL: "nobuild" */
	const char *date;     /* YYYY-MM-DD */
	unsigned long seq;
	const char *bundle;   /* bundle file name, e.g. <run_id>-<spool_id>-000001.tar.gz */
	const char *spool_id; /* may be NULL: "nospool"; the id of the spool that planned it */
};

/* Expand tmpl into out. Values are sanitised (any byte outside
 * [A-Za-z0-9._-] becomes '_', a value of "." or ".." too) so a hostname or a
 * build tag can never add a path segment; the result must be a relative key
 * with no empty, "." or ".." segment. Returns 0, or -1 with one line in err
 * (unknown variable, unbalanced brace, bad result, too long). */
int keytemplate_expand(const char *tmpl, const struct key_vars *v, char *out, size_t outlen,
		       char *err, size_t errlen);

/* The longest build id, in bytes after sanitising: an S3 key holds at most
 * 1024 bytes, and the id shares it with the URL prefix, {run_id} (32) and
 * the bundle name (about 70), so half of it is left for the id. */
#define KEYTEMPLATE_BUILD_MAX 512

/* The one build-id rule, used by {build} (watch/push) and by pull --build,
 * so both sides name the same S3 segment: every byte outside
 * [A-Za-z0-9._-] becomes '_' (a UTF-8 character of n bytes gives n '_'),
 * "." and ".." become "_". Writes the id (NUL-terminated) to out, which
 * needs KEYTEMPLATE_BUILD_MAX + 1 bytes. Returns 0, or -1 with one line in
 * err when raw is NULL or empty, or the id is longer than
 * KEYTEMPLATE_BUILD_MAX. */
int keytemplate_build_id(const char *raw, char *out, size_t outlen, char *err, size_t errlen);

/* Check a template at start-up with sample values; 0, or -1 with err (exit 2). */
int keytemplate_check(const char *tmpl, char *err, size_t errlen);

/* Whether every bundle gets a key of its own from tmpl (a template that
 * keytemplate_check() accepted): it names {bundle}, or {run_id} and {seq}.
 * Returns 0, or -1 with one line in err. */
int keytemplate_check_unique(const char *tmpl, char *err, size_t errlen);

#endif
