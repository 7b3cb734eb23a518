/* SPDX-License-Identifier: MIT */
#include "options.h"

#include <string.h>

const char *options_env(char *const envp[], const char *name)
{
	size_t len = strlen(name);

	if (!envp)
		return NULL;
	for (; *envp; envp++) {
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=') {
			const char *v = *envp + len + 1;

			/* ECS task definitions often carry empty values: treat as unset. */
			return *v ? v : NULL;
		}
	}
	return NULL;
}

/* Parsed by hand rather than strtod: no locale, no "1e3", no "inf", exact ms. */
int options_parse_grace(const char *s, int64_t *ms)
{
	int64_t whole = 0, frac = 0;
	int ndigits = 0, nfrac = 0;

	if (!s)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++, ndigits++) {
		whole = whole * 10 + (*s - '0');
		if (whole > OPTIONS_MAX_GRACE_MS / 1000)
			return -1;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
			if (nfrac == 3)
				return -1;
			frac = frac * 10 + (*s - '0');
		}
		if (nfrac == 0)
			return -1;
	}
	if (*s != '\0' || ndigits == 0)
		return -1;
	for (int i = nfrac; i < 3; i++)
		frac *= 10;
	if (whole * 1000 + frac > OPTIONS_MAX_GRACE_MS)
		return -1;
	*ms = whole * 1000 + frac;
	return 0;
}

int options_parse_level(const char *s, enum log_level *level)
{
	return log_level_from_name(s, level);
}

#define GRACE_HINT "expected seconds from 0 to 86400 with at most 3 decimals, e.g. 25 or 2.5"
#define LEVEL_HINT "expected debug, info, warning or error"
#define FORMAT_HINT "expected text or json"

/* What the command line set explicitly: it beats the environment. */
struct cli_seen {
	bool grace, dir, level, format;
};

/*
 * "--name=value" or "--name value". Returns the value, NULL when the option
 * is not NAME, or sets *missing when NAME has no value.
 */
static const char *take_value(const char *name, int argc, char **argv, int *i, bool *missing)
{
	const char *arg = argv[*i];
	size_t len = strlen(name);

	if (strncmp(arg, name, len) != 0)
		return NULL;
	if (arg[len] == '=')
		return arg + len + 1;
	if (arg[len] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static int parse_valued(const char *opt, const char *val, struct options *o,
			struct cli_seen *seen, char *err, size_t errlen)
{
	if (strcmp(opt, "--grace") == 0) {
		if (options_parse_grace(val, &o->grace_ms) < 0) {
			snprintf(err, errlen, "bad --grace '%s': " GRACE_HINT, val);
			return -1;
		}
		seen->grace = true;
	} else if (strcmp(opt, "--coverage-dir") == 0) {
		if (!*val) {
			snprintf(err, errlen, "empty --coverage-dir: give the coverage volume's path, "
					      "e.g. --coverage-dir /coverage");
			return -1;
		}
		o->coverage_dir = val;
		seen->dir = true;
	} else if (strcmp(opt, "--log-level") == 0) {
		if (options_parse_level(val, &o->log_level) < 0) {
			snprintf(err, errlen, "bad --log-level '%s': " LEVEL_HINT, val);
			return -1;
		}
		seen->level = true;
	} else {
		if (log_json_from_name(val, &o->log_json) < 0) {
			snprintf(err, errlen, "bad --log-format '%s': " FORMAT_HINT, val);
			return -1;
		}
		seen->format = true;
	}
	return 0;
}

static const char *const valued_options[] = { "--grace", "--coverage-dir", "--log-level",
					       "--log-format" };

/* Returns 1 when ARG was an option taking a value (consumed), 0 when not, -1 on error. */
static int parse_valued_arg(int argc, char **argv, int *i, struct options *o,
			    struct cli_seen *seen, char *err, size_t errlen)
{
	for (size_t k = 0; k < sizeof(valued_options) / sizeof(valued_options[0]); k++) {
		bool missing = false;
		const char *val = take_value(valued_options[k], argc, argv, i, &missing);

		if (missing) {
			snprintf(err, errlen, "option '%s' needs a value; see covship-shim --help",
				 valued_options[k]);
			return -1;
		}
		if (val)
			return parse_valued(valued_options[k], val, o, seen, err, errlen) < 0 ? -1 : 1;
	}
	return 0;
}

static int parse_flag(const char *arg, struct options *o, struct cli_seen *seen)
{
	if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
		o->log_level = LOG_LEVEL_DEBUG;
		seen->level = true;
	} else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
		o->log_level = LOG_LEVEL_WARN;
		seen->level = true;
	} else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
		o->action = OPTIONS_HELP;
	} else if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
		o->action = OPTIONS_VERSION;
	} else {
		return -1;
	}
	return 0;
}

