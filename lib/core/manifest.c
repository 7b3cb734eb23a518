/* SPDX-License-Identifier: MIT */
#include "manifest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "runid.h"
#include "utf8.h"

int manifest_put_path(cJSON *obj, const char *path, size_t len)
{
	char *b64;
	int n;

	if (utf8_valid(path, len))
		return cJSON_AddStringToObject(obj, "path", path) ? 0 : -1;
	/* Not UTF-8: JSON cannot carry it as a string, so keep the raw bytes. */
	b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (!b64)
		return -1;
	n = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)path, (int)len);
	b64[n] = '\0';
	n = cJSON_AddStringToObject(obj, "path_b64", b64) ? 0 : -1;
	free(b64);
	return n;
}

static char *decode_b64(const char *s, size_t *len)
{
	size_t slen = strlen(s), pad = 0;
	unsigned char *out;
	int n;

	if (slen == 0 || slen % 4 != 0)
		return NULL;
	if (s[slen - 1] == '=')
		pad++;
	if (slen > 1 && s[slen - 2] == '=')
		pad++;
	out = malloc(slen / 4 * 3 + 1);
	if (!out)
		return NULL;
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)slen);
	if (n < 0 || (size_t)n < pad) {
		free(out);
		return NULL;
	}
	*len = (size_t)n - pad;
	out[*len] = '\0';
	return (char *)out;
}

char *manifest_get_path(const cJSON *obj, size_t *len)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "path");
	char *out;

	if (cJSON_IsString(p)) {
		*len = strlen(p->valuestring);
		out = strdup(p->valuestring);
		return out;
	}
	p = cJSON_GetObjectItemCaseSensitive(obj, "path_b64");
	if (!cJSON_IsString(p))
		return NULL;
	out = decode_b64(p->valuestring, len);
	if (out && strlen(out) != *len) {
		free(out); /* an embedded NUL: no such file name on Linux */
		return NULL;
	}
	return out;
}

static bool sha256_hex_valid(const char *s)
{
	size_t i;

	if (strlen(s) != 64)
		return false;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool json_uint(const cJSON *n, uint64_t *out)
{
	/* Sizes and seqs are non-negative integers below 2^53 (exact in a double). */
	if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 9007199254740992.0 ||
	    n->valuedouble != (double)(uint64_t)n->valuedouble)
		return false;
	*out = (uint64_t)n->valuedouble;
	return true;
}

static int parse_file(const cJSON *f, struct manifest_file *mf, size_t i, char *err, size_t errlen)
{
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256");

	if (!cJSON_IsObject(f)) {
		snprintf(err, errlen, "manifest: files[%zu] is not an object", i);
		return -1;
	}
	mf->path = manifest_get_path(f, &mf->path_len);
	if (!mf->path || mf->path_len == 0) {
		snprintf(err, errlen, "manifest: files[%zu] has no valid path or path_b64", i);
		return -1;
	}
	if (!json_uint(cJSON_GetObjectItemCaseSensitive(f, "size"), &mf->size)) {
		snprintf(err, errlen, "manifest: files[%zu] has no valid size", i);
		return -1;
	}
	if (!cJSON_IsString(sha) || !sha256_hex_valid(sha->valuestring)) {
		snprintf(err, errlen, "manifest: files[%zu] has no valid sha256", i);
		return -1;
	}
	memcpy(mf->sha256, sha->valuestring, 65);
	return 0;
}

