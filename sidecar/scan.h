/* SPDX-License-Identifier: MIT */
/*
 * Walk the coverage directory (never following a symlink) and list the
 * regular files the matcher accepts. Symlinks, FIFOs, sockets and devices
 * with a matching name are skipped with one warning each.
 */
#ifndef COVSHIP_SCAN_H
#define COVSHIP_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fsutil.h"
#include "matcher.h"

#define SCAN_MARKER_DIR ".covship"
/* The default spool, DIR/.covship-spool (options.c): on the watched volume,
 * so it survives a restart of the sidecar container alone and needs no
 * writable root file system. Never bundled, whoever's spool it is. */
#define SCAN_SPOOL_DIR ".covship-spool"

struct scan_file {
	char *path; /* relative to the coverage directory */
	struct file_id id;
};

struct filelist {
	struct scan_file *v;
	size_t n, cap;
};

struct scanner {
	int rootfd;
	const struct matcher *matcher;
	dev_t skip_dev; /* the spool, when it lives inside the volume */
	ino_t skip_ino;
	char **warned; /* names already warned about, so a rescan stays quiet */
	size_t nwarned;
};

int filelist_add(struct filelist *l, const char *path, const struct file_id *id);
void filelist_free(struct filelist *l);

/* Returns 0 or -errno (the root could not be read). Unreadable
 * sub-directories are logged and skipped. */
int scan_tree(struct scanner *s, struct filelist *out);
void scanner_free(struct scanner *s);

#endif
