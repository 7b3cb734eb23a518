/* SPDX-License-Identifier: MIT */
/*
 * Configuration of `covship watch` and `covship push`: every option is read
 * from its COVSHIP_* environment variable first, then from the command line
 * (which wins). See docs/sidecar.md for the table.
 */
#ifndef COVSHIP_OPTIONS_H
#define COVSHIP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "dest.h"

#define OPTIONS_MAX_GLOBS 32
#define OPTIONS_DEFAULT_KEY_TEMPLATE "{run_id}/{bundle}"

enum compression {
	COMPRESSION_GZIP,
	COMPRESSION_ZSTD,
};

enum options_cmd {
	OPTIONS_WATCH,
	OPTIONS_PUSH,
	OPTIONS_HEALTH,
};

struct options {
	const char *dir;
	const char *dest;
	const char *spool;
	const char *format;
	const char *include[OPTIONS_MAX_GLOBS];
	size_t ninclude;
	const char *exclude[OPTIONS_MAX_GLOBS];
	size_t nexclude;
	const char *key_template;
	enum compression compression;
	int level;                 /* compression level, -1 = library default */
	unsigned snapshot_interval; /* seconds, 0 = off */
	unsigned settle;           /* seconds */
	unsigned drain_timeout;    /* seconds */
	unsigned retry_max;        /* seconds, cap of the retry backoff */
	bool keep_sources;
	bool no_idle_exec;         /* watch: never hand over to covship-idle */
	const char *log_level;
	const char *build;         /* --build/COVSHIP_BUILD, NULL: BUILD_TAG (metadata.c) */
	struct dest_options dest_opts;
	char *env_globs[2]; /* owned copies of COVSHIP_INCLUDE/EXCLUDE, split in place */
	char *spool_buf;    /* owned: the default spool, DIR/SCAN_SPOOL_DIR (scan.h) */
};

enum options_result {
	OPTIONS_OK = 0,
	OPTIONS_EXIT_OK = 1,  /* --help printed */
	OPTIONS_ERROR = 2,    /* one line already logged: exit 2 */
};

/* argv[0] is the subcommand name. Environment strings and argv are
 * borrowed, not copied: they live as long as the process. */
enum options_result options_parse(enum options_cmd cmd, int argc, char **argv, struct options *o);
/* Free what options_parse() allocated (o's borrowed strings stay). */
void options_free(struct options *o);
/* options_parse() for a command's entry point: -1 when the command is to
 * run, else o is freed and the result is the exit status (0 after --help,
 * 2 after a configuration error). */
int options_load(enum options_cmd cmd, int argc, char **argv, struct options *o);
/* Print cmd's --help to out. */
void options_usage(enum options_cmd cmd, FILE *out);

#endif
