/* SPDX-License-Identifier: MIT */
/*
 * PutObject of one file, with Content-MD5, x-amz-checksum-sha256 and our
 * SHA-256 metadata; files at or above the multipart threshold go through
 * multipart.c.
 */
#include "upload.h"
#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void s3_put_req_fill(struct s3_req *r, const char *bucket, const char *key, int fd,
		     uint64_t size, const struct s3_digests *d, bool if_none_match)
{
	s3_req_init(r, "PUT", bucket, key);
	s3_req_header(r, "Content-MD5", d->md5_b64);
	s3_req_header(r, "x-amz-checksum-sha256", d->sha256_b64);
	s3_req_header(r, "x-amz-meta-covship-sha256", d->sha256_hex);
	s3_req_header(r, "Content-Type", "application/octet-stream");
	if (if_none_match)
		s3_req_header(r, "If-None-Match", "*");
	r->body_fd = fd;
	r->body_off = 0;
	r->body_len = size;
	r->has_body = true;
	r->payload_hash = d->sha256_hex;
}

static int put_single(struct s3_client *c, const char *bucket, const char *key, int fd,
		      uint64_t size, const struct s3_digests *d, const struct s3_put_opts *po,
		      char *err, size_t errlen)
{
	struct s3_req r;
	struct http_xfer x;
	int rc;

	s3_put_req_fill(&r, bucket, key, fd, size, d, po && po->if_none_match);
	rc = s3_request(c, &r, &x, err, errlen);
	http_response_reset(&x.resp);
	return rc;
}

int s3_put_file(struct s3_client *c, const char *bucket, const char *key, const char *path,
		const struct s3_put_opts *po, char *err, size_t errlen)
{
	struct s3_digests d;
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return S3_ERR_FATAL;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s is not a regular file", path);
		close(fd);
		return S3_ERR_FATAL;
	}
	if ((uint64_t)st.st_size >= c->cfg.multipart_threshold) {
		char hex[65] = "";

		if (po && po->sha256_hex) {
			snprintf(hex, sizeof(hex), "%s", po->sha256_hex);
		} else if (s3_digest_range(fd, 0, (uint64_t)st.st_size, &d, false) == 0) {
			memcpy(hex, d.sha256_hex, sizeof(hex));
		} else {
			set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
			close(fd);
			return S3_ERR_RETRY;
		}
		rc = s3_put_multipart(c, bucket, key, path, fd, (uint64_t)st.st_size, hex, po,
				      err, errlen);
		close(fd);
		return rc;
	}
	if (s3_digest_range(fd, 0, (uint64_t)st.st_size, &d, true) != 0) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		close(fd);
		return S3_ERR_RETRY;
	}
	if (po && po->sha256_hex && strcasecmp(po->sha256_hex, d.sha256_hex) != 0) {
		set_err(err, errlen, "%s changed: its SHA-256 is not the expected %s", path,
			po->sha256_hex);
		close(fd);
		return S3_ERR_CORRUPT; /* sending it again cannot help */
	}
	rc = put_single(c, bucket, key, fd, (uint64_t)st.st_size, &d, po, err, errlen);
	close(fd);
	return rc;
}
