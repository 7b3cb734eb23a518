/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "timefmt.h"

/*
 * Logging configuration is process-wide by nature (there is one stderr), set
 * once at start-up before any other thread or child exists, and read by every
 * module; passing it through every call would only add noise.
 */
static struct {
	const char *program;
	enum log_level level;
	bool json;
} log_cfg = { "covship", LOG_LEVEL_INFO, false };

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

int log_level_from_name(const char *name, enum log_level *out)
{
	size_t i;

	if (!name)
		return -1;
	if (strcmp(name, "warn") == 0) { /* the common abbreviation */
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int log_json_from_name(const char *name, bool *json)
{
	if (name && strcmp(name, "text") == 0)
		*json = false;
	else if (name && strcmp(name, "json") == 0)
		*json = true;
	else
		return -1;
	return 0;
}

int log_format_option(const char *name)
{
	bool json;

	if (log_json_from_name(name, &json) < 0) {
		log_error("--log-format: unknown '%s' (use text or json)", name);
		return -1;
	}
	log_set_json(json);
	return 0;
}

int log_init(const char *program)
{
	const char *fmt = getenv("COVSHIP_LOG_FORMAT");

	log_cfg.program = program;
	if (!fmt || !*fmt) {
		log_cfg.json = false;
		return 0;
	}
	return log_json_from_name(fmt, &log_cfg.json);
}

void log_set_level(enum log_level level)
{
	log_cfg.level = level;
}

enum log_level log_get_level(void)
{
	return log_cfg.level;
}

bool log_get_json(void)
{
	return log_cfg.json;
}

void log_set_json(bool json)
{
	log_cfg.json = json;
}

/* One write(2) per line so lines from the shim and its children never
 * interleave mid-line on a shared stderr pipe. */
static void write_line(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report it */
		line += n;
		len -= (size_t)n;
	}
}

static void emit_json(enum log_level level, const char *message)
{
	char stamp[TIMEFMT_RFC3339_LEN];
	cJSON *obj = cJSON_CreateObject();
	char *text;

	if (!obj)
		goto fallback;
	timefmt_rfc3339_now(stamp);
	if (!cJSON_AddStringToObject(obj, "time", stamp) ||
	    !cJSON_AddStringToObject(obj, "program", log_cfg.program) ||
	    !cJSON_AddStringToObject(obj, "level", level_names[level]) ||
	    !cJSON_AddStringToObject(obj, "message", message)) {
		cJSON_Delete(obj);
		goto fallback;
	}
	text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!text)
		goto fallback;
	{
		size_t len = strlen(text);
		char buf[4096];

		if (len + 1 < sizeof(buf)) {
			memcpy(buf, text, len);
			buf[len] = '\n';
			write_line(buf, len + 1);
		} else {
			write_line(text, len);
			write_line("\n", 1);
		}
	}
	cJSON_free(text);
	return;
fallback:
	/* Out of memory: still say something, in plain text. */
	write_line(message, strlen(message));
	write_line("\n", 1);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char message[2048];
	char line[2200];
	va_list ap;
	int n;
	int saved_errno = errno; /* callers log, then look at errno */

	if (level > log_cfg.level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (n < 0)
		snprintf(message, sizeof(message), "(unformattable log message)");

	if (log_cfg.json) {
		emit_json(level, message);
	} else {
		n = snprintf(line, sizeof(line), "[%s] %s: %s\n", log_cfg.program,
			     level_names[level], message);
		if (n > 0)
			write_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	errno = saved_errno;
}
