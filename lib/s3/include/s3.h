/* SPDX-License-Identifier: MIT */
/*
 * The S3 client used by the s3:// destination (watch/push) and by `covship
 * pull`: the only header of lib/s3 that code outside it includes. Requests
 * are signed with our own SigV4; libcurl is only the transport. Every call retries transient failures itself (standard-mode
 * semantics, retry.h) and writes one line, naming the S3 error code and
 * message and never a secret, to err on failure.
 *
 * Return values: 0 success; S3_ERR_RETRY transient failure after the retry
 * budget was spent; S3_ERR_FATAL permanent failure (4xx, bad config);
 * S3_ERR_NOT_FOUND (HEAD/GET of a missing key); S3_ERR_EXISTS (conditional
 * put found the key present, 412); S3_ERR_CORRUPT (an upload whose file's
 * bytes, as read for sending, do not hash to the expected SHA-256: nothing
 * was stored, a multipart upload was aborted and its resume state removed;
 * the local file is damaged or changed, and sending it again cannot help).
 */
#ifndef COVSHIP_S3_H
#define COVSHIP_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the command line says about the endpoint; unset strings are NULL
 * (or ""), and s3_config_resolve() falls back to the AWS variables. */
struct s3_options {
	const char *endpoint;  /* --endpoint */
	const char *region;    /* --region */
	const char *ca_bundle; /* --ca-bundle */
	bool insecure;         /* --insecure */
	bool path_style;       /* --path-style (else virtual-hosted when possible) */
};

enum {
	S3_OK = 0,
	S3_ERR_RETRY = -1,
	S3_ERR_FATAL = -2,
	S3_ERR_NOT_FOUND = -3,
	S3_ERR_EXISTS = -4,
	S3_ERR_CORRUPT = -5,
};

struct s3_config {
	char endpoint[512];   /* scheme://host[:port] without trailing '/' */
	char region[64];
	bool path_style;      /* else virtual-hosted when the bucket allows it */
	char ca_bundle[1024]; /* "" = system default */
	bool insecure;        /* skip TLS verification (warned about) */
	long connect_timeout_ms;
	long low_speed_time_s;   /* abort a transfer stalled this long */
	int max_attempts;        /* per request, first try included */
	long retry_base_ms;      /* backoff: rand(0,1) * min(base * 2^n, cap) */
	long retry_cap_ms;
	uint64_t multipart_threshold; /* files at least this large go multipart */
	uint64_t part_size;           /* >= 8 MiB, raised to stay <= 10,000 parts */
	int max_parallel_parts;       /* multipart parts in flight at once */
	int max_parallel_bundles;     /* small bundles in flight at once (deliver_many) */
};

/* Fill cfg from opts (may be NULL) and the environment:
 *   endpoint: --endpoint > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL >
 *             https://s3.<region>.amazonaws.com
 *   region:   --region > AWS_REGION > AWS_DEFAULT_REGION > us-east-1
 * Path-style addressing when --path-style, when the endpoint host is an IP
 * address or "localhost", or when the bucket name is not DNS-safe; else
 * virtual-hosted. Tunables from env (see
 * docs/s3.md): COVSHIP_S3_MAX_ATTEMPTS, COVSHIP_S3_RETRY_BASE_MS,
 * COVSHIP_S3_RETRY_CAP_MS, COVSHIP_S3_TIMEOUT_S, COVSHIP_S3_MULTIPART_THRESHOLD,
 * COVSHIP_S3_PART_SIZE, COVSHIP_S3_PARALLEL_BUNDLES. Returns 0 or -1 with a one-line message. */
int s3_config_resolve(struct s3_config *cfg, const struct s3_options *opts, char *err,
		      size_t errlen);

/* s3://bucket[/prefix] → bucket and prefix (prefix may be "", has no leading
 * '/', keeps a trailing '/'). Returns 0 or -1 with a message. */
int s3_parse_url(const char *url, char *bucket, size_t bucketlen, char *prefix,
		 size_t prefixlen, char *err, size_t errlen);

struct s3_client;

/* Resolves credentials lazily (first request), so a missing credential
 * source is reported by the first operation. */
struct s3_client *s3_client_new(const struct s3_config *cfg, char *err, size_t errlen);
void s3_client_free(struct s3_client *c);

/* Called once per key by s3_list_objects, in listing order. Return non-zero
 * to stop listing (s3_list_objects then returns that value). */
typedef int (*s3_list_cb)(void *ctx, const char *key, uint64_t size, const char *etag);

/* Every key under prefix (ListObjectsV2, all pages). */
int s3_list_objects(struct s3_client *c, const char *bucket, const char *prefix,
		    s3_list_cb cb, void *ctx, char *err, size_t errlen);

