/* SPDX-License-Identifier: MIT */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "atomic_file.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"

#define READ_CHUNK (256 * 1024)

const char *bundle_extension(enum compression c)
{
	return c == COMPRESSION_ZSTD ? ".tar.zst" : ".tar.gz";
}

/* The archive's output: a file descriptor, hashed on the way out. */
struct sink {
	int fd;
	int err; /* first errno of a failed write */
	EVP_MD_CTX *md;
};

/*
 * A failed write is remembered, not reported to libarchive: an archive in
 * the FATAL state is freed without closing its filters, which leaks zlib's
 * state on every retry of a full disk. We check sink.err after each call
 * and abandon the bundle ourselves.
 */
static la_ssize_t sink_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct sink *s = ud;
	int e;

	(void)a;
	if (s->err)
		return (la_ssize_t)len;
	e = write_all_fd(s->fd, buf, len);
	if (e < 0)
		s->err = -e;
	else if (!EVP_DigestUpdate(s->md, buf, len))
		s->err = EIO;
	return (la_ssize_t)len;
}

struct builder {
	struct archive *a;
	struct sink sink;
	struct manifest_file *done; /* what went in, for the manifest */
	size_t ndone;
	unsigned char *buf;
	char *err;
	size_t errlen;
};

static int arch_fail(struct builder *b, const char *what)
{
	int e = b->sink.err ? b->sink.err : archive_errno(b->a);
	const char *msg = archive_error_string(b->a);

	if (e <= 0)
		e = EIO;
	snprintf(b->err, b->errlen, "bundle: %s: %s", what,
		 b->sink.err ? strerror(b->sink.err) : msg ? msg : "libarchive error");
	return -e;
}

static int setup_archive(struct builder *b, const struct bundle_params *bp)
{
	char level[16];
	int r;

	b->a = archive_write_new();
	if (!b->a)
		return -ENOMEM;
	if (archive_write_set_format_pax(b->a) != ARCHIVE_OK)
		return arch_fail(b, "pax format");
	if (bp->compression == COMPRESSION_ZSTD)
		r = archive_write_add_filter_zstd(b->a);
	else
		r = archive_write_add_filter_gzip(b->a);
	if (r != ARCHIVE_OK)
		return arch_fail(b, "compression filter");
	/* no time stamp in the gzip header: same files, same bytes */
	if (bp->compression == COMPRESSION_GZIP)
		(void)archive_write_set_filter_option(b->a, "gzip", "timestamp", NULL);
	if (bp->level >= 0) {
		snprintf(level, sizeof(level), "%d", bp->level);
		if (archive_write_set_filter_option(b->a, NULL, "compression-level", level) !=
		    ARCHIVE_OK)
			return arch_fail(b, "compression level");
	}
	/* no zero padding after the compressed stream: zstd refuses it */
	if (archive_write_set_bytes_in_last_block(b->a, 1) != ARCHIVE_OK)
		return arch_fail(b, "block size");
	if (archive_write_open(b->a, &b->sink, NULL, sink_write, NULL) != ARCHIVE_OK)
		return arch_fail(b, "open");
	return 0;
}

static struct archive_entry *regular_entry(const char *path, uint64_t size, time_t mtime)
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

/* Copy exactly st->st_size bytes of fd into the archive, hashing them. */
static int copy_body(struct builder *b, int fd, const char *path, uint64_t size, char hex[65])
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
		size_t want = left < READ_CHUNK ? (size_t)left : READ_CHUNK;
		ssize_t n = read(fd, b->buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? -errno : -EAGAIN;
			snprintf(b->err, b->errlen, "bundle: %s: %s", path,
				 n < 0 ? strerror(errno) : "shrank while being read");
			break;
		}
		if (!EVP_DigestUpdate(ctx, b->buf, (size_t)n))
			e = -EIO;
		else if (archive_write_data(b->a, b->buf, (size_t)n) != n || b->sink.err)
			e = arch_fail(b, "write");
		left -= (uint64_t)n;
	}
	if (!e && !EVP_DigestFinal_ex(ctx, md, NULL))
		e = -EIO;
	if (!e)
		sha256_to_hex(md, hex);
	EVP_MD_CTX_free(ctx);
	return e;
}

/* 1 = added, 0 = skipped (logged), <0 = the bundle failed */
static int add_file(struct builder *b, int rootfd, const struct plan_file *pf)
{
	struct manifest_file *mf = &b->done[b->ndone];
	struct archive_entry *entry;
	struct file_id now;
	struct stat st;
	int fd, e, r;

	fd = open_regular(rootfd, pf->path, &st);
	if (fd < 0) {
		log_warn("bundle: leaving out %s: %s", pf->path,
			 fd == -ENOENT ? "it vanished" :
			 (fd == -ELOOP || fd == -EINVAL) ? "no longer a regular file" :
							   strerror(-fd));
		return fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ? fd : 0;
	}
	file_id_from_stat(&st, &now);
	if (!file_id_equal(&now, &pf->id)) {
		log_info("bundle: leaving out %s: it changed since it was planned; it will go "
			 "into a later bundle", pf->path);
		close(fd);
		return 0;
	}
	entry = regular_entry(pf->path, now.size, st.st_mtim.tv_sec);
	if (!entry) {
		close(fd);
		return -ENOMEM;
	}
	/* ARCHIVE_WARN: a name that is not text in the locale; pax then stores
	 * its raw bytes (hdrcharset=BINARY), which is what we want. */
	r = archive_write_header(b->a, entry);
	e = (r != ARCHIVE_OK && r != ARCHIVE_WARN) || b->sink.err ? arch_fail(b, pf->path) : 0;
	archive_entry_free(entry);
	if (!e)
		e = copy_body(b, fd, pf->path, now.size, mf->sha256);
	/* A file rewritten while we read it: the entry may mix two versions. */
	if (!e && (fstat(fd, &st) < 0 || (file_id_from_stat(&st, &now), !file_id_equal(&now, &pf->id)))) {
		snprintf(b->err, b->errlen, "bundle: %s changed while being read; retrying later",
			 pf->path);
		e = -EAGAIN;
	}
	close(fd);
	if (e)
		return e;
	mf->path = pf->path;
	mf->path_len = pf->len;
	mf->size = now.size;
	b->ndone++;
	return 1;
}