static int apply_env(char *const envp[], struct options *o, const struct cli_seen *seen,
		     char *err, size_t errlen)
{
	const char *v;

	if (!seen->grace && (v = options_env(envp, "COVSHIP_GRACE")) &&
	    options_parse_grace(v, &o->grace_ms) < 0) {
		snprintf(err, errlen, "bad COVSHIP_GRACE='%s': " GRACE_HINT, v);
		return -1;
	}
	if (!seen->dir && (v = options_env(envp, "COVSHIP_DIR")))
		o->coverage_dir = v;
	if (!seen->level && (v = options_env(envp, "COVSHIP_LOG_LEVEL")) &&
	    options_parse_level(v, &o->log_level) < 0) {
		snprintf(err, errlen, "bad COVSHIP_LOG_LEVEL='%s': " LEVEL_HINT, v);
		return -1;
	}
	if (!seen->format && (v = options_env(envp, "COVSHIP_LOG_FORMAT")) &&
	    log_json_from_name(v, &o->log_json) < 0) {
		snprintf(err, errlen, "bad COVSHIP_LOG_FORMAT='%s': " FORMAT_HINT, v);
		return -1;
	}
	return 0;
}

int options_parse(int argc, char **argv, char *const envp[], struct options *o, char *err,
		  size_t errlen)
{
	struct cli_seen seen = { false, false, false, false };
	int i;

	*o = (struct options){ .action = OPTIONS_RUN,
			       .grace_ms = OPTIONS_DEFAULT_GRACE_MS,
			       .coverage_dir = NULL,
			       .log_level = LOG_LEVEL_INFO,
			       .log_json = false,
			       .command = NULL };
	if (err && errlen)
		err[0] = '\0';

	/* Options stop at the first non-option: the command's own flags are its own. */
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int r;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		r = parse_valued_arg(argc, argv, &i, o, &seen, err, errlen);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (parse_flag(arg, o, &seen) < 0) {
			snprintf(err, errlen,
				 "unknown option '%s'; see covship-shim --help "
				 "(put '--' before a command that starts with '-')",
				 arg);
			return -1;
		}
	}
	if (o->action != OPTIONS_RUN)
		return 0;
	if (apply_env(envp, o, &seen, err, errlen) < 0)
		return -1;
	if (i >= argc) {
		snprintf(err, errlen, "no command given; usage: covship-shim [OPTIONS] [--] "
				      "COMMAND [ARGS...] (see --help)");
		return -1;
	}
	o->command = argv + i;
	return 0;
}

void options_usage(FILE *out)
{
	fputs("Usage: covship-shim [OPTIONS] [--] COMMAND [ARGS...]\n"
	      "\n"
	      "A PID 1 for containers that must not lose coverage data: runs COMMAND,\n"
	      "reaps every zombie, forwards signals to COMMAND, and on shutdown waits\n"
	      "for every descendant (up to the grace period) before it exits.\n"
	      "\n"
	      "Options (each also set by the environment variable shown; the command\n"
	      "line wins; an empty variable counts as unset):\n"
	      "  --grace SECONDS        how long to wait for all descendants once shutdown\n"
	      "                         begins (SIGTERM/SIGINT, or COMMAND exits), then\n"
	      "                         SIGKILL what remains; 0..86400, up to 3 decimals\n"
	      "                         [COVSHIP_GRACE, default 25]\n"
	      "  --coverage-dir DIR     write DIR/.covship/run.json at start and\n"
	      "                         DIR/.covship/done.json at the end, create the\n"
	      "                         per-run data dir DIR/run-<run_id>, and export\n"
	      "                         COVSHIP_RUN_ID and COVSHIP_DATA_DIR to COMMAND\n"
	      "                         [COVSHIP_DIR, default: none]\n"
	      "  --log-level LEVEL      debug, info, warning or error\n"
	      "                         [COVSHIP_LOG_LEVEL, default info]\n"
	      "  -v, --verbose          same as --log-level debug\n"
	      "  -q, --quiet            same as --log-level warning\n"
	      "  --log-format FORMAT    text ('[covship-shim] level: message') or json\n"
	      "                         (one JSON object per line)\n"
	      "                         [COVSHIP_LOG_FORMAT, default text]\n"
	      "  -h, --help             show this help and exit\n"
	      "  -V, --version          show the version and exit\n"
	      "\n"
	      "Exit status: COMMAND's exit code, or 128+N if it died of signal N;\n"
	      "126 if COMMAND cannot be executed, 127 if it is not found;\n"
	      "2 for bad options or environment (nothing is started then).\n",
	      out);
}