struct s3_object_info {
	uint64_t size;
	char etag[80];             /* as sent, quotes included */
	char covship_sha256[65];   /* x-amz-meta-covship-sha256, "" if absent */
};

int s3_head_object(struct s3_client *c, const char *bucket, const char *key,
		   struct s3_object_info *info, char *err, size_t errlen);

/* GET into fd (truncated and rewritten from offset 0 on every retry; fd must
 * be a regular file). */
int s3_get_object_to_fd(struct s3_client *c, const char *bucket, const char *key, int fd,
			char *err, size_t errlen);

/* Concurrent downloads for pull: at most max_parallel transfers at once
 * over one libcurl multi handle, each retried on its own. */
struct s3_get_job {
	const char *key;
	int fd;             /* regular file, rewritten from offset 0 */
	int result;         /* out: S3_OK or S3_ERR_* */
	char err[256];      /* out: one line when result != S3_OK */
};

/* Returns 0 when every job succeeded, else the number of failed jobs. */
int s3_get_objects(struct s3_client *c, const char *bucket, struct s3_get_job *jobs, size_t n,
		   int max_parallel);

/* The same as a stream, for any number of objects: nothing is kept per job,
 * files are open (and temporary space used) only for the transfers in
 * flight, and each download can be used as soon as it is complete while the
 * others go on (pull extracts there). start(ctx, i), just before job i
 * starts, gives its key (which must live until done) and the fd to write
 * into, or returns -1 with err set to fail the job. done(ctx, i, rc, err) is
 * called exactly once for every job i < n, with rc S3_OK or S3_ERR_* and
 * err one line when rc != S3_OK (a job that never started included: the
 * return value counts those). */
struct s3_get_hooks {
	int (*start)(void *ctx, size_t i, const char **key, int *fd, char *err, size_t errlen);
	void (*done)(void *ctx, size_t i, int rc, const char *err);
	void *ctx;
	/* Optional (NULL: no cap): the most bytes job i may receive (0: no
	 * cap). A server sending more is cut mid-transfer and the job fails
	 * with S3_ERR_CORRUPT, not retried; pull passes the listed size. */
	uint64_t (*max_bytes)(void *ctx, size_t i);
};
size_t s3_get_each(struct s3_client *c, const char *bucket, size_t n, int max_parallel,
		   const struct s3_get_hooks *hooks);

struct s3_put_opts {
	bool if_none_match;       /* send If-None-Match: * (S3_ERR_EXISTS on 412) */
	const char *sha256_hex;   /* of the file; computed when NULL */
	const char *state_dir;    /* multipart resume state lives here (NULL: none) */
};

/* Upload a local file: PutObject with Content-MD5, x-amz-checksum-sha256 and
 * x-amz-meta-covship-sha256; multipart (parts checksummed, resumable from
 * state_dir, aborted when giving up on a fatal error) at or above
 * cfg->multipart_threshold. Memory stays flat: the file is streamed. Either
 * way the SHA-256 of the bytes sent must equal po->sha256_hex (when given)
 * before the object can exist: multipart checks it before Complete, over
 * the parts as read for sending (and a resumed upload's parts, read again).
 * Else S3_ERR_CORRUPT. */
int s3_put_file(struct s3_client *c, const char *bucket, const char *key, const char *path,
		const struct s3_put_opts *po, char *err, size_t errlen);

/* Many files at once (a spool holding many bundles): files below
 * cfg->multipart_threshold go as PutObjects like s3_put_file's, at most
 * max_parallel at once over one libcurl multi handle, each retried on its
 * own; a file is open only while its upload is in flight. Larger files
 * follow one after the other with s3_put_file (their parts are parallel
 * already). po's if_none_match and state_dir apply to every job; the
 * expected SHA-256 is per job. */
struct s3_put_job {
	const char *key;
	const char *path;
	const char *sha256_hex; /* expected SHA-256 of the file, or NULL (S3_ERR_CORRUPT
				 * when the bytes sent do not match it) */
	char sha256_read[65];   /* out: the SHA-256 of what was sent ("": not read) */
	int result;             /* out: S3_OK or S3_ERR_* (S3_ERR_EXISTS on 412) */
	char err[256];          /* out: one line when result != S3_OK */
};

/* Told about job i as soon as its result is final (the others may still be
 * in flight): once per job, in the order they end, on the calling thread. */
struct s3_put_hook {
	void (*done)(void *ctx, size_t i);
	void *ctx;
};

/* Returns 0 when every job succeeded, else the number of failed jobs.
 * hook may be NULL. */
size_t s3_put_objects(struct s3_client *c, const char *bucket, struct s3_put_job *jobs, size_t n,
		      int max_parallel, const struct s3_put_opts *po,
		      const struct s3_put_hook *hook);

#endif
