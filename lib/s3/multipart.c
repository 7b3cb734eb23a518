/* SPDX-License-Identifier: MIT */
/*
 * Multipart upload, resumable: after every part the upload id and the
 * parts' ETags go to a small state file in the spool (atomically), so a
 * sidecar that crashed mid-upload continues where it stopped instead of
 * sending a 1 GiB bundle again.
 */
#include "batch.h"
#include "upload.h"
#include "errbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "log.h"
#include "s3xml.h"

#define MAX_PARTS 10000
#define MiB (1024ULL * 1024ULL)

struct part {
	char etag[80];
	char sha256_b64[48];
	bool done;
	struct s3_digests d; /* while its upload is in flight */
	char num[16];
};

struct mp {
	struct s3_client *c;
	const char *bucket, *key;
	int fd;
	uint64_t size, part_size;
	unsigned int nparts;
	const char *sha256_hex;
	char upload_id[1024];
	struct part *parts;
	char state_name[80];
	const char *state_dir;
	/* the batch of parts being sent */
	unsigned int *todo;
	int fail_rc;
	char *err;
	size_t errlen;
};


uint64_t s3_part_size(uint64_t size, uint64_t want)
{
	uint64_t min = (size + MAX_PARTS - 1) / MAX_PARTS;

	if (want < min)
		want = (min + MiB - 1) / MiB * MiB;
	return want;
}

/* ---- state file ---- */

static int save_state(struct mp *m)
{
	cJSON *j = cJSON_CreateObject(), *arr;
	char *text;
	unsigned int i;
	int rc = -1;

	if (!m->state_dir)
		return 0;
	if (!j)
		return -1;
	cJSON_AddStringToObject(j, "bucket", m->bucket);
	cJSON_AddStringToObject(j, "key", m->key);
	cJSON_AddStringToObject(j, "upload_id", m->upload_id);
	cJSON_AddNumberToObject(j, "size", (double)m->size);
	cJSON_AddNumberToObject(j, "part_size", (double)m->part_size);
	cJSON_AddStringToObject(j, "sha256", m->sha256_hex);
	arr = cJSON_AddArrayToObject(j, "parts");
	for (i = 0; arr && i < m->nparts; i++) {
		cJSON *p;

		if (!m->parts[i].done)
			continue;
		p = cJSON_CreateObject();
		if (!p)
			break;
		cJSON_AddNumberToObject(p, "n", i + 1);
		cJSON_AddStringToObject(p, "etag", m->parts[i].etag);
		cJSON_AddStringToObject(p, "sha256", m->parts[i].sha256_b64);
		cJSON_AddItemToArray(arr, p);
	}
	text = cJSON_PrintUnformatted(j);
	if (text)
		rc = atomic_write_file(m->state_dir, m->state_name, text, strlen(text), 0600);
	free(text);
	cJSON_Delete(j);
	return rc;
}

static void drop_state(struct mp *m)
{
	char path[4096];

	if (!m->state_dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", m->state_dir, m->state_name);
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", path, strerror(errno));
}

static const char *jstr(const cJSON *j, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, name));
}

static double jnum(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Resume an upload of the same bytes to the same key; anything else
 * (other size, other content) starts afresh. Returns true when resumed. */
static bool load_state(struct mp *m)
{
	char path[4096], buf[1 << 16];
	const cJSON *p;
	cJSON *j;
	FILE *f;
	size_t n;
	bool ok = false;

	if (!m->state_dir)
		return false;
	snprintf(path, sizeof(path), "%s/%s", m->state_dir, m->state_name);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	j = cJSON_Parse(buf);
	if (j && jstr(j, "bucket") && strcmp(jstr(j, "bucket"), m->bucket) == 0 && jstr(j, "key") &&
	    strcmp(jstr(j, "key"), m->key) == 0 && jstr(j, "sha256") &&
	    strcmp(jstr(j, "sha256"), m->sha256_hex) == 0 && jnum(j, "size") == (double)m->size &&
	    jnum(j, "part_size") == (double)m->part_size && jstr(j, "upload_id") &&
	    strlen(jstr(j, "upload_id")) < sizeof(m->upload_id)) {
		snprintf(m->upload_id, sizeof(m->upload_id), "%s", jstr(j, "upload_id"));
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(j, "parts")) {
			double num = jnum(p, "n");
			const char *etag = jstr(p, "etag"), *sha = jstr(p, "sha256");
			unsigned int i = (unsigned int)num;

			if (num < 1 || i > m->nparts || !etag || !sha ||
			    strlen(etag) >= sizeof(m->parts[0].etag) ||
			    strlen(sha) >= sizeof(m->parts[0].sha256_b64))
				continue;
			snprintf(m->parts[i - 1].etag, sizeof(m->parts[0].etag), "%s", etag);
			snprintf(m->parts[i - 1].sha256_b64, sizeof(m->parts[0].sha256_b64), "%s", sha);
			m->parts[i - 1].done = true;
		}
		ok = true;
	}
	cJSON_Delete(j);
	return ok;
}

