/* SPDX-License-Identifier: MIT */
/*
 * The compressing pax writer that a bundle (bundle.c) and a staged member
 * (stage.c) are both written with. Keeping it in one place is what makes
 * concatenated members and a bundle's last part one valid .tar.gz/.tar.zst:
 * same format, same filter, same options, whichever module writes them.
 *
 * Every write goes to a tw_sink, which hashes the bytes on the way out and
 * remembers the first failed write instead of reporting it to libarchive
 * (see tw_sink_write); callers check sink.err after each libarchive call.
 */
#ifndef COVSHIP_TARWRITER_H
#define COVSHIP_TARWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <archive.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "options.h"

/* How bundles and staged members are written. */
struct bundle_params {
	int rootfd;               /* the coverage directory */
	enum compression compression;
	int level;                /* -1: library default */
	const char *format;       /* preset name for the manifest */
	const cJSON *metadata;
};

/* Read buffer size: callers pass buffers of TW_CHUNK bytes. */
#define TW_CHUNK (256 * 1024)

/* The archive's output: a file descriptor, hashed on the way out. */
struct tw_sink {
	int fd;
	int err;        /* first errno of a failed write */
	EVP_MD_CTX *md; /* may be NULL */
};

/* ".tar.gz" or ".tar.zst". */
const char *tw_extension(enum compression c);

/* libarchive write callback into a struct tw_sink (ud); also called
 * directly to append raw bytes. Never fails towards libarchive. */
la_ssize_t tw_sink_write(struct archive *a, void *ud, const void *buf, size_t len);

/* One line in err about what failed (the sink's errno first); returns -errno. */
int tw_fail(struct archive *a, const struct tw_sink *s, const char *what, char *err,
	    size_t errlen);

/* A compressing writer into s: pax (raw false) for a bundle's last member,
 * raw for one staged member. 0 or -errno with err. */
int tw_open(struct archive **out, const struct bundle_params *bp, bool raw, struct tw_sink *s,
	    char *err, size_t errlen);
/* Close (flushing into a possibly failed sink, which frees the filter's
 * state) and free; a NULL a is fine. */
void tw_free(struct archive *a);

/* A regular file entry (mode 0644) of path; NULL when out of memory. */
struct archive_entry *tw_regular_entry(const char *path, uint64_t size, time_t mtime);

/* Write exactly size bytes of fd into a, hashing them into hex; -1 when
 * libarchive or the sink failed (the caller names it with tw_fail), other
 * -errno with err. */
int tw_copy_body(struct archive *a, const int *sink_err, int fd, const char *path,
		 uint64_t size, unsigned char *buf, char hex[65], char *err, size_t errlen);

/* Append to out_fd (positioned at its end) one complete gzip member / zstd
 * frame holding exactly the tar entry of path: pax header(s), the size
 * bytes read from in_fd, padding, and no end-of-archive blocks. out_md (may
 * be NULL) is updated with the bytes written; sha256 gets the content's
 * digest. buf: a scratch buffer of TW_CHUNK bytes. Returns 0 or -errno
 * with one line in err (the caller discards what was appended). */
int tw_member(const struct bundle_params *bp, int in_fd, const char *path, uint64_t size,
	      time_t mtime, int out_fd, EVP_MD_CTX *out_md, unsigned char *buf, char sha256[65],
	      char *err, size_t errlen);

#endif