static int add_manifest(struct builder *b, const struct bundle_params *bp, const struct plan *p)
{
	struct manifest_build mb = { p->run_id, p->seq, p->created, bp->format, b->done,
				     b->ndone, p->marker, bp->metadata };
	struct archive_entry *entry;
	char *json = manifest_render(&mb);
	size_t len;
	int e = 0;

	if (!json) {
		snprintf(b->err, b->errlen, "bundle: out of memory rendering the manifest");
		return -ENOMEM;
	}
	len = strlen(json);
	entry = regular_entry(MANIFEST_ENTRY_NAME, len, time(NULL));
	if (!entry)
		e = -ENOMEM;
	else if (archive_write_header(b->a, entry) != ARCHIVE_OK)
		e = arch_fail(b, "manifest header");
	else if (archive_write_data(b->a, json, len) != (la_ssize_t)len || b->sink.err)
		e = arch_fail(b, "manifest");
	archive_entry_free(entry);
	cJSON_free(json);
	return e;
}

static int write_entries(struct builder *b, const struct bundle_params *bp, const struct plan *p)
{
	size_t i;
	int e;

	e = setup_archive(b, bp);
	for (i = 0; !e && i < p->nfiles; i++) {
		int r = add_file(b, bp->rootfd, &p->files[i]);

		if (r < 0)
			e = r;
	}
	if (!e)
		e = add_manifest(b, bp, p);
	if (!e && (archive_write_close(b->a) != ARCHIVE_OK || b->sink.err))
		e = arch_fail(b, "close");
	return e;
}

static int finish_file(struct builder *b, const char *tmp, const char *dst, const char *dir)
{
	int e = 0;

	if (fsync(b->sink.fd) < 0)
		e = -errno;
	if (close(b->sink.fd) < 0 && !e)
		e = -errno;
	b->sink.fd = -1;
	if (!e && rename(tmp, dst) < 0)
		e = -errno;
	if (!e)
		e = fsync_dir(dir);
	if (e)
		snprintf(b->err, b->errlen, "bundle: writing %s: %s", dst, strerror(-e));
	return e;
}

int bundle_build(const struct bundle_params *bp, const char *spool_dir, const struct plan *p,
		 char sha256[65], size_t *nwritten, char *err, size_t errlen)
{
	struct builder b = { .sink = { -1, 0, NULL }, .err = err, .errlen = errlen };
	unsigned char md[EVP_MAX_MD_SIZE];
	char tmp[4096], dst[4096];
	int e;

	err[0] = '\0';
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", spool_dir, p->bundle, (long)getpid()) >=
		    (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", spool_dir, p->bundle) >= (int)sizeof(dst)) {
		snprintf(err, errlen, "bundle: spool path too long");
		return -ENAMETOOLONG;
	}
	b.done = calloc(p->nfiles ? p->nfiles : 1, sizeof(*b.done));
	b.buf = malloc(READ_CHUNK);
	b.sink.md = EVP_MD_CTX_new();
	if (!b.done || !b.buf || !b.sink.md || !EVP_DigestInit_ex(b.sink.md, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "bundle: out of memory");
		e = -ENOMEM;
		goto out;
	}
	b.sink.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (b.sink.fd < 0) {
		e = -errno;
		snprintf(err, errlen, "bundle: cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	e = write_entries(&b, bp, p);
	if (!e)
		e = finish_file(&b, tmp, dst, spool_dir);
	if (!e && !EVP_DigestFinal_ex(b.sink.md, md, NULL))
		e = -EIO;
	if (!e) {
		sha256_to_hex(md, sha256);
		*nwritten = b.ndone;
	}
out:
	if (b.a) {
		/* after a failure: close (into the discarding sink) so the
		 * compressor releases its state, then free */
		if (e)
			(void)archive_write_close(b.a);
		archive_write_free(b.a);
	}
	if (b.sink.fd >= 0)
		close(b.sink.fd);
	if (e && unlink(tmp) < 0 && errno != ENOENT)
		log_warn("bundle: cannot remove %s: %s", tmp, strerror(errno));
	if (e && !err[0])
		snprintf(err, errlen, "bundle: %s", strerror(-e));
	EVP_MD_CTX_free(b.sink.md);
	free(b.buf);
	free(b.done);
	return e;
}