/* ---- requests ---- */

static int create_upload(struct mp *m, char *err, size_t errlen)
{
	struct s3_req r;
	struct http_xfer x;
	int rc;

	s3_req_init(&r, "POST", m->bucket, m->key);
	s3_req_param(&r, "uploads", NULL);
	s3_req_header(&r, "x-amz-meta-covship-sha256", m->sha256_hex);
	s3_req_header(&r, "x-amz-checksum-algorithm", "SHA256");
	s3_req_header(&r, "Content-Type", "application/octet-stream");
	r.body_mem = "";
	rc = s3_request(m->c, &r, &x, err, errlen);
	if (rc == S3_OK && s3xml_parse_upload_id(x.resp.body.s, x.resp.body.len, m->upload_id,
						 sizeof(m->upload_id)) != 0) {
		set_err(err, errlen, "S3 CreateMultipartUpload s3://%s/%s: no UploadId in the answer",
			m->bucket, m->key);
		rc = S3_ERR_RETRY;
	}
	http_response_reset(&x.resp);
	return rc;
}

/* Batch callbacks: request i of the batch uploads part m->todo[i]. */
static int part_prepare(void *ctx, size_t bi, struct s3_req *r, char *err, size_t errlen)
{
	struct mp *m = ctx;
	unsigned int i = m->todo[bi];
	struct part *p = &m->parts[i];
	uint64_t off = (uint64_t)i * m->part_size;
	uint64_t len = off + m->part_size > m->size ? m->size - off : m->part_size;

	/* No Content-MD5 on parts: x-amz-checksum-sha256 checksums the part and
	 * the signed x-amz-content-sha256 is verified by every S3 we know, so
	 * an MD5 pass would only cost CPU (a third of the client's per GiB). */
	if (s3_digest_range(m->fd, off, len, &p->d, false) != 0) {
		set_err(err, errlen, "cannot read part %u of the bundle: %s", i + 1, strerror(errno));
		return S3_ERR_RETRY;
	}
	snprintf(p->num, sizeof(p->num), "%u", i + 1);
	s3_req_init(r, "PUT", m->bucket, m->key);
	s3_req_param(r, "partNumber", p->num);
	s3_req_param(r, "uploadId", m->upload_id);
	s3_req_header(r, "x-amz-checksum-sha256", p->d.sha256_b64);
	r->body_fd = m->fd;
	r->body_off = off;
	r->body_len = len;
	r->has_body = true;
	r->payload_hash = p->d.sha256_hex;
	return S3_OK;
}

static int part_done(void *ctx, size_t bi, int rc, struct http_xfer *x, const char *err)
{
	struct mp *m = ctx;
	unsigned int i = m->todo[bi];
	struct part *p = &m->parts[i];

	if (rc == S3_OK && (http_header(&x->resp, "ETag", p->etag, sizeof(p->etag)) != 0 ||
			    strpbrk(p->etag, "<>&"))) {
		rc = S3_ERR_RETRY;
		err = "S3 UploadPart: no usable ETag in the answer";
	}
	if (rc != S3_OK) {
		/* keep the most severe failure: fatal > gone > retry */
		if (m->fail_rc == S3_OK || rc == S3_ERR_FATAL ||
		    (rc == S3_ERR_NOT_FOUND && m->fail_rc == S3_ERR_RETRY)) {
			m->fail_rc = rc;
			set_err(m->err, m->errlen, "%s", err);
		}
		return 1;
	}
	memcpy(p->sha256_b64, p->d.sha256_b64, sizeof(p->sha256_b64));
	p->done = true;
	if (save_state(m) != 0)
		log_warn("cannot save multipart state in %s", m->state_dir);
	return 0;
}

