/* SPDX-License-Identifier: MIT */
/*
 * Multipart upload, resumable: after every part the upload id and the
 * parts' ETags go to a small state file in the spool (atomically), so a
 * sidecar that crashed mid-upload continues where it stopped instead of
 * sending a 1 GiB bundle again.
 *
 * What is sent is checked against the file's expected SHA-256 before
 * Complete: the server stores each part only if it hashes to the part's
 * signed payload hash, which we compute from the bytes we read for it, so
 * the object is exactly those reads concatenated. The same reads feed one
 * running SHA-256 of the whole file, in part order (the parts a resumed
 * upload sent before are read again, and must still hash to what the
 * server holds). A mismatch aborts the upload: a damaged spooled bundle
 * never becomes an object. The reads run on a thread of their own, a few
 * parts ahead of the uploads, so the transfer loop does not stop for the
 * second SHA-256 (see struct reader).
 */
#include "batch.h"
#include "upload.h"
#include "errbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "atomic_file.h"
#include "log.h"
#include "s3xml.h"
#include "sigv4.h"

#define MAX_PARTS 10000
#define MiB (1024ULL * 1024ULL)

struct part {
	char etag[80];
	char sha256_b64[48];
	bool done;
	bool resumed;        /* done before this batch (from the state file) */
	struct s3_digests d; /* while its upload is in flight */
	char num[16];
};

/*
 * The reader of the parts: in part order, each part's digests for its
 * request and, from the same read, the whole file's running SHA-256; a
 * resumed part is read too and compared with the checksum the server took
 * it with. It runs on a thread of its own at most `ahead` parts beyond the
 * last one asked for (the page cache still holds them when curl sends
 * them), or, when no thread can be had, inline when a part is asked for.
 *
 * Sharing: next, want, stop, rc, differs and err are under the lock; the
 * reader alone touches `whole` (until joined) and parts[i].d of a part
 * not published yet (i >= next); a resumed part's sha256_b64 does not
 * change during the batch.
 */
struct reader {
	pthread_t thread;
	bool threaded;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	EVP_MD_CTX *whole;
	unsigned int next;  /* parts [0, next) read */
	unsigned int want;  /* may read parts < want */
	unsigned int ahead;
	bool stop;          /* the batch is over: read no further */
	int rc;             /* S3_OK, or why reading stopped */
	bool differs;       /* a resumed part is not this file's any more */
	char err[512];
};

