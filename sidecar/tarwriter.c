/* SPDX-License-Identifier: MIT */
#include "tarwriter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <archive_entry.h>

#include "atomic_file.h"
#include "fsutil.h"

const char *tw_extension(enum compression c)
{
	return c == COMPRESSION_ZSTD ? ".tar.zst" : ".tar.gz";
}

/*
 * A failed write is remembered, not reported to libarchive: an archive in
 * the FATAL state is freed without closing its filters, which leaks zlib's
 * state on every retry of a full disk. We check sink.err after each call
 * and abandon the bundle ourselves.
 */
la_ssize_t tw_sink_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct tw_sink *s = ud;
	int e;

	(void)a;
	if (s->err)
		return (la_ssize_t)len;
	e = write_all_fd(s->fd, buf, len);
	if (e < 0)
		s->err = -e;
	else if (s->md && !EVP_DigestUpdate(s->md, buf, len))
		s->err = EIO;
	return (la_ssize_t)len;
}

int tw_fail(struct archive *a, const struct tw_sink *s, const char *what, char *err,
		       size_t errlen)
{
	int e = s->err ? s->err : a ? archive_errno(a) : ENOMEM;
	const char *msg = a ? archive_error_string(a) : NULL;

	if (e <= 0)
		e = EIO;
	snprintf(err, errlen, "bundle: %s: %s", what,
		 s->err ? strerror(s->err) : msg ? msg : "libarchive error");
	return -e;
}

/*
 * A compressing writer into s: pax for a bundle's last member (files,
 * manifest, end of archive), raw for one staged member (fed the bytes of an
 * unblocked pax writer, see bundle_member). Same filter and options either
 * way, so members and the last part decompress alike.
 */
int tw_open(struct archive **out, const struct bundle_params *bp, bool raw,
		       struct tw_sink *s, char *err, size_t errlen)
{
	struct archive *a = archive_write_new();
	char level[16];
	int r;

	*out = a;
	if (!a)
		return tw_fail(NULL, s, "out of memory", err, errlen);
	r = raw ? archive_write_set_format_raw(a) : archive_write_set_format_pax(a);
	if (r != ARCHIVE_OK)
		return tw_fail(a, s, "format", err, errlen);
	if (bp->compression == COMPRESSION_ZSTD)
		r = archive_write_add_filter_zstd(a);
	else
		r = archive_write_add_filter_gzip(a);
	if (r != ARCHIVE_OK)
		return tw_fail(a, s, "compression filter", err, errlen);
	/* no time stamp in the gzip header: same files, same bytes */
	if (bp->compression == COMPRESSION_GZIP)
		(void)archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
	if (bp->level >= 0) {
		snprintf(level, sizeof(level), "%d", bp->level);
		if (archive_write_set_filter_option(a, NULL, "compression-level", level) !=
		    ARCHIVE_OK)
			return tw_fail(a, s, "compression level", err, errlen);
	}
	/* no zero padding after the compressed stream: zstd refuses it */
	if (archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
		return tw_fail(a, s, "block size", err, errlen);
	if (archive_write_open(a, s, NULL, tw_sink_write, NULL) != ARCHIVE_OK)
		return tw_fail(a, s, "open", err, errlen);
	return 0;
}

/* Close (flushing the compressor into a possibly failed sink, which
 * releases its state) and free. */
void tw_free(struct archive *a)
{
	if (a) {
		(void)archive_write_close(a);
		archive_write_free(a);
	}
}

struct archive_entry *tw_regular_entry(const char *path, uint64_t size, time_t mtime)
{
	struct archive_entry *e = archive_entry_new();

	if (!e)
		return NULL;
	archive_entry_copy_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, mtime, 0);
	return e;
}

/* Write exactly `size` bytes of fd into a, hashing them; *sink_err is
 * checked after each write (see tw_sink_write). */