/* Every part not done yet, max_parallel_parts at a time. */
static int upload_parts(struct mp *m, char *err, size_t errlen)
{
	static const struct s3_batch_ops ops = { part_prepare, part_done };
	unsigned int i, n = 0;

	m->todo = calloc(m->nparts ? m->nparts : 1, sizeof(*m->todo));
	if (!m->todo) {
		set_err(err, errlen, "out of memory");
		return S3_ERR_RETRY;
	}
	for (i = 0; i < m->nparts; i++)
		if (!m->parts[i].done)
			m->todo[n++] = i;
	m->fail_rc = S3_OK;
	m->err = err;
	m->errlen = errlen;
	s3_run_batch(m->c, n, m->c->cfg.max_parallel_parts, &ops, m);
	free(m->todo);
	m->todo = NULL;
	for (i = 0; m->fail_rc == S3_OK && i < m->nparts; i++) {
		if (!m->parts[i].done) {
			set_err(err, errlen, "S3 UploadPart %u did not finish", i + 1);
			m->fail_rc = S3_ERR_RETRY;
		}
	}
	return m->fail_rc;
}

static void abort_upload(struct mp *m)
{
	struct s3_req r;
	struct http_xfer x;
	char err[512];

	s3_req_init(&r, "DELETE", m->bucket, m->key);
	s3_req_param(&r, "uploadId", m->upload_id);
	if (s3_request(m->c, &r, &x, err, sizeof(err)) != S3_OK)
		log_warn("aborting the multipart upload failed (%s); a lifecycle rule "
			 "(AbortIncompleteMultipartUpload) will clean it up", err);
	http_response_reset(&x.resp);
}

