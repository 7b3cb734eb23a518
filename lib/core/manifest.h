/* SPDX-License-Identifier: MIT */
/*
 * covship-manifest.json: the last entry of every bundle (docs/sidecar.md).
 * Built by watch/push, parsed by pull to verify what it extracted.
 */
#ifndef COVSHIP_MANIFEST_H
#define COVSHIP_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define MANIFEST_ENTRY_NAME "covship-manifest.json"
#define MANIFEST_SCHEMA 1

struct manifest_file {
	char *path;      /* raw bytes of the archive entry path, NUL-terminated */
	size_t path_len; /* == strlen(path): Linux names hold no NUL */
	uint64_t size;
	char sha256[65]; /* lowercase hex */
};

struct manifest {
	char run_id[33];
	unsigned long seq;
	struct manifest_file *files;
	size_t nfiles;
	cJSON *marker; /* the shim's done.json object, or NULL when "marker" is null */
};

/* Parse and validate a manifest (schema, run_id, seq, every file's path or
 * path_b64, size and sha256). Returns 0, or -1 with one line in err.
 * On success the caller owns *out and frees it with manifest_free(). */
int manifest_parse(const char *json, size_t len, struct manifest *out, char *err, size_t errlen);
void manifest_free(struct manifest *m);

/* Build side (watch/push): see bundle.c. `metadata` and `marker` are
 * duplicated, `files` describes the entries already written. Returns a
 * heap string (cJSON_free) or NULL on allocation failure. */
struct manifest_build {
	const char *run_id;
	unsigned long seq;
	const char *created; /* RFC 3339 */
	const char *format;  /* preset name */
	const struct manifest_file *files;
	size_t nfiles;
	const cJSON *marker;   /* may be NULL */
	const cJSON *metadata; /* may be NULL (then "metadata":null) */
};

char *manifest_render(const struct manifest_build *b);

/* Add {"path": ...} or {"path_b64": ...} to obj for raw bytes name (helper
 * shared with the spool's plan files). Returns 0 or -1 (allocation). */
int manifest_put_path(cJSON *obj, const char *path, size_t len);
/* Read "path" or "path_b64" from obj into a heap NUL-terminated copy.
 * Rejects names holding a NUL byte. Returns NULL when absent/invalid. */
char *manifest_get_path(const cJSON *obj, size_t *len);

#endif
