/* SPDX-License-Identifier: MIT */
/*
 * `covship pull`: the Jenkins side. List the bundles under a file:// or
 * s3:// URL, fetch them, verify every file against its manifest while
 * extracting, check that each run's flush was complete, and optionally
 * combine the coverage.py data into a Cobertura report whose paths point into
 * the workspace. The exit status names the first stage that failed
 * (docs/pull.md).
 */
#include "pull.h"
#include "pull_build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "pull_accounting.h"
#include "pull_collide.h"
#include "pull_combine.h"
#include "pull_delivery.h"
#include "pull_extract.h"
#include "pull_fs.h"
#include "pull_limits.h"
#include "pull_progress.h"
#include "pull_python.h"
#include "pull_source.h"
#include "s3.h"

enum {
	PULL_EXIT_OK = 0,
	PULL_EXIT_FAILED = 1,     /* listing, download, local I/O or coverage.py failed */
	PULL_EXIT_USAGE = 2,      /* bad command line or configuration */
	PULL_EXIT_CORRUPT = 3,    /* a bundle is corrupt, unsafe or fails its manifest */
	PULL_EXIT_INCOMPLETE = 4, /* a run's flush was incomplete (no --allow-incomplete) */
	PULL_EXIT_LOST = 5,       /* --combine: a data file could not be combined */
	PULL_EXIT_UNDER = 6,      /* --combine: total below fail_under (report written) */
	PULL_EXIT_LIMIT = 9,      /* a bundle broke a size limit (pull_limits.h) */
	PULL_EXIT_COLLISION = 10, /* two bundles, or a foreign directory, share an output dir */
};

/* Downloads are latency bound (radosgw, with Nagle on, answers about one GET
 * in three ~40 ms late): 32 at once pulled 500 bundles faster than 16 in 8 of
 * 10 runs of bench/pull/run (1.2x at the median), for ~0.5 MiB more peak RSS
 * (a libcurl handle and a connection each). */
#define DEFAULT_JOBS 32
#define MAX_JOBS 64
#define MAX_MAPS 64
#define FD_RESERVE 32 /* descriptors kept free for extraction, libcurl, coverage.py */

struct pull_opts {
	const char *url;
	const char *out;
	const char *xml;
	const char *python;
	bool combine;
	bool allow_incomplete;
	unsigned jobs;
	struct pull_map maps[MAX_MAPS];
	size_t nmaps;
	char *env_maps; /* owned copy of COVSHIP_PULL_MAP, split in place */
	struct s3_options s3; /* --endpoint, --region, ... for an s3:// source */
	struct pull_limits limits; /* --max-bundle-bytes, --max-total-bytes, --max-ratio */
	const char *build; /* --build/COVSHIP_BUILD: appended to url (pull_build.h) */
	char *build_url;   /* owned: url/<sanitised build>/ */
	const char *html, *junit, *summary; /* --html DIR, --junit FILE, --summary FILE */
	const char *rcfile;     /* --rcfile: the project's coverage configuration */
	const char *fail_under; /* --fail-under: a number 0..100, checked */
};

/* What a bundle's done marker says: kept instead of the marker itself, so
 * memory stays small however many bundles are pulled. */
struct marker_note {
	bool present;
	bool foreign;    /* the marker names another run */
	bool complete;   /* "status":"complete" */
	char status[40]; /* otherwise the status (cut) */
};

/* One fetched bundle and what became of it. */
struct pulled {
	char *relbase; /* output directory below --out: key minus its extension */
	bool ok;
	struct pull_extracted ex; /* ex.m.marker is NULL: see note */
	struct marker_note note;
};

struct pull_run {
	struct pull_opts *o;
	char out_abs[PATH_MAX];
	int out_fd;
	int work_fd;
	char work_name[64];
	char python[PATH_MAX]; /* the interpreter that runs coverage.py */
	struct pull_bundle_list list;
	struct pulled *pulled;
	size_t nfetch_failed, nbad, nio, nfiles;
	uint64_t bytes;
	struct pull_acct *acct; /* who was alive at stop and wrote no data */
	size_t nlimit; /* bundles refused at a size limit */
	struct pull_progress progress;
	struct pull_delivery *delivery; /* with --junit/--summary, else NULL */
};

