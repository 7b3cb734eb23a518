/* SPDX-License-Identifier: MIT */
#include "pull_extract.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "log.h"

/* A manifest lists at most some ten thousand files (~2 MB of JSON); anything
 * far larger is not a covship manifest and must not exhaust memory. */
#define MANIFEST_MAX ((size_t)64 << 20)

/* Belt and braces: pull_path_safe() already refuses what these refuse, and
 * only regular files are ever handed to the writer. Nothing is fsynced
 * (libarchive's disk writer does not, nor does pull): the bundles stay in
 * the bucket, so a pull that crashed is simply run again. */
#define WRITE_FLAGS                                                                       \
	(ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |              \
	 ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_NO_OVERWRITE)

struct seen_file {
	char *path;
	size_t len;
	uint64_t size;
	char sha256[65];
};

struct extract {
	struct archive *in;
	struct archive *out;
	struct seen_file *files;
	size_t n, cap;
	char *manifest;
	size_t manifest_len;
	uint64_t bytes;
	const struct pull_limits *lim; /* NULL: no caps */
	uint64_t compressed;           /* the bundle's size, for --max-ratio */
	char *err;
	size_t errlen;
};

static const char *aerr(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s ? s : "unknown error";
}

bool pull_path_safe(const char *path, size_t len)
{
	size_t i = 0, start;

	if (len == 0 || path[0] == '/')
		return false;
	while (i <= len) {
		start = i;
		while (i < len && path[i] != '/')
			i++;
		/* Component path[start, i): never empty, "." or "..". */
		if (i == start || (i - start == 1 && path[start] == '.') ||
		    (i - start == 2 && path[start] == '.' && path[start + 1] == '.'))
			return false;
		i++;
	}
	return true;
}

static void hex(const unsigned char *md, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

static enum pull_extract_result fail(struct extract *x, enum pull_extract_result r,
				     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum pull_extract_result fail(struct extract *x, enum pull_extract_result r,
				     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->err, x->errlen, fmt, ap);
	va_end(ap);
	return r;
}

static int open_archives(struct extract *x, int fd)
{
	x->in = archive_read_new();
	x->out = archive_write_disk_new();
	if (!x->in || !x->out)
		return -1;
	/* Only what covship writes: tar (pax) compressed with gzip or zstd. */
	if (archive_read_support_format_tar(x->in) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(x->in) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(x->in) != ARCHIVE_OK ||
	    archive_write_disk_set_options(x->out, WRITE_FLAGS) != ARCHIVE_OK)
		return -1;
	if (archive_read_open_fd(x->in, fd, 64 * 1024) != ARCHIVE_OK)
		return -1;
	return 0;
}

/* Only plain regular files at safe relative paths: no links of either
 * kind, no devices, no sparse maps, nothing encrypted. */
static enum pull_extract_result check_entry(struct extract *x, struct archive_entry *e,
					    const char *path)
{
	if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
	    archive_entry_symlink(e))
		return fail(x, PULL_EXTRACT_BAD, "entry '%s' is not a regular file (type %o%s)",
			    path, (unsigned)archive_entry_filetype(e),
			    archive_entry_hardlink(e) ? ", hard link" :
			    archive_entry_symlink(e) ? ", symlink" : "");
	if (!pull_path_safe(path, strlen(path)))
		return fail(x, PULL_EXTRACT_BAD,
			    "entry '%s' has an unsafe path (absolute, '..', '.' or empty part)",
			    path);
	if (archive_entry_sparse_count(e) > 0 || archive_entry_is_encrypted(e))
		return fail(x, PULL_EXTRACT_BAD, "entry '%s' is sparse or encrypted", path);
	if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
		return fail(x, PULL_EXTRACT_BAD, "entry '%s' has no size", path);
	return PULL_EXTRACT_OK;
}

static struct seen_file *add_seen(struct extract *x, const char *path)
{
	struct seen_file *f;

	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 32;

		f = realloc(x->files, cap * sizeof(*f));
		if (!f)
			return NULL;
		x->files = f;
		x->cap = cap;
	}
	f = &x->files[x->n];
	memset(f, 0, sizeof(*f));
	f->len = strlen(path);
	f->path = strdup(path);
	if (!f->path)
		return NULL;
	x->n++;
	return f;
}

/* A fresh entry for the writer: only the name, the type, 0644 and the
 * size; owner, ACLs, xattrs and flags from the archive are not restored. */
static struct archive_entry *clean_entry(const char *path, int64_t size)
{
	struct archive_entry *o = archive_entry_new();

	if (!o)
		return NULL;
	archive_entry_copy_pathname(o, path);
	archive_entry_set_filetype(o, AE_IFREG);
	archive_entry_set_perm(o, 0644);
	archive_entry_set_size(o, size);
	return o;
}