int tw_copy_body(struct archive *a, const int *sink_err, int fd, const char *path,
		     uint64_t size, unsigned char *buf, char hex[65], char *err, size_t errlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t left = size;
	int e = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	while (!e && left > 0) {
		size_t want = left < TW_CHUNK ? (size_t)left : TW_CHUNK;
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? -errno : -EAGAIN;
			snprintf(err, errlen, "bundle: %s: %s", path,
				 n < 0 ? strerror(errno) : "shrank while being read");
			break;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			e = -EIO;
		else if (archive_write_data(a, buf, (size_t)n) != n || *sink_err)
			e = -1; /* the caller names it */
		left -= (uint64_t)n;
	}
	if (!e && !EVP_DigestFinal_ex(ctx, md, NULL))
		e = -EIO;
	if (!e)
		sha256_to_hex(md, hex);
	EVP_MD_CTX_free(ctx);
	return e;
}

/* The pax writer of one member: its bytes go into the raw compressing
 * writer until the entry is complete; the end-of-archive blocks it writes
 * when closed are dropped (the bundle's last member has them). */
struct member {
	struct archive *tar, *gz;
	struct tw_sink *sink;
	bool entry_done;
	bool failed;
};

static la_ssize_t member_forward(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct member *m = ud;

	(void)a;
	if (m->entry_done || m->failed || len == 0)
		return (la_ssize_t)len;
	if (archive_write_data(m->gz, buf, len) != (la_ssize_t)len || m->sink->err)
		m->failed = true;
	return (la_ssize_t)len;
}

static int member_open(struct member *m, const struct bundle_params *bp, char *err,
		       size_t errlen)
{
	struct archive_entry *raw;
	int e = tw_open(&m->gz, bp, true, m->sink, err, errlen);

	if (e)
		return e;
	raw = tw_regular_entry("member", 0, 0);
	if (!raw)
		return tw_fail(NULL, m->sink, "out of memory", err, errlen);
	if (archive_write_header(m->gz, raw) != ARCHIVE_OK)
		e = tw_fail(m->gz, m->sink, "member", err, errlen);
	archive_entry_free(raw);
	if (e)
		return e;
	m->tar = archive_write_new();
	if (!m->tar)
		return tw_fail(NULL, m->sink, "out of memory", err, errlen);
	/* unblocked: every header and data byte reaches member_forward at once */
	if (archive_write_set_format_pax(m->tar) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(m->tar, 0) != ARCHIVE_OK ||
	    archive_write_open(m->tar, m, NULL, member_forward, NULL) != ARCHIVE_OK)
		return tw_fail(m->tar, m->sink, "member", err, errlen);
	return 0;
}

int tw_member(const struct bundle_params *bp, int in_fd, const char *path, uint64_t size,
		  time_t mtime, int out_fd, EVP_MD_CTX *out_md, unsigned char *buf,
		  char sha256[65], char *err, size_t errlen)
{
	struct tw_sink s = { out_fd, 0, out_md };
	struct member m = { NULL, NULL, &s, false, false };
	struct archive_entry *entry = NULL;
	int e, r;

	err[0] = '\0';
	e = member_open(&m, bp, err, errlen);
	if (!e) {
		entry = tw_regular_entry(path, size, mtime);
		if (!entry)
			e = tw_fail(NULL, &s, "out of memory", err, errlen);
	}
	if (!e) {
		/* ARCHIVE_WARN: a name that is not text (see add_file) */
		r = archive_write_header(m.tar, entry);
		if ((r != ARCHIVE_OK && r != ARCHIVE_WARN) || m.failed)
			e = tw_fail(m.failed ? m.gz : m.tar, &s, path, err, errlen);
	}
	if (!e) {
		e = tw_copy_body(m.tar, &s.err, in_fd, path, size, buf, sha256, err, errlen);
		if (e == -1 || (!e && m.failed))
			e = tw_fail(m.failed ? m.gz : m.tar, &s, path, err, errlen);
	}
	if (!e && (archive_write_finish_entry(m.tar) != ARCHIVE_OK || m.failed))
		e = tw_fail(m.failed ? m.gz : m.tar, &s, path, err, errlen);
	m.entry_done = true;
	if (!e && archive_write_close(m.tar) != ARCHIVE_OK)
		e = tw_fail(m.tar, &s, path, err, errlen);
	if (!e && (archive_write_close(m.gz) != ARCHIVE_OK || s.err))
		e = tw_fail(m.gz, &s, path, err, errlen);
	archive_entry_free(entry);
	tw_free(m.tar);
	tw_free(m.gz);
	return e;
}