static const char usage_text[] =
	"Usage: covship pull URL --out DIR [options]\n"
	"\n"
	"Fetch the coverage bundles under URL, verify every file against its manifest,\n"
	"extract them below DIR and, with --combine, merge the coverage.py data into a\n"
	"Cobertura report whose paths point into this workspace.\n"
	"\n"
	"  URL                        file:///dir or s3://bucket/prefix     [COVSHIP_PULL_URL]\n"
	"  -o, --out DIR              where bundles are extracted, DIR/<key without\n"
	"                             .tar.gz>/<files> (created)             [COVSHIP_PULL_OUT]\n"
	"  -c, --combine              coverage combine + coverage xml        [COVSHIP_PULL_COMBINE=1]\n"
	"  -m, --map SRC=DST          the sources recorded under SRC (in the container) are\n"
	"                             at DST here; repeatable, first match wins\n"
	"                             [COVSHIP_PULL_MAP, several separated by ';']\n"
	"  -x, --xml FILE             report to write (default DIR/coverage.xml) [COVSHIP_PULL_XML]\n"
	"      --python PATH          interpreter with coverage.py >= 6.3 (default\n"
	"                             $VIRTUAL_ENV/bin/python, else python3 on PATH, else\n"
	"                             /usr/bin/python3)                      [COVSHIP_PYTHON]\n"
	"      --allow-incomplete     warn instead of failing when a run's flush was\n"
	"                             incomplete (no marker, grace expired) [COVSHIP_ALLOW_INCOMPLETE=1]\n"
	"      --build ID             pull URL/<ID>/, ID sanitised as the sidecar's {build}:\n"
	"                             bytes outside [A-Za-z0-9._-] become '_' [COVSHIP_BUILD]\n"
	"  -j, --jobs N               parallel downloads, 1..64 (default 32; fewer when\n"
	"                             RLIMIT_NOFILE is low)                  [COVSHIP_PULL_JOBS]\n"
	"      --endpoint URL, --region R, --ca-bundle FILE, --insecure, --path-style\n"
	"                             S3 settings [COVSHIP_ENDPOINT, _REGION, _CA_BUNDLE,\n"
	"                             _INSECURE, _PATH_STYLE]; AWS_* variables as for watch\n"
	"      --log-level L          error|warning|info|debug (default info) [COVSHIP_LOG_LEVEL]\n"
	"      --max-bundle-bytes N   refuse a bundle extracting to more than N bytes (K, M,\n"
	"                             G, T suffixes; default 4G) [COVSHIP_PULL_MAX_BUNDLE_BYTES]\n"
	"      --max-total-bytes N    refuse bundles beyond N bytes extracted in this pull\n"
	"                             (default 64G)              [COVSHIP_PULL_MAX_TOTAL_BYTES]\n"
	"      --max-ratio R          refuse a bundle extracting to more than R times its\n"
	"                             compressed size (default 1000) [COVSHIP_PULL_MAX_RATIO]\n"
	"      --log-format F         text (default) or json     [COVSHIP_LOG_FORMAT]\n"
	"  -v, --verbose              same as --log-level debug\n"
	"  -q, --quiet                same as --log-level warning (no progress)\n"
	"      --version              print the version\n"
	"      --html DIR             coverage.py's HTML report of the combined data, same\n"
	"                             mapping (needs --combine)             [COVSHIP_PULL_HTML]\n"
	"      --junit FILE           delivery report as JUnit XML: one test case per task\n"
	"                             run, failing when its coverage is incomplete or a\n"
	"                             bundle is bad                         [COVSHIP_PULL_JUNIT]\n"
	"      --summary FILE         the same facts and totals as JSON     [COVSHIP_PULL_SUMMARY]\n"
	"  -h, --help                 this text\n"
	"      --rcfile FILE          the project's coverage.py configuration (default: the\n"
	"                             first of .coveragerc, setup.cfg, tox.ini, pyproject.toml\n"
	"                             in each --map DST, then here)          [COVSHIP_PULL_RCFILE]\n"
	"      --fail-under N         exit 6 when the total is below N percent (default the\n"
	"                             configuration's fail_under)           [COVSHIP_PULL_FAIL_UNDER]\n"
	"\n"
	"The combined data file is DIR/.coverage. Exit status: 0 ok; 1 listing, download,\n"
	"disk or coverage.py failure; 2 bad usage; 3 a bundle is corrupt or unsafe (nothing\n"
	"of it is extracted); 4 a run's flush was incomplete; 5 --combine could not use\n"
	"every data file; 6 the total is below fail_under (the report is written); 9 a\n"
	"bundle broke a size limit (nothing of it is extracted); 10 two bundles (or a\n"
	"directory not left by pull) share an output directory (nothing is downloaded).\n"
	"See docs/pull.md.\n";

enum {
	OPT_PYTHON = 256,
	OPT_ALLOW_INCOMPLETE,
	OPT_ENDPOINT,
	OPT_REGION,
	OPT_CA_BUNDLE,
	OPT_INSECURE,
	OPT_PATH_STYLE,
	OPT_LOG_LEVEL,
	OPT_MAX_BUNDLE_BYTES,
	OPT_MAX_TOTAL_BYTES,
	OPT_MAX_RATIO,
	OPT_LOG_FORMAT,
	OPT_VERSION,
	OPT_BUILD,
	OPT_HTML,
	OPT_JUNIT,
	OPT_SUMMARY,
	OPT_RCFILE,
	OPT_FAIL_UNDER,
};

static const struct option long_opts[] = {
	{ "out", required_argument, NULL, 'o' },
	{ "combine", no_argument, NULL, 'c' },
	{ "map", required_argument, NULL, 'm' },
	{ "xml", required_argument, NULL, 'x' },
	{ "python", required_argument, NULL, OPT_PYTHON },
	{ "allow-incomplete", no_argument, NULL, OPT_ALLOW_INCOMPLETE },
	{ "jobs", required_argument, NULL, 'j' },
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "ca-bundle", required_argument, NULL, OPT_CA_BUNDLE },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "path-style", no_argument, NULL, OPT_PATH_STYLE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, 'h' },
	{ "max-bundle-bytes", required_argument, NULL, OPT_MAX_BUNDLE_BYTES },
	{ "max-total-bytes", required_argument, NULL, OPT_MAX_TOTAL_BYTES },
	{ "max-ratio", required_argument, NULL, OPT_MAX_RATIO },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "build", required_argument, NULL, OPT_BUILD },
	{ "html", required_argument, NULL, OPT_HTML },
	{ "junit", required_argument, NULL, OPT_JUNIT },
	{ "summary", required_argument, NULL, OPT_SUMMARY },
	{ "rcfile", required_argument, NULL, OPT_RCFILE },
	{ "fail-under", required_argument, NULL, OPT_FAIL_UNDER },
	{ NULL, 0, NULL, 0 },
};