static enum pull_extract_result write_header(struct extract *x, const char *path, int64_t size)
{
	struct archive_entry *o = clean_entry(path, size);
	int rc, e;

	if (!o)
		return fail(x, PULL_EXTRACT_IO, "out of memory");
	rc = archive_write_header(x->out, o);
	archive_entry_free(o);
	if (rc == ARCHIVE_OK)
		return PULL_EXTRACT_OK;
	/* The secure flags and NO_OVERWRITE refuse without a system errno
	 * (or with EEXIST: a duplicate entry); anything else is local. */
	e = archive_errno(x->out);
	if (e == 0 || e == EEXIST || e == -1 /* ARCHIVE_ERRNO_MISC */)
		return fail(x, PULL_EXTRACT_BAD, "entry '%s' refused: %s", path,
			    aerr(x->out));
	return fail(x, PULL_EXTRACT_IO, "cannot create '%s': %s", path,
		    aerr(x->out));
}

/* Would `more` bytes beyond what is already extracted break a cap? */
static enum pull_extract_result check_limits(struct extract *x, const char *path, uint64_t more)
{
	const char *which;
	uint64_t would;

	if (!x->lim)
		return PULL_EXTRACT_OK;
	would = x->bytes + more < x->bytes ? UINT64_MAX : x->bytes + more;
	which = pull_limits_exceeded(x->lim, x->compressed, would);
	if (!which)
		return PULL_EXTRACT_OK;
	return fail(x, PULL_EXTRACT_LIMIT,
		    "extracting '%s' would exceed %s (%llu bytes from %llu compressed; limits: "
		    "%llu per bundle, %llu per pull with %llu used, ratio %llu)", path, which,
		    (unsigned long long)would, (unsigned long long)x->compressed,
		    (unsigned long long)x->lim->max_bundle_bytes,
		    (unsigned long long)x->lim->max_total_bytes,
		    (unsigned long long)x->lim->used_total,
		    (unsigned long long)x->lim->max_ratio);
}

static enum pull_extract_result copy_data(struct extract *x, const char *path,
					  struct seen_file *f)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	enum pull_extract_result r = PULL_EXTRACT_OK;
	const void *buf;
	size_t len;
	la_int64_t off;
	int rc;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return fail(x, PULL_EXTRACT_IO, "cannot initialise SHA-256");
	}
	while ((rc = archive_read_data_block(x->in, &buf, &len, &off)) == ARCHIVE_OK) {
		/* Contiguous data only (sparse entries were refused): the hash
		 * covers exactly the bytes written. */
		if ((uint64_t)off != f->size) {
			r = fail(x, PULL_EXTRACT_BAD, "entry '%s' has a hole in its data", path);
			break;
		}
		/* Before the write: a bomb stops at the cap, not after it. */
		r = check_limits(x, path, f->size + len);
		if (r != PULL_EXTRACT_OK)
			break;
		if (EVP_DigestUpdate(ctx, buf, len) != 1) {
			r = fail(x, PULL_EXTRACT_IO, "SHA-256 failed");
			break;
		}
		if (archive_write_data_block(x->out, buf, len, off) < ARCHIVE_OK) {
			r = fail(x, PULL_EXTRACT_IO, "cannot write '%s': %s", path,
				 aerr(x->out));
			break;
		}
		f->size += len;
	}
	if (r == PULL_EXTRACT_OK && rc != ARCHIVE_EOF)
		r = fail(x, PULL_EXTRACT_BAD, "bundle data unreadable in '%s': %s", path,
			 aerr(x->in));
	if (r == PULL_EXTRACT_OK && EVP_DigestFinal_ex(ctx, md, NULL) != 1)
		r = fail(x, PULL_EXTRACT_IO, "SHA-256 failed");
	EVP_MD_CTX_free(ctx);
	if (r != PULL_EXTRACT_OK)
		return r;
	hex(md, f->sha256);
	x->bytes += f->size;
	if (archive_write_finish_entry(x->out) < ARCHIVE_OK)
		return fail(x, PULL_EXTRACT_IO, "cannot finish '%s': %s", path,
			    aerr(x->out));
	return PULL_EXTRACT_OK;
}

