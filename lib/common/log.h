/* SPDX-License-Identifier: MIT */
/*
 * One line per event on stderr.
 *
 *   text: "[covship-shim] warning: message"
 *   json: {"time":"2026-11-25T09:00:00.000Z","program":"covship-shim",
 *          "level":"warning","message":"message"}   (COVSHIP_LOG_FORMAT=json)
 *
 * The JSON form is for CloudWatch, where one object per line is searchable.
 */
#ifndef COVSHIP_LOG_H
#define COVSHIP_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Set the program name; reads COVSHIP_LOG_FORMAT ("text" or "json").
 * Returns -1 when COVSHIP_LOG_FORMAT has another value (logging still works,
 * in text form), so the caller can report the bad configuration. */
int log_init(const char *program);
void log_set_level(enum log_level level);
/* The names of --log-level and --log-format, shared by every program so
 * they all accept the same words. Return 0, or -1 for an unknown name
 * (*out untouched). Level: error, warning (or warn), info, debug. */
int log_level_from_name(const char *name, enum log_level *out);
/* Format: text (*json = false) or json. */
int log_json_from_name(const char *name, bool *json);
/* --log-format NAME for every subcommand: switch to it, or log the one
 * line that names the accepted words and return -1. */
int log_format_option(const char *name);
enum log_level log_get_level(void);
void log_set_json(bool json);
/* Whether lines are JSON: a caller drawing to the terminal itself (pull's
 * progress line) must not mix raw text into a JSON stream. */
bool log_get_json(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
