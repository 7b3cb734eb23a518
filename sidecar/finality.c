/* SPDX-License-Identifier: MIT */
#include "finality.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runid.h"
#include "scan.h"

#define MARKER_MAX (1024 * 1024)

static cJSON *read_json(int dirfd, const char *name, struct file_id *id)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	cJSON *j = NULL;
	char *buf;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= MARKER_MAX && (buf = malloc((size_t)st.st_size))) {
		if (pread(fd, buf, (size_t)st.st_size, 0) == st.st_size)
			j = cJSON_ParseWithLength(buf, (size_t)st.st_size);
		free(buf);
		if (id)
			file_id_from_stat(&st, id);
	}
	close(fd);
	return j;
}

static const char *run_id_of(const cJSON *j)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "run_id");

	return cJSON_IsString(r) && runid_valid(r->valuestring) ? r->valuestring : NULL;
}

void finality_read(int rootfd, struct run_state *rs)
{
	int dfd = openat(rootfd, SCAN_MARKER_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cJSON *run, *done;
	const char *id;

	memset(rs, 0, sizeof(*rs));
	if (dfd < 0)
		return;
	run = read_json(dfd, "run.json", NULL);
	id = run_id_of(run);
	if (id) {
		rs->have_run = true;
		memcpy(rs->run_id, id, RUNID_LEN + 1);
		done = read_json(dfd, "done.json", &rs->done_id);
		id = run_id_of(done);
		if (id && !strcmp(id, rs->run_id))
			rs->done = done;
		else
			cJSON_Delete(done); /* a stale marker of an older run */
	}
	cJSON_Delete(run);
	close(dfd);
}

void run_state_free(struct run_state *rs)
{
	cJSON_Delete(rs->done);
	rs->done = NULL;
}

bool run_state_same(const struct run_state *a, const struct run_state *b)
{
	return a->have_run == b->have_run && !strcmp(a->run_id, b->run_id) &&
	       !a->done == !b->done && (!a->done || file_id_equal(&a->done_id, &b->done_id));
}

bool snapshot_final(const struct snap_info *si, int64_t mtime_ns, int64_t now_real_ns,
		    int64_t now_mono_ms, unsigned settle_s)
{
	int64_t settle_ms = (int64_t)settle_s * 1000;

	if (si->open_for_write || !si->closed)
		return false;
	if (now_mono_ms - si->last_event_ms < settle_ms)
		return false;
	/* also by the clock of the file system, for changes we missed */
	return now_real_ns - mtime_ns >= settle_ms * 1000000;
}
