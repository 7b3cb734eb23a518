/* SPDX-License-Identifier: MIT */
/*
 * Many requests at once over one libcurl multi handle, each retried on its
 * own with the same attempts as s3_request() (request.h).
 */
#include "batch.h"
#include "errbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One request in flight (or waiting for its backoff) in s3_run_batch. */
struct batch_slot {
	size_t idx;
	struct s3_req req;
	struct s3_attempt st;
	struct http_xfer x;
	struct s3_built b;
	CURL *h;
	int64_t not_before_ms; /* monotonic; 0 = now */
	bool busy;
	bool in_multi;
	int rc;
	char err[512];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start (or restart) the slot's transfer on the multi handle. */
static int slot_start(struct s3_client *c, CURLM *m, struct batch_slot *s)
{
	int rc;

	s->st.attempt++;
	memset(&s->b, 0, sizeof(s->b));
	rc = s3_attempt_prepare(c, &s->req, &s->st, &s->x, &s->b, s->err, sizeof(s->err));
	if (rc == S3_OK && (http_xfer_setup(s->h, &s->x, &c->tls) != 0 ||
			    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s) != CURLE_OK ||
			    curl_multi_add_handle(m, s->h) != CURLM_OK)) {
		set_err(s->err, sizeof(s->err), "cannot start an S3 transfer");
		s3_built_free(&s->b);
		rc = S3_ERR_RETRY;
	}
	s->in_multi = rc == S3_OK;
	return rc;
}

/* A transfer ended: true when the request is finished (s->rc set), false
 * when it was scheduled again. */
static bool slot_finished(struct s3_client *c, CURLM *m, struct batch_slot *s, CURLcode code)
{
	enum s3_verdict v;

	curl_multi_remove_handle(m, s->h);
	s->in_multi = false;
	http_xfer_done(s->h, &s->x, code);
	s3_built_free(&s->b);
	s->x.req.url = NULL;
	s->x.req.headers = NULL;
	v = s3_attempt_judge(c, &s->req, &s->st, &s->x, &s->rc, s->err, sizeof(s->err));
	if (v == S3_V_DONE)
		return true;
	http_response_reset(&s->x.resp);
	s->not_before_ms = now_ms();
	if (v == S3_V_BACKOFF)
		s->not_before_ms += retry_backoff_ms(s->st.attempt, c->cfg.retry_base_ms,
						     c->cfg.retry_cap_ms);
	return false;
}

/* Finish a slot: tell the caller, free the response. Returns the caller's
 * verdict (non-zero: start nothing new). */
static int slot_report(const struct s3_batch_ops *ops, void *ctx, struct batch_slot *s)
{
	int stop = ops->done(ctx, s->idx, s->rc, &s->x, s->rc == S3_OK ? "" : s->err);

	http_response_reset(&s->x.resp);
	s->busy = false;
	return stop;
}

void s3_run_batch(struct s3_client *c, size_t n, int max_parallel, const struct s3_batch_ops *ops,
		  void *ctx)
{
	size_t next = 0, i, nslots, busy = 0;
	struct batch_slot *slots;
	CURLM *m = curl_multi_init();
	bool stop = false;

	if (max_parallel < 1)
		max_parallel = 1;
	nslots = (size_t)max_parallel < n ? (size_t)max_parallel : n;
	slots = calloc(nslots ? nslots : 1, sizeof(*slots));
	for (i = 0; slots && i < nslots; i++)
		if (!(slots[i].h = curl_easy_init()))
			break;
	if (!m || !slots || i < nslots)
		stop = true;
	while (!stop || busy) {
		int running = 0, timeout = 200, q;
		int64_t t = now_ms();
		CURLMsg *msg;

		for (i = 0; i < nslots; i++) {
			struct batch_slot *s = &slots[i];

			if (!s->busy && next < n && !stop) {
				memset(&s->st, 0, sizeof(s->st));
				s->idx = next++;
				s->not_before_ms = 0;
				s->err[0] = '\0';
				s->rc = ops->prepare(ctx, s->idx, &s->req, s->err, sizeof(s->err));
				s->busy = true;
				busy++;
				if (s->rc != S3_OK) {
					busy--;
					stop = slot_report(ops, ctx, s) != 0;
					i--; /* size_t wraps and comes back: retry this slot */
					continue;
				}
			}
			if (!s->busy || s->in_multi)
				continue;
			if (s->not_before_ms > t) {
				if (s->not_before_ms - t < timeout)
					timeout = (int)(s->not_before_ms - t);
				continue;
			}
			s->rc = slot_start(c, m, s);
			if (s->rc != S3_OK) {
				busy--;
				stop = slot_report(ops, ctx, s) != 0 || stop;
				i--;
			}
		}
		if (!busy && (stop || next >= n))
			break;
		if (curl_multi_perform(m, &running) != CURLM_OK ||
		    curl_multi_poll(m, NULL, 0, timeout > 0 ? timeout : 1, NULL) != CURLM_OK)
			break;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &q))) {
			struct batch_slot *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			if (s && slot_finished(c, m, s, msg->data.result)) {
				busy--;
				stop = slot_report(ops, ctx, s) != 0 || stop;
			}
		}
	}
	for (i = 0; slots && i < nslots; i++) {
		struct batch_slot *s = &slots[i];

		if (s->in_multi) {
			curl_multi_remove_handle(m, s->h);
			s3_built_free(&s->b);
		}
		if (s->busy) {
			s->rc = S3_ERR_RETRY;
			snprintf(s->err, sizeof(s->err), "the transfer engine failed");
			slot_report(ops, ctx, s);
		}
		http_response_reset(&s->x.resp);
		if (s->h)
			curl_easy_cleanup(s->h);
	}
	free(slots);
	if (m)
		curl_multi_cleanup(m);
}
