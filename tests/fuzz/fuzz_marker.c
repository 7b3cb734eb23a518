/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: the sidecar's reading of the shim's markers. The app container
 * can write anything into the shared volume, so .covship/run.json and
 * .covship/done.json are outside input. The first byte picks which of the
 * two gets the fuzzed bytes; the other one is a valid marker of the run
 * RUN_ID (the seeds use that id so that done.json is matched to its run).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finality.h"

#define RUN_ID "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch volume, made once per fuzzing process and reused per input. */
static char root[64];
static int rootfd = -1;

static void put(const char *name, const void *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/.covship/%s", root, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	if (len && fwrite(buf, 1, len, f) != len)
		abort();
	if (fclose(f))
		abort();
}

/* At exit (libFuzzer exits normally after -max_total_time or -runs). */
static void teardown(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/.covship/run.json", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.covship/done.json", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.covship", root);
	rmdir(path);
	rmdir(root);
}

static void setup(void)
{
	char sub[96];

	strcpy(root, "/tmp/covship-fuzz-marker.XXXXXX");
	if (!mkdtemp(root))
		abort();
	snprintf(sub, sizeof(sub), "%s/.covship", root);
	if (mkdir(sub, 0700))
		abort();
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		abort();
	atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char run[] = "{\"schema\":1,\"run_id\":\"" RUN_ID "\",\"data_dir\":\"run-" RUN_ID "\"}";
	static const char done[] = "{\"schema\":1,\"run_id\":\"" RUN_ID "\",\"status\":\"complete\"}";
	struct run_state rs;

	if (size < 1)
		return 0;
	if (rootfd < 0)
		setup();
	if (data[0] & 1) {
		put("run.json", data + 1, size - 1);
		put("done.json", done, sizeof(done) - 1);
	} else {
		put("run.json", run, sizeof(run) - 1);
		put("done.json", data + 1, size - 1);
	}
	finality_read(rootfd, &rs);
	run_state_free(&rs);
	return 0;
}