static char *complete_body(struct mp *m)
{
	struct strbuf b = STRBUF_INIT;
	unsigned int i;

	sb_puts(&b, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (i = 0; i < m->nparts; i++)
		sb_printf(&b, "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag>"
			      "<ChecksumSHA256>%s</ChecksumSHA256></Part>",
			  i + 1, m->parts[i].etag, m->parts[i].sha256_b64);
	sb_puts(&b, "</CompleteMultipartUpload>");
	return sb_steal(&b);
}

/* A 200 may still carry an <Error>: retry those like any other error. */
static int complete_upload(struct mp *m, bool if_none_match, char *err, size_t errlen)
{
	char *body = complete_body(m);
	int attempt, rc = S3_ERR_RETRY;

	if (!body) {
		set_err(err, errlen, "out of memory");
		return S3_ERR_RETRY;
	}
	for (attempt = 1; attempt <= m->c->cfg.max_attempts; attempt++) {
		struct s3_req r;
		struct http_xfer x;
		struct s3xml_error e;
		int p;

		s3_req_init(&r, "POST", m->bucket, m->key);
		s3_req_param(&r, "uploadId", m->upload_id);
		s3_req_header(&r, "Content-Type", "application/xml");
		if (if_none_match)
			s3_req_header(&r, "If-None-Match", "*");
		r.body_mem = body;
		r.body_mem_len = strlen(body);
		rc = s3_request(m->c, &r, &x, err, errlen);
		if (rc != S3_OK) {
			http_response_reset(&x.resp);
			break;
		}
		p = s3xml_parse_complete(x.resp.body.s, x.resp.body.len, &e);
		http_response_reset(&x.resp);
		if (p == 0)
			break;
		if (p < 0)
			snprintf(e.code, sizeof(e.code), "InternalError");
		set_err(err, errlen, "S3 CompleteMultipartUpload s3://%s/%s: HTTP 200 with error %s: %s",
			m->bucket, m->key, e.code[0] ? e.code : "InternalError",
			e.message[0] ? e.message : "(no message)");
		rc = !e.code[0] || retry_code_retryable(e.code) || p < 0 ? S3_ERR_RETRY : S3_ERR_FATAL;
		if (rc == S3_ERR_FATAL)
			break;
		log_info("%s; retrying", err);
		retry_sleep_ms(retry_backoff_ms(attempt, m->c->cfg.retry_base_ms,
						m->c->cfg.retry_cap_ms));
	}
	free(body);
	return rc;
}

/* Complete said 404: maybe an earlier Complete whose answer we lost did
 * land. The object's recorded checksum tells. */
static bool already_landed(struct mp *m)
{
	struct s3_object_info info;
	char err[256];

	return s3_head_object(m->c, m->bucket, m->key, &info, err, sizeof(err)) == S3_OK &&
	       strcasecmp(info.covship_sha256, m->sha256_hex) == 0 && info.size == m->size;
}

static int run(struct mp *m, bool if_none_match, bool *restart, char *err, size_t errlen)
{
	int rc;

	*restart = false;
	/* AWS honours If-None-Match on Complete; radosgw 16 ignores it and
	 * overwrites. Asking first closes that gap for the common case (a
	 * re-delivery after a crash) on both. */
	if (if_none_match) {
		struct s3_object_info info;

		rc = s3_head_object(m->c, m->bucket, m->key, &info, err, errlen);
		if (rc == S3_OK) {
			if (load_state(m))
				abort_upload(m);
			drop_state(m);
			return S3_ERR_EXISTS;
		}
		if (rc != S3_ERR_NOT_FOUND)
			return rc;
	}
	if (!load_state(m)) {
		rc = create_upload(m, err, errlen);
		if (rc != S3_OK)
			return rc;
		if (save_state(m) != 0)
			log_warn("cannot save multipart state in %s; a crash restarts this upload",
				 m->state_dir);
	} else {
		log_info("resuming multipart upload of s3://%s/%s", m->bucket, m->key);
	}
	rc = upload_parts(m, err, errlen);
	if (rc == S3_ERR_NOT_FOUND) { /* the upload we resumed is gone */
		drop_state(m);
		*restart = true;
		return rc;
	}
	if (rc != S3_OK) {
		if (rc != S3_ERR_RETRY) {
			abort_upload(m);
			drop_state(m);
		}
		return rc;
	}
	rc = complete_upload(m, if_none_match, err, errlen);
	if (rc == S3_ERR_NOT_FOUND && already_landed(m))
		rc = S3_OK;
	if (rc == S3_OK) {
		drop_state(m);
	} else if (rc != S3_ERR_RETRY) {
		abort_upload(m);
		drop_state(m);
	}
	return rc;
}

int s3_put_multipart(struct s3_client *c, const char *bucket, const char *key, int fd,
		     uint64_t size, const char *sha256_hex, const struct s3_put_opts *po,
		     char *err, size_t errlen)
{
	struct mp m;
	char id[65], ident[2048];
	bool restart = false;
	int rc, round;

	memset(&m, 0, sizeof(m));
	m.c = c;
	m.bucket = bucket;
	m.key = key;
	m.fd = fd;
	m.size = size;
	m.sha256_hex = sha256_hex;
	m.part_size = s3_part_size(size, c->cfg.part_size);
	m.nparts = (unsigned int)((size + m.part_size - 1) / m.part_size);
	m.state_dir = po && po->state_dir && *po->state_dir ? po->state_dir : NULL;
	snprintf(ident, sizeof(ident), "%s/%s", bucket, key);
	sigv4_sha256_hex(ident, strlen(ident), id);
	snprintf(m.state_name, sizeof(m.state_name), ".s3mp-%.32s.json", id);
	for (round = 0; round < 2; round++) {
		free(m.parts);
		m.parts = calloc(m.nparts ? m.nparts : 1, sizeof(*m.parts));
		if (!m.parts) {
			set_err(err, errlen, "out of memory");
			return S3_ERR_RETRY;
		}
		rc = run(&m, po && po->if_none_match, &restart, err, errlen);
		if (!restart)
			break;
	}
	free(m.parts);
	return rc;
}