struct mp {
	struct s3_client *c;
	const char *bucket, *key;
	int fd;
	uint64_t size, part_size;
	unsigned int nparts;
	const char *sha256_hex;
	const char *path; /* for messages */
	char upload_id[1024];
	struct part *parts;
	char state_name[80];
	const char *state_dir;
	/* the batch of parts being sent */
	unsigned int *todo;
	int fail_rc;
	char *err;
	size_t errlen;
	struct reader rd;
	EVP_MD_CTX *whole;    /* the whole file's SHA-256, fed by the reader */
	bool resumed_differs; /* a part sent before is not this file's any more */
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

/* Offset and length of part i in the file. */
static void part_range(const struct mp *m, unsigned int i, uint64_t *off, uint64_t *len)
{
	*off = (uint64_t)i * m->part_size;
	*len = *off + m->part_size > m->size ? m->size - *off : m->part_size;
}

/* Read part i: its digests into parts[i].d, or, for a resumed part, a
 * check against the checksum the server took it with (*differs when it is
 * not this file's any more); the bytes feed the whole file's SHA-256. */
static int read_part(struct mp *m, unsigned int i, bool *differs, char *err, size_t errlen)
{
	struct part *p = &m->parts[i];
	struct s3_digests d, *out = p->resumed ? &d : &p->d;
	uint64_t off, len;

	part_range(m, i, &off, &len);
	/* No Content-MD5 on parts: x-amz-checksum-sha256 checksums the part and
	 * the signed x-amz-content-sha256 is verified by every S3 we know, so
	 * an MD5 pass would only cost CPU (a third of the client's per GiB). */
	if (s3_digest_range_feed(m->fd, off, len, out, false, m->rd.whole) != 0) {
		set_err(err, errlen, "cannot read part %u of the bundle: %s", i + 1, strerror(errno));
		return S3_ERR_RETRY;
	}
	if (p->resumed && strcmp(d.sha256_b64, p->sha256_b64) != 0) {
		*differs = true;
		set_err(err, errlen, "part %u of the resumed multipart upload of s3://%s/%s differs "
			"from %s now; starting the upload afresh", i + 1, m->bucket, m->key, m->path);
		return S3_ERR_RETRY;
	}
	return S3_OK;
}

/* The reader's thread: parts in order, each published (next) as soon as
 * it is read. Its lock and condition are default ones, taken by each
 * thread once at a time: their calls cannot fail, hence (void). */
static void *reader_main(void *arg)
{
	struct mp *m = arg;
	struct reader *rd = &m->rd;
	char err[512];
	bool differs = false;
	sigset_t all;
	unsigned int i;
	int rc;

	/* Signals stay with the caller's thread (watch's signalfd). Cannot
	 * fail: SIG_BLOCK and a full set are valid. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, NULL);
	(void)pthread_mutex_lock(&rd->lock);
	for (i = 0; i < m->nparts && !rd->stop; i++) {
		while (!rd->stop && i >= rd->want)
			(void)pthread_cond_wait(&rd->cond, &rd->lock);
		if (rd->stop)
			break;
		(void)pthread_mutex_unlock(&rd->lock);
		rc = read_part(m, i, &differs, err, sizeof(err));
		(void)pthread_mutex_lock(&rd->lock);
		if (rc != S3_OK) {
			rd->rc = rc;
			rd->differs = differs;
			memcpy(rd->err, err, sizeof(err));
		} else {
			rd->next = i + 1;
		}
		(void)pthread_cond_broadcast(&rd->cond);
		if (rc != S3_OK)
			break;
	}
	(void)pthread_mutex_unlock(&rd->lock);
	return NULL;
}

/* Inline (no thread): read up to part upto - 1, unless a part failed. */
static void reader_inline(struct mp *m, unsigned int upto)
{
	struct reader *rd = &m->rd;

	while (rd->rc == S3_OK && rd->next < upto) {
		rd->rc = read_part(m, rd->next, &rd->differs, rd->err, sizeof(rd->err));
		if (rd->rc == S3_OK)
			rd->next++;
	}
}

/* Start reading for a batch: resumed parts marked, the thread started
 * (reading inline from then on when it cannot be). */
static void reader_start(struct mp *m)
{
	struct reader *rd = &m->rd;
	unsigned int i;

	for (i = 0; i < m->nparts; i++)
		m->parts[i].resumed = m->parts[i].done;
	rd->whole = m->whole;
	rd->next = 0;
	rd->ahead = m->c->cfg.max_parallel_parts > 0 ? (unsigned int)m->c->cfg.max_parallel_parts : 1;
	rd->want = rd->ahead;
	rd->stop = rd->differs = false;
	rd->rc = S3_OK;
	rd->err[0] = '\0';
	rd->threaded = false;
	if (pthread_mutex_init(&rd->lock, NULL) != 0)
		return;
	if (pthread_cond_init(&rd->cond, NULL) != 0) {
		(void)pthread_mutex_destroy(&rd->lock); /* unlocked, ours: cannot fail */
		return;
	}
	rd->threaded = pthread_create(&rd->thread, NULL, reader_main, m) == 0;
	if (!rd->threaded) {
		(void)pthread_cond_destroy(&rd->cond); /* no waiter: cannot fail */
		(void)pthread_mutex_destroy(&rd->lock);
	}
}

/* Wait until part i is read: S3_OK, or the reader's failure (err). */
static int reader_wait(struct mp *m, unsigned int i, char *err, size_t errlen)
{
	struct reader *rd = &m->rd;
	int rc;

	if (!rd->threaded) {
		reader_inline(m, i + 1);
		rc = rd->next > i ? S3_OK : rd->rc;
		if (rc != S3_OK)
			set_err(err, errlen, "%s", rd->err);
		return rc;
	}
	(void)pthread_mutex_lock(&rd->lock);
	if (rd->want < i + 1 + rd->ahead) {
		rd->want = i + 1 + rd->ahead;
		(void)pthread_cond_broadcast(&rd->cond);
	}
	while (rd->next <= i && rd->rc == S3_OK)
		(void)pthread_cond_wait(&rd->cond, &rd->lock);
	rc = rd->next > i ? S3_OK : rd->rc;
	if (rc != S3_OK)
		set_err(err, errlen, "%s", rd->err);
	(void)pthread_mutex_unlock(&rd->lock);
	return rc;
}

/* The batch is over. all: every part was sent, so the reader reads the
 * rest (resumed parts after the last one sent) and the whole file's
 * SHA-256 is complete; else it stops. Returns S3_OK or the reader's
 * failure (err; m->resumed_differs). */
static int reader_finish(struct mp *m, bool all, char *err, size_t errlen)
{
	struct reader *rd = &m->rd;

	if (rd->threaded) {
		(void)pthread_mutex_lock(&rd->lock);
		if (all)
			rd->want = m->nparts;
		else
			rd->stop = true;
		(void)pthread_cond_broadcast(&rd->cond);
		(void)pthread_mutex_unlock(&rd->lock);
		(void)pthread_join(rd->thread, NULL); /* cannot fail: joinable, not ourselves */
		(void)pthread_cond_destroy(&rd->cond); /* no waiter left: cannot fail */
		(void)pthread_mutex_destroy(&rd->lock);
		rd->threaded = false;
	} else if (all) {
		reader_inline(m, m->nparts);
	}
	m->resumed_differs = rd->differs;
	if (!all)
		return S3_OK;
	if (rd->next == m->nparts)
		return S3_OK;
	set_err(err, errlen, "%s", rd->err);
	return rd->rc != S3_OK ? rd->rc : S3_ERR_RETRY;
}

/* Every part was sent and read: the whole file's SHA-256 against the
 * expected one. S3_OK, S3_ERR_CORRUPT, or S3_ERR_RETRY. */
static int verify_whole(struct mp *m, char *err, size_t errlen)
{
	unsigned char md[32];
	char hex[65];

	if (!EVP_DigestFinal_ex(m->whole, md, NULL)) {
		set_err(err, errlen, "SHA-256 of %s: libcrypto failed", m->path);
		return S3_ERR_RETRY;
	}
	sigv4_hex(md, sizeof(md), hex);
	if (strcasecmp(hex, m->sha256_hex) != 0) {
		set_err(err, errlen, "%s changed: the SHA-256 of the parts sent is %s, not the "
			"expected %s; multipart upload aborted", m->path, hex, m->sha256_hex);
		return S3_ERR_CORRUPT;
	}
	return S3_OK;
}

/* Batch callbacks: request i of the batch uploads part m->todo[i]. */
static int part_prepare(void *ctx, size_t bi, struct s3_req *r, char *err, size_t errlen)
{
	struct mp *m = ctx;
	unsigned int i = m->todo[bi];
	struct part *p = &m->parts[i];
	uint64_t off, len;
	int rc = reader_wait(m, i, err, errlen); /* its digests, in p->d */

	if (rc != S3_OK)
		return rc;
	part_range(m, i, &off, &len);
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
	int rc;

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
	reader_start(m);
	s3_run_batch(m->c, n, m->c->cfg.max_parallel_parts, &ops, m);
	free(m->todo);
	m->todo = NULL;
	for (i = 0; m->fail_rc == S3_OK && i < m->nparts; i++) {
		if (!m->parts[i].done) {
			set_err(err, errlen, "S3 UploadPart %u did not finish", i + 1);
			m->fail_rc = S3_ERR_RETRY;
		}
	}
	/* Every part sent: the reader finishes the whole file (resumed parts
	 * after the last one sent included); else it stops where it is. */
	rc = reader_finish(m, m->fail_rc == S3_OK, err, errlen);
	if (m->fail_rc == S3_OK)
		m->fail_rc = rc;
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
	/* Before Complete: what the server holds is the expected file. */
	if (rc == S3_OK)
		rc = verify_whole(m, err, errlen);
	if (m->resumed_differs) { /* its old parts are not this file's */
		log_warn("%s", err);
		abort_upload(m);
		drop_state(m);
		*restart = true;
		return S3_ERR_RETRY;
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

int s3_put_multipart(struct s3_client *c, const char *bucket, const char *key, const char *path,
		     int fd, uint64_t size, const char *sha256_hex, const struct s3_put_opts *po,
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
	m.path = path;
	m.part_size = s3_part_size(size, c->cfg.part_size);
	m.nparts = (unsigned int)((size + m.part_size - 1) / m.part_size);
	m.state_dir = po && po->state_dir && *po->state_dir ? po->state_dir : NULL;
	snprintf(ident, sizeof(ident), "%s/%s", bucket, key);
	sigv4_sha256_hex(ident, strlen(ident), id);
	snprintf(m.state_name, sizeof(m.state_name), ".s3mp-%.32s.json", id);
	m.whole = EVP_MD_CTX_new();
	for (round = 0; round < 2; round++) {
		free(m.parts);
		m.parts = calloc(m.nparts ? m.nparts : 1, sizeof(*m.parts));
		m.resumed_differs = false;
		if (!m.parts || !m.whole || !EVP_DigestInit_ex(m.whole, EVP_sha256(), NULL)) {
			set_err(err, errlen, "out of memory");
			rc = S3_ERR_RETRY;
			break;
		}
		rc = run(&m, po && po->if_none_match, &restart, err, errlen);
		if (!restart)
			break;
	}
	EVP_MD_CTX_free(m.whole);
	free(m.parts);
	return rc;
}
