/* SPDX-License-Identifier: MIT */
#include "s3xml.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

#define XML_MAX_DEPTH 8

/* Walks a document: for each element that ends, calls on_end with the
 * element path (root first) and its text. */
struct walker {
	const char *path[XML_MAX_DEPTH];
	char *owned[XML_MAX_DEPTH];
	int depth;
	struct strbuf text;
	int (*on_end)(struct walker *w, const char *name, const char *text);
	void *ctx;
	int stop;
	char root[64];
	XML_Parser p;
};

/* Strip an "{ns}" or "prefix:" the parser may leave on names. */
static const char *local_name(const char *n)
{
	const char *c = strrchr(n, ':');

	return c ? c + 1 : n;
}

static void XMLCALL start_el(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct walker *w = arg;

	(void)attrs;
	if (w->depth == 0)
		snprintf(w->root, sizeof(w->root), "%s", local_name(name));
	if (w->depth < XML_MAX_DEPTH) {
		w->owned[w->depth] = strdup(local_name(name));
		w->path[w->depth] = w->owned[w->depth] ? w->owned[w->depth] : "";
	}
	w->depth++;
	sb_free(&w->text);
}

static void XMLCALL end_el(void *arg, const XML_Char *name)
{
	struct walker *w = arg;
	int r = 0;

	if (!w->stop && w->on_end)
		r = w->on_end(w, local_name(name), w->text.s ? w->text.s : "");
	if (r && !w->stop) {
		w->stop = r;
		XML_StopParser(w->p, XML_FALSE);
	}
	w->depth--;
	if (w->depth < XML_MAX_DEPTH) {
		free(w->owned[w->depth]);
		w->owned[w->depth] = NULL;
	}
	sb_free(&w->text);
}

static void XMLCALL chars(void *arg, const XML_Char *s, int len)
{
	struct walker *w = arg;

	if (len > 0 && w->text.len < 65536)
		sb_append(&w->text, s, (size_t)len);
}

/* Parent element name of the element that is ending. */
static const char *parent(const struct walker *w)
{
	return w->depth >= 2 && w->depth - 2 < XML_MAX_DEPTH ? w->path[w->depth - 2] : "";
}

static int walk(const char *body, size_t len, struct walker *w)
{
	enum XML_Status st;
	int i;

	w->p = XML_ParserCreate(NULL);
	if (!w->p)
		return -1;
	XML_SetUserData(w->p, w);
	XML_SetElementHandler(w->p, start_el, end_el);
	XML_SetCharacterDataHandler(w->p, chars);
	st = XML_Parse(w->p, body, (int)len, XML_TRUE);
	XML_ParserFree(w->p);
	for (i = 0; i < XML_MAX_DEPTH; i++)
		free(w->owned[i]);
	sb_free(&w->text);
	if (w->stop)
		return w->stop;
	return st == XML_STATUS_OK ? 0 : -1;
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

static int error_end(struct walker *w, const char *name, const char *text)
{
	struct s3xml_error *e = w->ctx;

	if (strcmp(parent(w), "Error") != 0)
		return 0;
	if (strcmp(name, "Code") == 0)
		copy(e->code, sizeof(e->code), text);
	else if (strcmp(name, "Message") == 0)
		copy(e->message, sizeof(e->message), text);
	else if (strcmp(name, "RequestId") == 0)
		copy(e->request_id, sizeof(e->request_id), text);
	return 0;
}

int s3xml_parse_error(const char *body, size_t len, struct s3xml_error *e)
{
	struct walker w = { .on_end = error_end, .ctx = e };

	memset(e, 0, sizeof(*e));
	if (!body || !len || walk(body, len, &w) != 0)
		return -1;
	return strcmp(w.root, "Error") == 0 && e->code[0] ? 0 : -1;
}

struct list_state {
	s3xml_list_cb cb;
	void *ctx;
	char *key;
	uint64_t size;
	char etag[80];
	bool *truncated;
	char **next_token;
};

static int list_end(struct walker *w, const char *name, const char *text)
{
	struct list_state *ls = w->ctx;
	const char *par = parent(w);

	if (strcmp(par, "Contents") == 0) {
		if (strcmp(name, "Key") == 0) {
			free(ls->key);
			ls->key = strdup(text);
			if (!ls->key)
				return -1;
		} else if (strcmp(name, "Size") == 0) {
			ls->size = strtoull(text, NULL, 10);
		} else if (strcmp(name, "ETag") == 0) {
			copy(ls->etag, sizeof(ls->etag), text);
		}
		return 0;
	}
	if (strcmp(par, "ListBucketResult") != 0)
		return 0;
	if (strcmp(name, "Contents") == 0) {
		int r = ls->key ? ls->cb(ls->ctx, ls->key, ls->size, ls->etag) : -1;

		free(ls->key);
		ls->key = NULL;
		ls->size = 0;
		ls->etag[0] = '\0';
		return r;
	}
	if (strcmp(name, "IsTruncated") == 0)
		*ls->truncated = strcmp(text, "true") == 0;
	else if (strcmp(name, "NextContinuationToken") == 0) {
		free(*ls->next_token);
		*ls->next_token = strdup(text);
		if (!*ls->next_token)
			return -1;
	}
	return 0;
}

int s3xml_parse_list(const char *body, size_t len, s3xml_list_cb cb, void *ctx,
		     bool *truncated, char **next_token)
{
	struct list_state ls = { .cb = cb, .ctx = ctx, .truncated = truncated,
				 .next_token = next_token };
	struct walker w = { .on_end = list_end, .ctx = &ls };
	int r;

	*truncated = false;
	*next_token = NULL;
	r = walk(body, len, &w);
	free(ls.key);
	if (r == 0 && strcmp(w.root, "ListBucketResult") != 0)
		r = -1;
	if (r) {
		free(*next_token);
		*next_token = NULL;
	}
	return r;
}

struct upload_id_state {
	char *out;
	size_t outlen;
	bool found;
};

static int upload_id_end(struct walker *w, const char *name, const char *text)
{
	struct upload_id_state *u = w->ctx;

	if (strcmp(name, "UploadId") == 0 &&
	    strcmp(parent(w), "InitiateMultipartUploadResult") == 0 && *text &&
	    strlen(text) < u->outlen) {
		copy(u->out, u->outlen, text);
		u->found = true;
	}
	return 0;
}

int s3xml_parse_upload_id(const char *body, size_t len, char *out, size_t outlen)
{
	struct upload_id_state u = { out, outlen, false };
	struct walker w = { .on_end = upload_id_end, .ctx = &u };

	if (walk(body, len, &w) != 0)
		return -1;
	return u.found ? 0 : -1;
}

int s3xml_parse_complete(const char *body, size_t len, struct s3xml_error *e)
{
	struct walker w = { .on_end = error_end, .ctx = e };

	memset(e, 0, sizeof(*e));
	if (!body || !len || walk(body, len, &w) != 0)
		return -1;
	if (strcmp(w.root, "Error") == 0)
		return 1;
	return strcmp(w.root, "CompleteMultipartUploadResult") == 0 ? 0 : -1;
}
