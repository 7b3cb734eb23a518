/* SPDX-License-Identifier: MIT */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "keytemplate.h"
#include "log.h"
#include "matcher.h"
#include "scan.h"

enum {
	OPT_DIR = 'd',
	OPT_DEST = 'D',
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
	OPT_QUIET = 'q',
	OPT_SPOOL = 0x100,
	OPT_FORMAT,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_KEY_TEMPLATE,
	OPT_COMPRESSION,
	OPT_LEVEL,
	OPT_SNAPSHOT,
	OPT_SETTLE,
	OPT_DRAIN,
	OPT_RETRY_MAX,
	OPT_KEEP,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_ENDPOINT,
	OPT_REGION,
	OPT_CA_BUNDLE,
	OPT_INSECURE,
	OPT_PATH_STYLE,
	OPT_NO_IDLE_EXEC,
	OPT_BUILD,
};

/* Which subcommands take an option: an option a command's --help does not
 * list is rejected on its command line rather than silently ignored, and its
 * environment variable (shared by every command in the container) skipped. */
#define FOR_WATCH (1u << OPTIONS_WATCH)
#define FOR_PUSH (1u << OPTIONS_PUSH)
#define FOR_HEALTH (1u << OPTIONS_HEALTH)
#define FOR_BUNDLING (FOR_WATCH | FOR_PUSH)
#define FOR_ALL (FOR_WATCH | FOR_PUSH | FOR_HEALTH)

/* One row per option: its long name, its environment variable, whether
 * it takes a value, and the commands that take it. Both parsers (env and
 * argv) walk this table. */
struct optdef {
	const char *name;
	const char *env;
	int id;
	bool has_arg;
	unsigned int cmds;
};

static const struct optdef optdefs[] = {
	/* health: only to find the default spool, DIR/.covship-spool */
	{ "dir", "COVSHIP_DIR", OPT_DIR, true, FOR_ALL },
	{ "dest", "COVSHIP_DEST", OPT_DEST, true, FOR_BUNDLING },
	{ "spool", "COVSHIP_SPOOL", OPT_SPOOL, true, FOR_ALL },
	{ "format", "COVSHIP_FORMAT", OPT_FORMAT, true, FOR_BUNDLING },
	{ "include", "COVSHIP_INCLUDE", OPT_INCLUDE, true, FOR_BUNDLING },
	{ "exclude", "COVSHIP_EXCLUDE", OPT_EXCLUDE, true, FOR_BUNDLING },
	{ "key-template", "COVSHIP_KEY_TEMPLATE", OPT_KEY_TEMPLATE, true, FOR_BUNDLING },
	{ "compression", "COVSHIP_COMPRESSION", OPT_COMPRESSION, true, FOR_BUNDLING },
	{ "compression-level", "COVSHIP_COMPRESSION_LEVEL", OPT_LEVEL, true, FOR_BUNDLING },
	{ "snapshot-interval", "COVSHIP_SNAPSHOT_INTERVAL", OPT_SNAPSHOT, true, FOR_WATCH },
	{ "settle", "COVSHIP_SETTLE", OPT_SETTLE, true, FOR_WATCH },
	{ "drain-timeout", "COVSHIP_DRAIN_TIMEOUT", OPT_DRAIN, true, FOR_WATCH },
	{ "retry-max", "COVSHIP_RETRY_MAX", OPT_RETRY_MAX, true, FOR_WATCH },
	{ "no-idle-exec", "COVSHIP_NO_IDLE_EXEC", OPT_NO_IDLE_EXEC, false, FOR_WATCH },
	{ "keep-sources", "COVSHIP_KEEP_SOURCES", OPT_KEEP, false, FOR_BUNDLING },
	{ "log-level", "COVSHIP_LOG_LEVEL", OPT_LOG_LEVEL, true, FOR_ALL },
	{ "log-format", "COVSHIP_LOG_FORMAT", OPT_LOG_FORMAT, true, FOR_ALL },
	{ "verbose", NULL, OPT_VERBOSE, false, FOR_ALL },
	{ "quiet", NULL, OPT_QUIET, false, FOR_ALL },
	{ "endpoint", "COVSHIP_ENDPOINT", OPT_ENDPOINT, true, FOR_BUNDLING },
	{ "region", "COVSHIP_REGION", OPT_REGION, true, FOR_BUNDLING },
	{ "ca-bundle", "COVSHIP_CA_BUNDLE", OPT_CA_BUNDLE, true, FOR_BUNDLING },
	{ "insecure", "COVSHIP_INSECURE", OPT_INSECURE, false, FOR_BUNDLING },
	{ "path-style", "COVSHIP_PATH_STYLE", OPT_PATH_STYLE, false, FOR_BUNDLING },
	{ "help", NULL, OPT_HELP, false, FOR_ALL },
	{ "build", "COVSHIP_BUILD", OPT_BUILD, true, FOR_BUNDLING },
};

