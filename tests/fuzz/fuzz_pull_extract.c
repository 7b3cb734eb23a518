/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: `covship pull`'s extract-and-verify of one bundle. The input is
 * the archive (whatever an S3 object may hold); it is extracted into a
 * scratch staging directory that is emptied after every input. Anything it
 * writes outside that directory would be a path escape: the harness aborts
 * when its parent gains an entry.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pull_extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scratch dirs, made once per fuzzing process and reused for every input. */
static char parent[64];
static char staging[96];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);

/* At exit (libFuzzer exits normally after -max_total_time or -runs). */
static void teardown(void)
{
	(void)nftw(parent, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	strcpy(parent, "/tmp/covship-fuzz-pull.XXXXXX");
	if (!mkdtemp(parent))
		abort();
	snprintf(staging, sizeof(staging), "%s/staging", parent);
	log_set_level(LOG_LEVEL_ERROR);
	atexit(teardown);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pull_extracted out;
	char err[512];
	int fd, sfd;

	if (!parent[0])
		setup();
	if (mkdir(staging, 0700))
		abort();
	fd = memfd_create("bundle", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || lseek(fd, 0, SEEK_SET))
		abort();
	sfd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		abort();
	memset(&out, 0, sizeof(out));
	if (pull_extract(fd, sfd, &out, err, sizeof(err)) == PULL_EXTRACT_OK)
		manifest_free(&out.m);
	close(sfd);
	close(fd);
	if (entries(parent) != 1)
		abort(); /* something was written next to the staging dir */
	if (nftw(staging, rm_one, 16, FTW_DEPTH | FTW_PHYS))
		abort();
	return 0;
}
