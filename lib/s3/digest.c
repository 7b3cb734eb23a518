/* SPDX-License-Identifier: MIT */
/* The digests S3 asks for: SHA-256 (hex and base64) and MD5, in one pass. */
#include "digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include "sigv4.h"

int s3_digest_range(int fd, uint64_t off, uint64_t len, struct s3_digests *d, bool want_md5)
{
	return s3_digest_range_feed(fd, off, len, d, want_md5, NULL);
}

int s3_digest_range_feed(int fd, uint64_t off, uint64_t len, struct s3_digests *d, bool want_md5,
			 EVP_MD_CTX *also)
{
	EVP_MD_CTX *sha = EVP_MD_CTX_new(), *md5 = want_md5 ? EVP_MD_CTX_new() : NULL;
	unsigned char *buf = malloc(256 * 1024);
	unsigned char s[32], m[16];
	int rc = -1;

	if (!sha || (want_md5 && !md5) || !buf || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL) ||
	    (md5 && !EVP_DigestInit_ex(md5, EVP_md5(), NULL)))
		goto out;
	while (len) {
		size_t want = len < 256 * 1024 ? (size_t)len : 256 * 1024;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		if (!EVP_DigestUpdate(sha, buf, (size_t)n) ||
		    (md5 && !EVP_DigestUpdate(md5, buf, (size_t)n)) ||
		    (also && !EVP_DigestUpdate(also, buf, (size_t)n)))
			goto out;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	if (!EVP_DigestFinal_ex(sha, s, NULL) || (md5 && !EVP_DigestFinal_ex(md5, m, NULL)))
		goto out;
	sigv4_hex(s, 32, d->sha256_hex);
	EVP_EncodeBlock((unsigned char *)d->sha256_b64, s, 32);
	d->md5_b64[0] = '\0';
	if (md5)
		EVP_EncodeBlock((unsigned char *)d->md5_b64, m, 16);
	rc = 0;
out:
	EVP_MD_CTX_free(sha);
	EVP_MD_CTX_free(md5);
	free(buf);
	return rc;
}