static int parse_bool(const char *name, const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!*v || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	log_error("%s: '%s' is not a boolean (use 1/0, true/false, yes/no)", name, v);
	return -1;
}

static int parse_jobs(const char *v, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < 1 || n > MAX_JOBS) {
		log_error("--jobs: '%s' is not a number of 1..%d; fix the option or "
			  "COVSHIP_PULL_JOBS", v, MAX_JOBS);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* coverage.py takes fail_under as a float percentage. */
static int parse_fail_under(const char *v, const char **out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !(d >= 0 && d <= 100)) {
		log_error("--fail-under: '%s' is not a percentage 0..100; fix the option or "
			  "COVSHIP_PULL_FAIL_UNDER", v);
		return -1;
	}
	*out = v;
	return 0;
}

static int set_log_level(const char *v)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	int i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(v, names[i])) {
			log_set_level((enum log_level)i);
			return 0;
		}
	}
	log_error("--log-level: unknown '%s' (use error, warning, info or debug)", v);
	return -1;
}

static int add_map(struct pull_opts *o, const char *arg)
{
	char err[PATH_MAX + 200];

	if (o->nmaps >= MAX_MAPS) {
		log_error("--map: at most %d mappings", MAX_MAPS);
		return -1;
	}
	if (pull_map_parse(arg, &o->maps[o->nmaps], err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	o->nmaps++;
	return 0;
}

static int env_bool(const char *name, bool *out)
{
	const char *v = getenv(name);

	return v ? parse_bool(name, v, out) : 0;
}

/* Environment first; the command line, parsed afterwards, wins. */
static int read_env(struct pull_opts *o)
{
	const char *v;
	char *tok, *save = NULL;

	o->url = getenv("COVSHIP_PULL_URL");
	o->out = getenv("COVSHIP_PULL_OUT");
	o->xml = getenv("COVSHIP_PULL_XML");
	o->s3.endpoint = getenv("COVSHIP_ENDPOINT");
	o->s3.region = getenv("COVSHIP_REGION");
	o->s3.ca_bundle = getenv("COVSHIP_CA_BUNDLE");
	if ((v = getenv("COVSHIP_BUILD")) && *v)
		o->build = v;
	o->html = getenv("COVSHIP_PULL_HTML");
	o->junit = getenv("COVSHIP_PULL_JUNIT");
	o->summary = getenv("COVSHIP_PULL_SUMMARY");
	if ((v = getenv("COVSHIP_PYTHON")) && *v)
		o->python = v;
	if ((v = getenv("COVSHIP_PULL_JOBS")) && parse_jobs(v, &o->jobs) < 0)
		return -1;
	if ((v = getenv("COVSHIP_PULL_RCFILE")) && *v)
		o->rcfile = v;
	if ((v = getenv("COVSHIP_PULL_FAIL_UNDER")) && *v &&
	    parse_fail_under(v, &o->fail_under) < 0)
		return -1;
	if ((v = getenv("COVSHIP_LOG_LEVEL")) && set_log_level(v) < 0)
		return -1;
	if (env_bool("COVSHIP_PULL_COMBINE", &o->combine) < 0 ||
	    env_bool("COVSHIP_ALLOW_INCOMPLETE", &o->allow_incomplete) < 0 ||
	    env_bool("COVSHIP_INSECURE", &o->s3.insecure) < 0 ||
	    env_bool("COVSHIP_PATH_STYLE", &o->s3.path_style) < 0)
		return -1;
	v = getenv("COVSHIP_PULL_MAP");
	if (!v || !*v)
		return 0;
	o->env_maps = strdup(v);
	if (!o->env_maps) {
		log_error("out of memory");
		return -1;
	}
	for (tok = strtok_r(o->env_maps, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
		if (add_map(o, tok) < 0)
			return -1;
	return 0;
}

static int parse_opt(struct pull_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'o': o->out = arg; return 0;
	case 'c': o->combine = true; return 0;
	case 'm': return add_map(o, arg);
	case 'x': o->xml = arg; return 0;
	case 'j': return parse_jobs(arg, &o->jobs);
	case OPT_PYTHON: o->python = arg; return 0;
	case OPT_ALLOW_INCOMPLETE: o->allow_incomplete = true; return 0;
	case OPT_ENDPOINT: o->s3.endpoint = arg; return 0;
	case OPT_REGION: o->s3.region = arg; return 0;
	case OPT_CA_BUNDLE: o->s3.ca_bundle = arg; return 0;
	case OPT_INSECURE: o->s3.insecure = true; return 0;
	case OPT_PATH_STYLE: o->s3.path_style = true; return 0;
	case OPT_LOG_LEVEL: return set_log_level(arg);
	case OPT_MAX_BUNDLE_BYTES:
	case OPT_MAX_TOTAL_BYTES:
	case OPT_MAX_RATIO: return pull_limits_option(&o->limits, c - OPT_MAX_BUNDLE_BYTES, arg);
	case OPT_LOG_FORMAT: return log_format_option(arg);
	case 'v': log_set_level(LOG_LEVEL_DEBUG); return 0;
	case 'q': log_set_level(LOG_LEVEL_WARN); return 0;
	case OPT_BUILD: o->build = arg; return 0;
	case OPT_HTML: o->html = arg; return 0;
	case OPT_JUNIT: o->junit = arg; return 0;
	case OPT_SUMMARY: o->summary = arg; return 0;
	case OPT_RCFILE: o->rcfile = arg; return 0;
	case OPT_FAIL_UNDER: return parse_fail_under(arg, &o->fail_under);
	default:
		log_error("unknown option; see covship pull --help");
		return -1;
	}
}

/* --build: from here on o->url is URL/<sanitised id>/. */
static int apply_build(struct pull_opts *o)
{
	char err[512];

	if (!o->build)
		return 0;
	o->build_url = pull_build_url(o->url, o->build, err, sizeof(err));
	if (!o->build_url) {
		log_error("%s", err);
		return -1;
	}
	o->url = o->build_url;
	return 0;
}

/* Returns 0 to run, 1 after --help, -1 on a usage error (logged). */
static int parse_args(struct pull_opts *o, int argc, char **argv)
{
	int c;

	o->jobs = DEFAULT_JOBS;
	pull_limits_default(&o->limits);
	if (read_env(o) < 0 || pull_limits_env(&o->limits) < 0)
		return -1;
	/* 0, not 1: makes glibc reinitialise getopt, so a second parse (tests,
	 * fuzzers) does not resume from the previous argv's state. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:cm:x:j:hvq", long_opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (c == OPT_VERSION) {
			printf("covship %s\n", COVSHIP_VERSION);
			return 1;
		}
		if (c == '?' || c == ':') {
			log_error("bad option '%s'; see covship pull --help", argv[optind - 1]);
			return -1;
		}
		if (parse_opt(o, c, optarg) < 0)
			return -1;
	}
	if (optind < argc)
		o->url = argv[optind++];
	if (optind < argc) {
		log_error("unexpected argument '%s': pull takes one URL", argv[optind]);
		return -1;
	}
	if (!o->url || !*o->url) {
		log_error("missing URL: covship pull file:///dir|s3://bucket/prefix --out DIR");
		return -1;
	}
	if (!o->out || !*o->out) {
		log_error("missing --out DIR (or COVSHIP_PULL_OUT): where to extract the bundles");
		return -1;
	}
	if ((o->nmaps || o->xml) && !o->combine) {
		log_error("--map and --xml only make sense with --combine; add --combine");
		return -1;
	}
	if (o->html && *o->html && !o->combine) {
		log_error("--html needs --combine (the report is of the combined data); add "
			  "--combine");
		return -1;
	}
	if ((o->rcfile || o->fail_under) && !o->combine) {
		log_error("--rcfile and --fail-under only make sense with --combine; add --combine");
		return -1;
	}
	return apply_build(o);
}

static void free_opts(struct pull_opts *o)
{
	size_t i;

	for (i = 0; i < o->nmaps; i++) {
		free(o->maps[i].src);
		free(o->maps[i].dst);
	}
	free(o->env_maps);
	free(o->build_url);
}

/* DIR/<key without extension>: must stay below DIR whatever the key. */
static char *output_rel(const char *rel)
{
	size_t n = strlen(rel);
	char *s;

	while (*rel == '/') {
		rel++;
		n--;
	}
	if (n > 7 && !strcmp(rel + n - 7, ".tar.gz"))
		n -= 7;
	else if (n > 8 && !strcmp(rel + n - 8, ".tar.zst"))
		n -= 8;
	s = strndup(rel, n);
	if (s && !pull_path_safe(s, n)) {
		free(s);
		return NULL;
	}
	return s;
}

static int open_out(struct pull_run *r)
{
	int rc = mkdir_p(r->o->out, 0755);

	if (rc < 0) {
		log_error("--out %s: cannot create: %s", r->o->out, strerror(-rc));
		return -1;
	}
	if (!realpath(r->o->out, r->out_abs)) {
		log_error("--out %s: %s", r->o->out, strerror(errno));
		return -1;
	}
	r->out_fd = open(r->out_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->out_fd < 0) {
		log_error("--out %s: %s", r->out_abs, strerror(errno));
		return -1;
	}
	snprintf(r->work_name, sizeof(r->work_name), ".covship-pull.%ld", (long)getpid());
	(void)pull_rmtree_at(r->out_fd, r->work_name); /* a dead run's leftovers, same pid */
	if (mkdirat(r->out_fd, r->work_name, 0700) < 0) {
		log_error("--out %s: cannot create a work directory: %s", r->out_abs,
			  strerror(errno));
		return -1;
	}
	r->work_fd = openat(r->out_fd, r->work_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->work_fd < 0) {
		log_error("%s/%s: %s", r->out_abs, r->work_name, strerror(errno));
		return -1;
	}
	return 0;
}

static void note_marker(struct marker_note *n, const struct manifest *m)
{
	const cJSON *id, *st;

	if (!m->marker)
		return;
	n->present = true;
	id = cJSON_GetObjectItemCaseSensitive(m->marker, "run_id");
	st = cJSON_GetObjectItemCaseSensitive(m->marker, "status");
	if (!cJSON_IsString(id) || strcmp(id->valuestring, m->run_id) != 0)
		n->foreign = true;
	else if (cJSON_IsString(st) && !strcmp(st->valuestring, "complete"))
		n->complete = true;
	else
		snprintf(n->status, sizeof(n->status), "%s",
			 cJSON_IsString(st) ? st->valuestring : "marker without status");
}

/* Keep of a placed bundle's manifest only what later stages read (the run
 * id, the marker's verdict and, for --combine, the file list): memory must
 * not grow much with the number of bundles. */
static void keep_summary(struct pulled *p, bool combine)
{
	struct manifest *m = &p->ex.m;
	size_t j;

	note_marker(&p->note, m);
	cJSON_Delete(m->marker);
	m->marker = NULL;
	if (combine)
		return;
	for (j = 0; j < m->nfiles; j++)
		free(m->files[j].path);
	free(m->files);
	m->files = NULL;
	m->nfiles = 0;
}

/* Move a verified bundle from staging to DIR/<relbase>. */
static void place(struct pull_run *r, size_t i, const char *staging)
{
	struct pulled *p = &r->pulled[i];
	int rc = pull_place_dir(r->work_fd, staging, r->out_fd, p->relbase);

	if (rc < 0) {
		log_error("bundle %s: cannot move into %s/%s: %s", r->list.v[i].key, r->out_abs,
			  p->relbase, strerror(-rc));
		manifest_free(&p->ex.m);
		r->nio++;
		return;
	}
	p->ok = true;
	r->nfiles += p->ex.m.nfiles;
	r->bytes += p->ex.bytes;
	log_debug("bundle %s: %zu files verified into %s/%s", r->list.v[i].key, p->ex.m.nfiles,
		  r->out_abs, p->relbase);
	if (pull_acct_add_bundle(r->acct, &p->ex.m) < 0)
		log_error("out of memory: the per-process accounting may miss bundle %s",
			  r->list.v[i].key);
	if (r->delivery)
		pull_delivery_bundle_ok(r->delivery, r->out_abs, p->relbase, &p->ex.m);
	keep_summary(p, r->o->combine);
}

/* Verify and extract bundle i into a staging directory, then move it into
 * place. Failures are counted by kind. */
static void pull_one(struct pull_run *r, size_t i)
{
	struct pull_bundle *b = &r->list.v[i];
	struct pulled *p = &r->pulled[i];
	char staging[32], err[PATH_MAX + 256];
	enum pull_extract_result res;
	int sfd;

	if (!p->relbase) { /* computed before the fetch (check_collisions) */
		log_error("bundle %s: its key would extract outside --out; skipped", b->key);
		if (r->delivery)
			pull_delivery_bundle_bad(r->delivery, b->key, "its key is unsafe");
		r->nbad++;
		return;
	}
	snprintf(staging, sizeof(staging), "x%06zu", i);
	if (mkdirat(r->work_fd, staging, 0755) < 0 ||
	    (sfd = openat(r->work_fd, staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_error("bundle %s: cannot create a staging directory: %s", b->key,
			  strerror(errno));
		r->nio++;
		return;
	}
	res = pull_extract_limited(b->fd, sfd, &r->o->limits, &p->ex, err, sizeof(err));
	close(sfd);
	if (res == PULL_EXTRACT_OK) {
		place(r, i, staging);
		if (p->ok)
			r->o->limits.used_total += p->ex.bytes;
	} else if (res == PULL_EXTRACT_LIMIT) {
		log_error("bundle %s refused: %s; nothing of it was extracted (raise the limit "
			  "only if the bundle is genuine)", b->key, err);
		if (r->delivery)
			pull_delivery_bundle_bad(r->delivery, b->key, err);
		r->nlimit++;
	} else if (res == PULL_EXTRACT_BAD) {
		log_error("bundle %s is corrupt or unsafe: %s; nothing of it was extracted",
			  b->key, err);
		if (r->delivery)
			pull_delivery_bundle_bad(r->delivery, b->key, err);
		r->nbad++;
	} else {
		log_error("bundle %s: %s", b->key, err);
		r->nio++;
	}
	(void)pull_rmtree_at(r->work_fd, staging); /* gone after place(), else a failure's */
}

/* A bundle is ready (or failed to download): verify and extract it now,
 * while the other downloads go on. */
static void on_ready(void *ctx, struct pull_bundle *b, const char *err)
{
	struct pull_run *r = ctx;

	if (b->fd < 0) {
		log_error("bundle %s: %s", b->key, err);
		if (r->delivery)
			pull_delivery_bundle_bad(r->delivery, b->key, err);
	} else {
		pull_one(r, (size_t)(b - r->list.v));
	}
	pull_progress_step(&r->progress, b->size);
}

/* Every download in flight holds a connection and a file descriptor until
 * it is extracted: keep them, plus extraction's, libcurl's and coverage.py's
 * own, under RLIMIT_NOFILE. */
static int jobs_for_limit(unsigned jobs)
{
	struct rlimit rl;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return (int)jobs;
	room = rl.rlim_cur > FD_RESERVE ? (rl.rlim_cur - FD_RESERVE) / 2 : 1;
	if (room < 1)
		room = 1;
	return room < jobs ? (int)room : (int)jobs;
}

/* Name every bundle's output directory and refuse the whole listing, before
 * any download, when two share one or one would replace a directory that no
 * pull left (pull_collide.h). Returns 0, a count of problems, or -1. */
static long check_collisions(struct pull_run *r)
{
	const char **keys = calloc(r->list.n, sizeof(*keys));
	char **rels = calloc(r->list.n, sizeof(*rels));
	long found = -1;
	size_t i;

	if (!keys || !rels) {
		log_error("out of memory");
		goto out;
	}
	for (i = 0; i < r->list.n; i++) {
		/* NULL (unsafe key) is refused per bundle in pull_one(). */
		r->pulled[i].relbase = output_rel(r->list.v[i].rel);
		rels[i] = r->pulled[i].relbase;
		keys[i] = r->list.v[i].key;
	}
	found = pull_collisions_check(r->out_fd, r->out_abs, rels, keys, r->list.n);
out:
	free(keys);
	free(rels);
	return found;
}

/* One pass: the source fetches at most --jobs bundles at a time and hands
 * each over as soon as it is complete; downloads that do not fit in memory
 * go to unnamed files in the work directory. */
static int fetch_and_extract(struct pull_run *r, struct pull_source *src)
{
	uint64_t listed = 0;
	size_t i;
	long rc;

	r->pulled = calloc(r->list.n, sizeof(*r->pulled));
	if (!r->pulled) {
		log_error("out of memory");
		return -1;
	}
	rc = check_collisions(r);
	if (rc != 0)
		return rc < 0 ? -1 : -2;
	for (i = 0; i < r->list.n; i++)
		listed += r->list.v[i].size;
	pull_progress_start(&r->progress, r->list.n, listed);
	r->nfetch_failed = src->ops->fetch(src, r->list.v, r->list.n, r->work_fd,
					   jobs_for_limit(r->o->jobs), on_ready, r);
	pull_progress_end(&r->progress);
	return 0;
}

/* What the bundles of one run say about its flush. */
struct run_state {
	const char *run_id;
	const char *status; /* of a marker that is not "complete", else NULL */
	bool foreign;       /* a marker names another run */
	bool complete;
	size_t bundles;
	size_t lost; /* processes alive at stop that wrote no data (pull_accounting) */
};

static struct run_state *find_run(struct run_state *runs, size_t *nruns, const char *id)
{
	size_t i;

	for (i = 0; i < *nruns; i++)
		if (!strcmp(runs[i].run_id, id))
			return &runs[i];
	runs[*nruns].run_id = id;
	return &runs[(*nruns)++];
}

static void note_run(struct run_state *rs, const struct marker_note *n)
{
	rs->bundles++;
	if (!n->present)
		return;
	if (n->foreign)
		rs->foreign = true;
	else if (n->complete)
		rs->complete = true;
	else
		rs->status = n->status;
}

static void report_run(const struct run_state *rs, bool allow)
{
	char why[160];

	if (rs->foreign)
		snprintf(why, sizeof(why), "a bundle carries the done marker of another run");
	else if (rs->status)
		snprintf(why, sizeof(why), "its done marker says '%s'", rs->status);
	else if (rs->complete)
		snprintf(why, sizeof(why), "%zu process(es) alive at stop wrote no coverage data",
			 rs->lost);
	else
		snprintf(why, sizeof(why), "none of its %zu bundle(s) carries the shim's done "
			 "marker", rs->bundles);
	if (allow)
		log_warn("run %s: the flush was incomplete (%s); continuing because of "
			 "--allow-incomplete", rs->run_id, why);
	else
		log_error("run %s: the flush was incomplete (%s): coverage of some processes is "
			  "missing; pass --allow-incomplete to use it anyway", rs->run_id, why);
}


/* Each process of run_id that was alive at stop and wrote no coverage data
 * fails that run's JUnit case (pull_delivery), as its log line says. */
static void report_missing_writers(struct pull_run *r, const char *run_id)
{
	const struct pull_missing_writer *w;
	size_t k, n = pull_acct_missing(r->acct, run_id, &w);

	for (k = 0; k < n; k++)
		pull_delivery_fail(r->delivery, run_id,
				   "worker %ld (`%s`) wrote no coverage data; %s", w[k].pid,
				   w[k].cmd && *w[k].cmd ? w[k].cmd : "?",
				   w[k].killed_at_grace ?
					   "the shim's --grace expired and killed it" :
					   "was it killed after --graceful-timeout?");
}
/* A run is complete when one of its bundles carries a done marker of the
 * same run saying "complete" and none says otherwise (grace-expired). */
static size_t check_runs(struct pull_run *r, size_t *nruns_out)
{
	struct run_state *runs = calloc(r->list.n ? r->list.n : 1, sizeof(*runs));
	size_t i, nruns = 0, bad = 0;

	if (!runs) {
		log_error("out of memory");
		*nruns_out = 0;
		return 1;
	}
	for (i = 0; i < r->list.n; i++)
		if (r->pulled[i].ok)
			note_run(find_run(runs, &nruns, r->pulled[i].ex.m.run_id),
				 &r->pulled[i].note);
	for (i = 0; i < nruns; i++) {
		runs[i].lost = pull_acct_report_run(r->acct, runs[i].run_id,
						    r->o->allow_incomplete);
		if (runs[i].lost && r->delivery)
			report_missing_writers(r, runs[i].run_id);
		if (runs[i].complete && !runs[i].status && !runs[i].foreign && !runs[i].lost)
			continue;
		report_run(&runs[i], r->o->allow_incomplete);
		bad++;
	}
	free(runs);
	*nruns_out = nruns;
	return bad;
}

static int data_files(struct pull_run *r, char ***out, size_t *n)
{
	char **v = calloc(r->nfiles ? r->nfiles : 1, sizeof(*v));
	struct manifest *m;
	size_t i, j, k = 0;

	if (!v)
		return -1;
	for (i = 0; i < r->list.n; i++) {
		if (!r->pulled[i].ok)
			continue;
		m = &r->pulled[i].ex.m;
		for (j = 0; j < m->nfiles; j++)
			if (asprintf(&v[k++], "%s/%s/%s", r->out_abs, r->pulled[i].relbase,
				     m->files[j].path) < 0) {
				v[--k] = NULL;
				goto fail;
			}
	}
	*out = v;
	*n = k;
	return 0;
fail:
	for (i = 0; i < k; i++)
		free(v[i]);
	free(v);
	return -1;
}

static bool all_python(struct pull_run *r)
{
	size_t i;

	for (i = 0; i < r->list.n; i++) {
		if (r->pulled[i].ok && strcmp(r->pulled[i].ex.format, "python") != 0) {
			log_error("bundle %s holds '%s' coverage; --combine only understands "
				  "coverage.py data (format python)", r->list.v[i].key,
				  r->pulled[i].ex.format);
			return false;
		}
	}
	return true;
}

/* Paths that must not be cut short: a truncated path would name another
 * file. Returns 0 or -1. */
static int path_fmt(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static int report_path(struct pull_run *r, char *xml, size_t len)
{
	char cwd[PATH_MAX];

	if (!r->o->xml)
		return path_fmt(xml, len, r->out_abs, "coverage.xml");
	if (r->o->xml[0] == '/')
		return path_fmt(xml, len, "", r->o->xml + 1);
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	return path_fmt(xml, len, cwd, r->o->xml);
}

static int do_combine(struct pull_run *r)
{
	struct pull_combine_opts co = { 0 };
	enum pull_combine_result res;
	char work[PATH_MAX], data[PATH_MAX], xml[PATH_MAX];
	struct pull_totals t;
	char **files = NULL;
	size_t n = 0, i;
	int rc;

	if (!all_python(r))
		return PULL_EXIT_USAGE;
	if (path_fmt(work, sizeof(work), r->out_abs, r->work_name) < 0 ||
	    path_fmt(data, sizeof(data), r->out_abs, ".coverage") < 0 ||
	    report_path(r, xml, sizeof(xml)) < 0) {
		log_error("--out/--xml: path too long or working directory unreadable");
		return PULL_EXIT_FAILED;
	}
	if (data_files(r, &files, &n) < 0) {
		log_error("out of memory");
		return PULL_EXIT_FAILED;
	}
	if (n == 0) {
		free(files);
		log_error("--combine: the bundles hold no data files (only markers); nothing to "
			  "combine");
		return PULL_EXIT_FAILED;
	}
	co.python = r->python;
	co.rcfile = r->o->rcfile;
	co.fail_under = r->o->fail_under;
	co.maps = r->o->maps;
	co.nmaps = r->o->nmaps;
	co.workdir = work;
	co.data_file = data;
	co.xml = xml;
	co.html = r->o->html && *r->o->html ? r->o->html : NULL;
	switch ((res = pull_combine(&co, files, n, &t))) {
	case PULL_COMBINE_OK:
	case PULL_COMBINE_UNDER:
		rc = PULL_EXIT_OK;
		if (r->delivery)
			pull_delivery_set_coverage(r->delivery, &t);
		if (t.lines_valid >= 0)
			printf("coverage: %.2f%% of lines (%ld of %ld), %zu data files combined, "
			       "report %s\n", 100.0 * t.line_rate, t.lines_covered,
			       t.lines_valid, n, xml);
		else
			printf("coverage: %.2f%% of lines, %zu data files combined, report %s\n",
			       100.0 * t.line_rate, n, xml);
		if (res != PULL_COMBINE_UNDER)
			break;
		rc = PULL_EXIT_UNDER;
		log_error("coverage is below fail_under (coverage.py: total less than the "
			  "threshold); the report %s is written: add tests or lower --fail-under", xml);
		break;
	case PULL_COMBINE_LOST:
		rc = PULL_EXIT_LOST;
		break;
	case PULL_COMBINE_CONFIG:
		rc = PULL_EXIT_USAGE;
		break;
	default:
		rc = PULL_EXIT_FAILED;
		break;
	}
	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
	return rc;
}

/* --combine needs coverage.py: find out before anything is downloaded or
 * created, so a wrong agent setup costs nothing and says how to fix it. */
static int check_python(struct pull_run *r)
{
	char version[64], err[PATH_MAX + 400];

	if (pull_python_pick(r->o->python, r->python, sizeof(r->python)) < 0) {
		log_error("--python: path too long");
		return -1;
	}
	if (pull_python_check(r->python, version, sizeof(version), err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	log_info("coverage.py %s under %s", version, r->python);
	return 0;
}

static int run_pull(struct pull_run *r)
{
	size_t nruns = 0, incomplete;
	struct pull_source *src;
	char err[PATH_MAX + 256];
	int rc;

	if (r->o->combine && check_python(r) < 0)
		return PULL_EXIT_USAGE;
	if (pull_source_open(r->o->url, &r->o->s3, &src, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return PULL_EXIT_USAGE;
	}
	if (open_out(r) < 0) {
		src->ops->close(src);
		return PULL_EXIT_FAILED;
	}
	rc = src->ops->list(src, &r->list, err, sizeof(err));
	if (rc < 0)
		log_error("%s", err);
	else if (r->list.n == 0)
		log_error("no bundles (*.tar.gz, *.tar.zst) under %s; check the URL", r->o->url);
	if (rc < 0 || r->list.n == 0) {
		src->ops->close(src);
		return PULL_EXIT_FAILED;
	}
	log_info("%zu bundle(s) under %s", r->list.n, r->o->url);
	r->acct = pull_acct_new();
	if (!r->acct) {
		log_error("out of memory");
		src->ops->close(src);
		return PULL_EXIT_FAILED;
	}
	rc = fetch_and_extract(r, src);
	src->ops->close(src);
	if (rc == -2)
		return PULL_EXIT_COLLISION;
	if (rc < 0)
		return PULL_EXIT_FAILED;
	printf("pulled %zu of %zu bundles, %zu files (%llu bytes) into %s\n",
	       r->list.n - r->nfetch_failed - r->nbad - r->nio - r->nlimit, r->list.n, r->nfiles,
	       (unsigned long long)r->bytes, r->out_abs);
	if (r->nfetch_failed || r->nio)
		return PULL_EXIT_FAILED;
	if (r->nlimit)
		return PULL_EXIT_LIMIT;
	if (r->nbad)
		return PULL_EXIT_CORRUPT;
	incomplete = check_runs(r, &nruns);
	printf("runs: %zu, with an incomplete flush: %zu\n", nruns, incomplete);
	if (incomplete && !r->o->allow_incomplete)
		return PULL_EXIT_INCOMPLETE;
	fflush(stdout);
	return r->o->combine ? do_combine(r) : PULL_EXIT_OK;
}

static void cleanup_run(struct pull_run *r)
{
	size_t i;

	if (r->pulled) {
		for (i = 0; i < r->list.n; i++) {
			free(r->pulled[i].relbase);
			if (r->pulled[i].ok)
				manifest_free(&r->pulled[i].ex.m);
		}
		free(r->pulled);
	}
	pull_bundle_list_free(&r->list);
	pull_acct_free(r->acct);
	if (r->work_fd >= 0)
		close(r->work_fd);
	if (r->out_fd >= 0) {
		if (r->work_name[0])
			(void)pull_rmtree_at(r->out_fd, r->work_name);
		close(r->out_fd);
	}
}

/* --junit/--summary: collect the delivery facts during the pull. */
static int pull_reports_begin(struct pull_run *r, struct pull_delivery *d)
{
	if (!(r->o->junit && *r->o->junit) && !(r->o->summary && *r->o->summary))
		return 0;
	if (pull_delivery_init(d, r->o->url) < 0) {
		log_error("out of memory");
		return PULL_EXIT_FAILED;
	}
	r->delivery = d;
	return 0;
}

/* Write the delivery reports whatever the pull's outcome (a failed pull is
 * what they are for); a report that cannot be written makes an otherwise
 * good pull exit 1. */
static int pull_reports_end(struct pull_run *r, int rc)
{
	char err[PATH_MAX + 200];

	if (!r->delivery)
		return rc;
	if (r->o->junit && *r->o->junit &&
	    pull_delivery_write_junit(r->delivery, r->o->junit, err, sizeof(err)) < 0) {
		log_error("--junit: %s", err);
		if (rc == PULL_EXIT_OK)
			rc = PULL_EXIT_FAILED;
	}
	if (r->o->summary && *r->o->summary &&
	    pull_delivery_write_summary(r->delivery, r->o->summary, err, sizeof(err)) < 0) {
		log_error("--summary: %s", err);
		if (rc == PULL_EXIT_OK)
			rc = PULL_EXIT_FAILED;
	}
	pull_delivery_free(r->delivery);
	r->delivery = NULL;
	return rc;
}

int cmd_pull(int argc, char **argv)
{
	struct pull_opts o = { 0 };
	struct pull_run r = { .o = &o, .out_fd = -1, .work_fd = -1 };
	struct pull_delivery delivery;
	int rc;

	rc = parse_args(&o, argc, argv);
	if (rc != 0) {
		free_opts(&o);
		return rc > 0 ? PULL_EXIT_OK : PULL_EXIT_USAGE;
	}
	rc = pull_reports_begin(&r, &delivery);
	if (rc == 0)
		rc = pull_reports_end(&r, run_pull(&r));
	cleanup_run(&r);
	free_opts(&o);
	fflush(stdout);
	return rc;
}
