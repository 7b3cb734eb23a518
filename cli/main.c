/* SPDX-License-Identifier: MIT */
/* covship: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "health.h"
#include "log.h"
#include "pull.h"
#include "push.h"
#include "watch.h"

static void usage(FILE *out)
{
	fputs("usage: covship COMMAND [options]\n"
	      "Get coverage data out of containers without losing any.\n\n"
	      "commands:\n"
	      "  watch    sidecar daemon: watch the coverage volume, bundle final files, deliver\n"
	      "  push     one-shot: bundle what is in the directory now and deliver it\n"
	      "  health   exit 0 while the watcher is alive and delivering, 1 otherwise\n"
	      "  pull     Jenkins side: download, verify and extract bundles\n\n"
	      "  --help, --version\n"
	      "'covship COMMAND --help' lists the options of a command; each has a COVSHIP_*\n"
	      "environment variable. Exit: 0 ok, 1 runtime failure, 2 bad configuration.\n",
	      out);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int rc;

	if (log_init("covship") < 0) {
		log_error("COVSHIP_LOG_FORMAT must be 'text' or 'json'");
		return 2;
	}
	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("covship %s\n", COVSHIP_VERSION);
		return 0;
	}
	/* libcurl (and OpenSSL behind it) is initialised only where used: the S3
	 * client does it itself, so an idle file:// watcher stays small. */
	if (!strcmp(cmd, "pull") && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("libcurl initialisation failed");
		return 1;
	}
	if (!strcmp(cmd, "watch"))
		rc = cmd_watch(argc - 1, argv + 1);
	else if (!strcmp(cmd, "push"))
		rc = cmd_push(argc - 1, argv + 1);
	else if (!strcmp(cmd, "health"))
		rc = cmd_health(argc - 1, argv + 1);
	else if (!strcmp(cmd, "pull"))
		rc = cmd_pull(argc - 1, argv + 1);
	else {
		log_error("unknown command '%s'; see 'covship --help'", cmd);
		rc = 2;
	}
	if (!strcmp(cmd, "pull"))
		curl_global_cleanup();
	return rc;
}