static enum pull_extract_result extract_file(struct extract *x, struct archive_entry *e,
					     const char *path)
{
	enum pull_extract_result r = check_entry(x, e, path);
	struct seen_file *f;

	if (r != PULL_EXTRACT_OK)
		return r;
	/* The header's size is only a claim (the data is what counts), but a
	 * claim beyond the cap is refused before anything is written. */
	r = check_limits(x, path, (uint64_t)archive_entry_size(e));
	if (r != PULL_EXTRACT_OK)
		return r;
	f = add_seen(x, path);
	if (!f)
		return fail(x, PULL_EXTRACT_IO, "out of memory");
	r = write_header(x, path, archive_entry_size(e));
	if (r != PULL_EXTRACT_OK)
		return r;
	return copy_data(x, path, f);
}

static enum pull_extract_result read_manifest(struct extract *x, struct archive_entry *e)
{
	int64_t size = archive_entry_size(e);
	la_ssize_t n;

	if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
	    !archive_entry_size_is_set(e) || size <= 0 || (uint64_t)size > MANIFEST_MAX)
		return fail(x, PULL_EXTRACT_BAD, "%s is not a regular file of a sane size",
			    MANIFEST_ENTRY_NAME);
	x->manifest = malloc((size_t)size + 1);
	if (!x->manifest)
		return fail(x, PULL_EXTRACT_IO, "out of memory");
	while (x->manifest_len < (size_t)size) {
		n = archive_read_data(x->in, x->manifest + x->manifest_len,
				      (size_t)size - x->manifest_len);
		if (n <= 0)
			return fail(x, PULL_EXTRACT_BAD, "%s unreadable: %s", MANIFEST_ENTRY_NAME,
				    n < 0 ? aerr(x->in) : "truncated");
		x->manifest_len += (size_t)n;
	}
	x->manifest[x->manifest_len] = '\0';
	return PULL_EXTRACT_OK;
}

/* Walk the archive: data files to disk, the manifest (which must come
 * last) to memory. */
static enum pull_extract_result read_entries(struct extract *x)
{
	struct archive_entry *e;
	enum pull_extract_result r;
	const char *path;
	int rc;

	for (;;) {
		rc = archive_read_next_header(x->in, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN)
			return fail(x, PULL_EXTRACT_BAD, "bundle unreadable: %s",
				    aerr(x->in));
		path = archive_entry_pathname(e);
		if (!path)
			return fail(x, PULL_EXTRACT_BAD, "an entry has no usable name");
		if (x->manifest)
			return fail(x, PULL_EXTRACT_BAD, "entry '%s' follows %s (it must be last)",
				    path, MANIFEST_ENTRY_NAME);
		if (strcmp(path, MANIFEST_ENTRY_NAME) == 0)
			r = read_manifest(x, e);
		else
			r = extract_file(x, e, path);
		if (r != PULL_EXTRACT_OK)
			return r;
	}
	if (!x->manifest)
		return fail(x, PULL_EXTRACT_BAD,
			    "no %s: the bundle is truncated or not a covship bundle",
			    MANIFEST_ENTRY_NAME);
	return PULL_EXTRACT_OK;
}

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int cmp_seen(const void *a, const void *b)
{
	const struct seen_file *x = a, *y = b;

	return cmp_bytes(x->path, x->len, y->path, y->len);
}

static int cmp_mfile(const void *a, const void *b)
{
	const struct manifest_file *x = a, *y = b;

	return cmp_bytes(x->path, x->path_len, y->path, y->path_len);
}

/* Both lists sorted by raw path bytes, then walked side by side: every
 * entry listed, every listed file present, sizes and hashes equal. */
static enum pull_extract_result verify(struct extract *x, struct manifest *m)
{
	size_t i = 0, j = 0;
	int c;

	qsort(x->files, x->n, sizeof(*x->files), cmp_seen);
	qsort(m->files, m->nfiles, sizeof(*m->files), cmp_mfile);
	for (i = 1; i < m->nfiles; i++)
		if (!cmp_mfile(&m->files[i - 1], &m->files[i]))
			return fail(x, PULL_EXTRACT_BAD, "manifest lists '%s' twice",
				    m->files[i].path);
	for (i = 0; i < x->n || j < m->nfiles;) {
		if (i == x->n)
			return fail(x, PULL_EXTRACT_BAD, "'%s' is in the manifest but not in the bundle",
				    m->files[j].path);
		if (j == m->nfiles)
			return fail(x, PULL_EXTRACT_BAD, "entry '%s' is not in the manifest",
				    x->files[i].path);
		c = cmp_bytes(x->files[i].path, x->files[i].len, m->files[j].path,
			      m->files[j].path_len);
		if (c < 0)
			return fail(x, PULL_EXTRACT_BAD, "entry '%s' is not in the manifest",
				    x->files[i].path);
		if (c > 0)
			return fail(x, PULL_EXTRACT_BAD, "'%s' is in the manifest but not in the bundle",
				    m->files[j].path);
		if (x->files[i].size != m->files[j].size ||
		    strcmp(x->files[i].sha256, m->files[j].sha256) != 0)
			return fail(x, PULL_EXTRACT_BAD,
				    "'%s' does not match the manifest (sha256 %s, expected %s)",
				    x->files[i].path, x->files[i].sha256, m->files[j].sha256);
		i++;
		j++;
	}
	return PULL_EXTRACT_OK;
}