#define NOPTS (sizeof(optdefs) / sizeof(optdefs[0]))

static const char *opt_name(int id)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (optdefs[i].id == id)
			return optdefs[i].name;
	return "?";
}

static int parse_uint(int id, const char *v, unsigned max, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n > max) {
		log_error("--%s: '%s' is not a whole number of 0..%u; fix the option or its "
			  "COVSHIP_ variable", opt_name(id), v, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int parse_bool(int id, const char *v, bool *out)
{
	if (!v || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!*v || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	log_error("--%s: '%s' is not a boolean (use 1/0, true/false, yes/no)", opt_name(id), v);
	return -1;
}

static int add_glob(const char **list, size_t *n, int id, const char *g)
{
	if (*n >= OPTIONS_MAX_GLOBS) {
		log_error("--%s: at most %d patterns", opt_name(id), OPTIONS_MAX_GLOBS);
		return -1;
	}
	if (!*g) {
		log_error("--%s: empty pattern", opt_name(id));
		return -1;
	}
	list[(*n)++] = g;
	return 0;
}

/* The environment form of --include/--exclude holds several patterns
 * separated by commas. */
static int add_glob_list(struct options *o, int id, const char *v)
{
	int slot = id == OPT_INCLUDE ? 0 : 1;
	char *save = NULL, *tok;

	free(o->env_globs[slot]);
	o->env_globs[slot] = strdup(v);
	if (!o->env_globs[slot]) {
		log_error("out of memory");
		return -1;
	}
	for (tok = strtok_r(o->env_globs[slot], ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (id == OPT_INCLUDE ? add_glob(o->include, &o->ninclude, id, tok) :
					add_glob(o->exclude, &o->nexclude, id, tok))
			return -1;
	}
	return 0;
}

static int apply_compression(struct options *o, const char *v)
{
	if (!strcmp(v, "gzip")) {
		o->compression = COMPRESSION_GZIP;
		return 0;
	}
	if (!strcmp(v, "zstd")) {
		o->compression = COMPRESSION_ZSTD;
		return 0;
	}
	log_error("--compression: unknown '%s' (use gzip or zstd)", v);
	return -1;
}

static int apply(struct options *o, int id, const char *v, bool from_env)
{
	unsigned n;

	switch (id) {
	case OPT_DIR: o->dir = v; return 0;
	case OPT_DEST: o->dest = v; return 0;
	case OPT_SPOOL: o->spool = v; return 0;
	case OPT_FORMAT: o->format = v; return 0;
	case OPT_INCLUDE:
		return from_env ? add_glob_list(o, id, v) : add_glob(o->include, &o->ninclude, id, v);
	case OPT_EXCLUDE:
		return from_env ? add_glob_list(o, id, v) : add_glob(o->exclude, &o->nexclude, id, v);
	case OPT_KEY_TEMPLATE: o->key_template = v; return 0;
	case OPT_COMPRESSION: return apply_compression(o, v);
	case OPT_LEVEL:
		if (parse_uint(id, v, 22, &n))
			return -1;
		o->level = (int)n;
		return 0;
	case OPT_SNAPSHOT: return parse_uint(id, v, 86400 * 7, &o->snapshot_interval);
	case OPT_SETTLE: return parse_uint(id, v, 86400, &o->settle);
	case OPT_DRAIN: return parse_uint(id, v, 86400, &o->drain_timeout);
	case OPT_RETRY_MAX: return parse_uint(id, v, 86400, &o->retry_max);
	case OPT_KEEP: return parse_bool(id, v, &o->keep_sources);
	case OPT_NO_IDLE_EXEC: return parse_bool(id, v, &o->no_idle_exec);
	case OPT_LOG_LEVEL: o->log_level = v; return 0;
	case OPT_LOG_FORMAT: return log_format_option(v);
	case OPT_VERBOSE: o->log_level = "debug"; return 0;
	case OPT_QUIET: o->log_level = "warning"; return 0;
	case OPT_ENDPOINT: o->dest_opts.s3.endpoint = v; return 0;
	case OPT_REGION: o->dest_opts.s3.region = v; return 0;
	case OPT_CA_BUNDLE: o->dest_opts.s3.ca_bundle = v; return 0;
	case OPT_INSECURE: return parse_bool(id, v, &o->dest_opts.s3.insecure);
	case OPT_PATH_STYLE: return parse_bool(id, v, &o->dest_opts.s3.path_style);
	case OPT_BUILD: o->build = v; return 0;
	}
	return -1;
}

static void defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->spool = NULL; /* default_spool(): DIR/.covship-spool */
	o->format = "python";
	o->key_template = OPTIONS_DEFAULT_KEY_TEMPLATE;
	o->compression = COMPRESSION_GZIP;
	o->level = -1;
	o->settle = 10;
	o->drain_timeout = 60;
	o->retry_max = 60;
}

static bool takes(enum options_cmd cmd, const struct optdef *d)
{
	return d->cmds & (1u << cmd);
}

static int from_environment(enum options_cmd cmd, struct options *o)
{
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		const char *v = optdefs[i].env && takes(cmd, &optdefs[i]) ?
					getenv(optdefs[i].env) : NULL;

		if (!v || (!*v && optdefs[i].has_arg))
			continue;
		if (apply(o, optdefs[i].id, v, true) < 0)
			return -1;
	}
	return 0;
}

static int from_argv(enum options_cmd cmd, struct options *o, int argc, char **argv,
		     bool *help)
{
	struct option lopts[NOPTS + 1];
	size_t i, n = 0;
	int c;

	memset(lopts, 0, sizeof(lopts));
	for (i = 0; i < NOPTS; i++) {
		if (!takes(cmd, &optdefs[i]))
			continue;
		lopts[n].name = optdefs[i].name;
		lopts[n].has_arg = optdefs[i].has_arg ? required_argument : no_argument;
		lopts[n].val = optdefs[i].id;
		n++;
	}
	/* 0, not 1: makes glibc reinitialise getopt, so a second parse (tests,
	 * fuzzers) does not resume from the previous argv's state. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, cmd == OPTIONS_HEALTH ? "+d:hvq" : "+d:D:hvq",
				lopts, NULL)) != -1) {
		if (c == OPT_HELP) {
			*help = true;
			return 0;
		}
		if (c == '?' || c == ':') {
			log_error("%s: unknown option or missing value '%s'; see 'covship %s --help'",
				  argv[0], argv[optind - 1], argv[0]);
			return -1;
		}
		if (apply(o, c, optarg, false) < 0)
			return -1;
	}
	if (optind < argc) {
		log_error("%s: unexpected argument '%s'; see 'covship %s --help'", argv[0],
			  argv[optind], argv[0]);
		return -1;
	}
	return 0;
}

static int check_log_level(const char *v)
{
	enum log_level level;

	if (log_level_from_name(v, &level) < 0) {
		log_error("--log-level: unknown '%s' (use error, warning, info or debug)", v);
		return -1;
	}
	log_set_level(level);
	return 0;
}

/* Without --spool, the spool is DIR/.covship-spool: on the volume, so it
 * outlives a restart of the sidecar container alone and needs no writable
 * root file system (ECS readonlyRootFilesystem). Left NULL without --dir
 * (validate() says what is missing). Returns 0, or -1 out of memory. */
static int default_spool(struct options *o)
{
	size_t n;

	if (o->spool || !o->dir || !*o->dir)
		return 0;
	n = strlen(o->dir);
	o->spool_buf = malloc(n + sizeof("/" SCAN_SPOOL_DIR));
	if (!o->spool_buf) {
		log_error("out of memory");
		return -1;
	}
	/* "DIR/" gives "DIR/.covship-spool", not "DIR//.covship-spool" */
	snprintf(o->spool_buf, n + sizeof("/" SCAN_SPOOL_DIR), "%s%s" SCAN_SPOOL_DIR, o->dir,
		 o->dir[n - 1] == '/' ? "" : "/");
	o->spool = o->spool_buf;
	return 0;
}

/* The build id ({build}) breaks no rule of keytemplate_build_id(): checked
 * here so a bad one stops the sidecar at start-up (exit 2), not at its
 * first delivery, when the coverage is already waiting. */
static int check_build(const struct options *o)
{
	const char *b = o->build ? o->build : getenv("BUILD_TAG");
	char id[KEYTEMPLATE_BUILD_MAX + 1], err[256];

	if (!o->build && (!b || !*b))
		return 0; /* no build: {build} is "nobuild" */
	if (keytemplate_build_id(b, id, sizeof(id), err, sizeof(err)) < 0) {
		log_error("--build (or COVSHIP_BUILD, else BUILD_TAG): %s", err);
		return -1;
	}
	return 0;
}

static int validate(enum options_cmd cmd, struct options *o)
{
	if (o->log_level && check_log_level(o->log_level) < 0)
		return -1;
	if (cmd == OPTIONS_HEALTH) {
		if (o->spool && *o->spool)
			return 0;
		log_error("health: pass --dir DIR (or COVSHIP_DIR), whose spool is DIR/%s, or the "
			  "watcher's --spool DIR (or COVSHIP_SPOOL)", SCAN_SPOOL_DIR);
		return -1;
	}
	if (!o->dir || !*o->dir) {
		log_error("missing --dir DIR (or COVSHIP_DIR): the coverage directory to watch");
		return -1;
	}
	if (!o->dest || !*o->dest) {
		log_error("missing --dest URL (or COVSHIP_DEST), e.g. file:///srv/coverage or "
			  "s3://bucket/prefix");
		return -1;
	}
	if (!matcher_preset_known(o->format)) {
		log_error("--format: unknown '%s' (use python, go, llvm, gcov or v8)", o->format);
		return -1;
	}
	if (!o->spool || !*o->spool) {
		log_error("--spool: empty path");
		return -1;
	}
	if (o->compression == COMPRESSION_GZIP && o->level > 9) {
		log_error("--compression-level: gzip takes 1..9");
		return -1;
	}
	return check_build(o);
}

enum options_result options_parse(enum options_cmd cmd, int argc, char **argv, struct options *o)
{
	bool help = false;

	defaults(o);
	if (from_environment(cmd, o) < 0 || from_argv(cmd, o, argc, argv, &help) < 0)
		return OPTIONS_ERROR;
	if (help) {
		options_usage(cmd, stdout);
		return OPTIONS_EXIT_OK;
	}
	if (default_spool(o) < 0)
		return OPTIONS_ERROR;
	o->dest_opts.spool_dir = o->spool;
	return validate(cmd, o) < 0 ? OPTIONS_ERROR : OPTIONS_OK;
}

void options_free(struct options *o)
{
	free(o->env_globs[0]);
	free(o->env_globs[1]);
	o->env_globs[0] = o->env_globs[1] = NULL;
	if (o->spool == o->spool_buf)
		o->spool = NULL;
	free(o->spool_buf);
	o->spool_buf = NULL;
}

int options_load(enum options_cmd cmd, int argc, char **argv, struct options *o)
{
	switch (options_parse(cmd, argc, argv, o)) {
	case OPTIONS_OK:
		return -1;
	case OPTIONS_EXIT_OK:
		options_free(o);
		return 0;
	case OPTIONS_ERROR:
		break;
	}
	options_free(o);
	return 2;
}

static const char usage_common[] =
	"  -d, --dir DIR            coverage directory (shared volume)        [COVSHIP_DIR]\n"
	"  -D, --dest URL           file:///path or s3://bucket/prefix        [COVSHIP_DEST]\n"
	"      --spool DIR          spool for bundles not yet delivered       [COVSHIP_SPOOL]\n"
	"                           (default DIR/" SCAN_SPOOL_DIR ", never bundled; created 0700)\n"
	"      --format NAME        python|go|llvm|gcov|v8 (default python)   [COVSHIP_FORMAT]\n"
	"      --include GLOB       also bundle matching files (repeatable)   [COVSHIP_INCLUDE, comma list]\n"
	"      --exclude GLOB       never bundle matching files (repeatable)  [COVSHIP_EXCLUDE, comma list]\n"
	"                           a GLOB with '/' matches the path relative to DIR, else the name\n"
	"      --key-template T     object key (default " OPTIONS_DEFAULT_KEY_TEMPLATE ")    [COVSHIP_KEY_TEMPLATE]\n"
	"                           {run_id} {hostname} {task_id} {build} {date} {seq} {bundle};\n"
	"                           must hold {bundle}, or {run_id} and {seq}\n"
	"      --compression C      gzip (default) or zstd                    [COVSHIP_COMPRESSION]\n"
	"      --compression-level N  gzip 1..9, zstd 1..22                   [COVSHIP_COMPRESSION_LEVEL]\n"
	"      --keep-sources       never remove delivered source files       [COVSHIP_KEEP_SOURCES=1]\n"
	"      --build ID           the build id for {build} (default $BUILD_TAG); bytes outside\n"
	"                           [A-Za-z0-9._-] become '_', at most 512    [COVSHIP_BUILD]\n"
	"      --endpoint URL, --region R, --ca-bundle FILE, --insecure, --path-style\n"
	"                           S3 settings [COVSHIP_ENDPOINT, _REGION, _CA_BUNDLE, _INSECURE, _PATH_STYLE]\n"
	"      --log-level L        error|warning|info|debug (default info)   [COVSHIP_LOG_LEVEL]\n"
	"  -v, --verbose            same as --log-level debug\n"
	"  -q, --quiet              same as --log-level warning\n"
	"      --log-format F       text ('[covship] level: message', default) or json\n"
	"                           (one JSON object per line)                [COVSHIP_LOG_FORMAT]\n"
	"  -h, --help               this help\n";

static const char usage_watch[] =
	"      --snapshot-interval S  also bundle settled files every S seconds (0 = off, default)\n"
	"                           [COVSHIP_SNAPSHOT_INTERVAL]\n"
	"      --settle S           snapshot: a closed file unchanged for S seconds is final\n"
	"                           (default 10)                              [COVSHIP_SETTLE]\n"
	"      --drain-timeout S    after SIGTERM, wait at most S seconds for done.json\n"
	"                           (default 60)                              [COVSHIP_DRAIN_TIMEOUT]\n"
	"      --retry-max S        cap of the delivery retry backoff, 1 2 4 ... s (default 60)\n"
	"                                                                      [COVSHIP_RETRY_MAX]\n"
	"      --no-idle-exec       while idle, stay fully loaded instead of exec'ing the small\n"
	"                           covship-idle (same PID and lock, far less memory) [COVSHIP_NO_IDLE_EXEC=1]\n";

void options_usage(enum options_cmd cmd, FILE *out)
{
	switch (cmd) {
	case OPTIONS_WATCH:
		fputs("usage: covship watch --dir DIR --dest URL [options]\n"
		      "Watch DIR, bundle final coverage files, spool, deliver, remove sources.\n"
		      "Exit: 0 all delivered, 1 something left in the spool or undelivered, 2 bad configuration\n"
		      "(at start-up only: what fails later is retried, then exit 1).\n\n",
		      out);
		fputs(usage_common, out);
		fputs(usage_watch, out);
		break;
	case OPTIONS_PUSH:
		fputs("usage: covship push --dir DIR --dest URL [options]\n"
		      "Bundle every coverage file in DIR now and deliver it (after leftovers in the spool).\n"
		      "Exit: 0 delivered (or nothing to do), 1 something left in the spool, 2 bad configuration.\n\n",
		      out);
		fputs(usage_common, out);
		break;
	case OPTIONS_HEALTH:
		fputs("usage: covship health [--dir DIR | --spool DIR]\n"
		      "Exit 0 while the watcher using the spool is alive and its last delivery did not\n"
		      "fail permanently, 1 otherwise; 2 bad usage.\n\n"
		      "  -d, --dir DIR            the watcher's --dir: its spool is DIR/" SCAN_SPOOL_DIR "\n"
		      "                                                              [COVSHIP_DIR]\n"
		      "      --spool DIR          the watcher's spool, when it has one elsewhere\n"
		      "                                                              [COVSHIP_SPOOL]\n"
		      "      --log-level L        error|warning|info|debug (default info)   [COVSHIP_LOG_LEVEL]\n"
		      "  -v, --verbose            same as --log-level debug\n"
		      "  -q, --quiet              same as --log-level warning\n"
		      "      --log-format F       text (default) or json                    [COVSHIP_LOG_FORMAT]\n"
		      "  -h, --help               this help\n",
		      out);
		break;
	}
}