static int parse_root(const cJSON *root, struct manifest *out, char *err, size_t errlen)
{
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(root, "run_id");
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
	const cJSON *marker = cJSON_GetObjectItemCaseSensitive(root, "marker");
	const cJSON *f;
	uint64_t seq;
	size_t i = 0;

	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "manifest: not a JSON object");
		return -1;
	}
	if (!cJSON_IsNumber(schema) || schema->valuedouble != MANIFEST_SCHEMA) {
		snprintf(err, errlen, "manifest: unsupported schema (want %d)", MANIFEST_SCHEMA);
		return -1;
	}
	if (!cJSON_IsString(run) || !runid_valid(run->valuestring)) {
		snprintf(err, errlen, "manifest: run_id is not 32 lowercase hex digits");
		return -1;
	}
	memcpy(out->run_id, run->valuestring, RUNID_LEN + 1);
	if (!json_uint(cJSON_GetObjectItemCaseSensitive(root, "seq"), &seq) || seq > 999999) {
		snprintf(err, errlen, "manifest: seq is not an integer in 0..999999");
		return -1;
	}
	out->seq = (unsigned long)seq;
	if (!cJSON_IsArray(files)) {
		snprintf(err, errlen, "manifest: files is not an array");
		return -1;
	}
	out->nfiles = (size_t)cJSON_GetArraySize(files);
	out->files = calloc(out->nfiles ? out->nfiles : 1, sizeof(*out->files));
	if (!out->files) {
		snprintf(err, errlen, "manifest: out of memory");
		return -1;
	}
	cJSON_ArrayForEach(f, files) {
		if (parse_file(f, &out->files[i], i, err, errlen) < 0)
			return -1;
		i++;
	}
	if (marker && !cJSON_IsNull(marker)) {
		if (!cJSON_IsObject(marker)) {
			snprintf(err, errlen, "manifest: marker is neither an object nor null");
			return -1;
		}
		out->marker = cJSON_Duplicate(marker, 1);
		if (!out->marker) {
			snprintf(err, errlen, "manifest: out of memory");
			return -1;
		}
	}
	return 0;
}

int manifest_parse(const char *json, size_t len, struct manifest *out, char *err, size_t errlen)
{
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	root = cJSON_ParseWithLength(json, len);
	if (!root) {
		snprintf(err, errlen, "manifest: not valid JSON");
		return -1;
	}
	rc = parse_root(root, out, err, errlen);
	cJSON_Delete(root);
	if (rc < 0)
		manifest_free(out);
	return rc;
}

void manifest_free(struct manifest *m)
{
	size_t i;

	if (m->files)
		for (i = 0; i < m->nfiles; i++)
			free(m->files[i].path);
	free(m->files);
	cJSON_Delete(m->marker);
	memset(m, 0, sizeof(*m));
}

static cJSON *render_files(const struct manifest_build *b)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	if (!arr)
		return NULL;
	for (i = 0; i < b->nfiles; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o) ||
		    manifest_put_path(o, b->files[i].path, b->files[i].path_len) < 0 ||
		    !cJSON_AddNumberToObject(o, "size", (double)b->files[i].size) ||
		    !cJSON_AddStringToObject(o, "sha256", b->files[i].sha256)) {
			if (o && !cJSON_IsArray(arr))
				cJSON_Delete(o);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

static cJSON *dup_or_null(const cJSON *j)
{
	return j ? cJSON_Duplicate(j, 1) : cJSON_CreateNull();
}

char *manifest_render(const struct manifest_build *b)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *files = NULL;
	char *s = NULL;

	if (!root)
		return NULL;
	if (!cJSON_AddNumberToObject(root, "schema", MANIFEST_SCHEMA) ||
	    !cJSON_AddStringToObject(root, "covship_version", COVSHIP_VERSION) ||
	    !cJSON_AddStringToObject(root, "run_id", b->run_id) ||
	    !cJSON_AddNumberToObject(root, "seq", (double)b->seq) ||
	    !cJSON_AddStringToObject(root, "created", b->created) ||
	    !cJSON_AddStringToObject(root, "format", b->format))
		goto out;
	files = render_files(b);
	if (!files || !cJSON_AddItemToObject(root, "files", files))
		goto out;
	files = NULL;
	if (!cJSON_AddItemToObject(root, "marker", dup_or_null(b->marker)) ||
	    !cJSON_AddItemToObject(root, "metadata", dup_or_null(b->metadata)))
		goto out;
	s = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(files);
	cJSON_Delete(root);
	return s;
}