static void read_format(const char *json, size_t len, char out[16])
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");

	out[0] = '\0';
	if (cJSON_IsString(f) && strlen(f->valuestring) < 16)
		strcpy(out, f->valuestring);
	cJSON_Delete(root);
}

static enum pull_extract_result keep_manifest(struct extract *x, int staging_fd)
{
	int fd = openat(staging_fd, MANIFEST_ENTRY_NAME,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	size_t done = 0;
	ssize_t n;

	if (fd < 0)
		return fail(x, PULL_EXTRACT_IO, "cannot write %s: %s", MANIFEST_ENTRY_NAME,
			    strerror(errno));
	while (done < x->manifest_len) {
		n = write(fd, x->manifest + done, x->manifest_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return fail(x, PULL_EXTRACT_IO, "cannot write %s: %s",
				    MANIFEST_ENTRY_NAME, strerror(n < 0 ? errno : EIO));
		}
		done += (size_t)n;
	}
	if (close(fd) < 0)
		return fail(x, PULL_EXTRACT_IO, "cannot write %s: %s", MANIFEST_ENTRY_NAME,
			    strerror(errno));
	return PULL_EXTRACT_OK;
}

static enum pull_extract_result finish(struct extract *x, int staging_fd,
				       struct pull_extracted *out)
{
	enum pull_extract_result r;

	if (manifest_parse(x->manifest, x->manifest_len, &out->m, x->err, x->errlen) < 0)
		return PULL_EXTRACT_BAD;
	r = verify(x, &out->m);
	if (r == PULL_EXTRACT_OK)
		r = keep_manifest(x, staging_fd);
	if (r != PULL_EXTRACT_OK) {
		manifest_free(&out->m);
		return r;
	}
	read_format(x->manifest, x->manifest_len, out->format);
	out->bytes = x->bytes;
	return PULL_EXTRACT_OK;
}

static void cleanup(struct extract *x)
{
	size_t i;

	if (x->in)
		archive_read_free(x->in);
	if (x->out)
		archive_write_free(x->out);
	for (i = 0; i < x->n; i++)
		free(x->files[i].path);
	free(x->files);
	free(x->manifest);
}

enum pull_extract_result pull_extract(int fd, int staging_fd, struct pull_extracted *out,
				      char *err, size_t errlen)
{
	return pull_extract_limited(fd, staging_fd, NULL, out, err, errlen);
}

enum pull_extract_result pull_extract_limited(int fd, int staging_fd,
					      const struct pull_limits *lim,
					      struct pull_extracted *out, char *err,
					      size_t errlen)
{
	struct extract x = { .err = err, .errlen = errlen, .lim = lim };
	enum pull_extract_result r;
	struct stat st;
	int cwd;

	memset(out, 0, sizeof(*out));
	if (lim) {
		if (fstat(fd, &st) < 0)
			return fail(&x, PULL_EXTRACT_IO, "cannot stat the download: %s",
				    strerror(errno));
		x.compressed = (uint64_t)st.st_size;
	}
	/* libarchive's disk writer resolves entry names against the working
	 * directory, and SECURE_NOABSOLUTEPATHS forbids prefixing them with
	 * the staging path: so work from inside the staging directory. pull
	 * is single-threaded and restores the directory before returning. */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return fail(&x, PULL_EXTRACT_IO, "cannot open the working directory: %s",
			    strerror(errno));
	if (fchdir(staging_fd) < 0) {
		r = fail(&x, PULL_EXTRACT_IO, "cannot enter the staging directory: %s",
			 strerror(errno));
		close(cwd);
		return r;
	}
	if (open_archives(&x, fd) < 0)
		r = fail(&x, PULL_EXTRACT_BAD, "not a readable bundle: %s",
			 x.in ? aerr(x.in) : "out of memory");
	else
		r = read_entries(&x);
	if (r == PULL_EXTRACT_OK)
		r = finish(&x, staging_fd, out);
	if (fchdir(cwd) < 0) {
		log_error("cannot return to the working directory: %s", strerror(errno));
		if (r == PULL_EXTRACT_OK)
			manifest_free(&out->m);
		r = fail(&x, PULL_EXTRACT_IO, "cannot return to the working directory");
	}
	close(cwd);
	cleanup(&x);
	return r;
}
