/* SPDX-License-Identifier: MIT */
/*
 * `covship push --dir DIR --dest URL`: deliver what the spool holds, then
 * bundle every coverage file in DIR now and deliver it. For scripts that
 * run after the application stopped (the manual copy step).
 */
#include "push.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "finality.h"
#include "log.h"
#include "runid.h"
#include "ship.h"

#define PUSH_ATTEMPTS 3

static enum dest_result push_once(struct shipper *sh, const char *run_id)
{
	struct run_state rs;
	struct filelist files = { 0 };
	enum dest_result r = ship_pending(sh);
	int e;

	if (r == DEST_RETRY)
		return r;
	finality_read(sh->rootfd, &rs);
	e = ship_unclaimed(sh, &files);
	if (e < 0) {
		log_error("reading %s: %s", sh->o->dir, strerror(-e));
		r = DEST_RETRY;
	} else if (files.n == 0) {
		log_info("nothing new to push in %s", sh->o->dir);
	} else {
		enum dest_result r2 = ship_files(sh, rs.have_run ? rs.run_id : run_id, rs.done,
						 &files, NULL);
		if (r2 != DEST_OK)
			r = r2;
	}
	filelist_free(&files);
	run_state_free(&rs);
	return r;
}

int cmd_push(int argc, char **argv)
{
	struct options o;
	struct shipper sh;
	char run_id[RUNID_LEN + 1];
	enum dest_result r = DEST_RETRY;
	long pending;
	size_t unread;
	int attempt, rc;

	rc = options_load(OPTIONS_PUSH, argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (shipper_open(&sh, &o, false) < 0) {
		shipper_close(&sh);
		options_free(&o);
		return 2;
	}
	/* Outside a shim run there is no run.json: the push gets its own id. */
	if (runid_generate(run_id) < 0) {
		log_error("no randomness for a run id");
		shipper_close(&sh);
		options_free(&o);
		return 1;
	}
	for (attempt = 1; attempt <= PUSH_ATTEMPTS && r == DEST_RETRY; attempt++) {
		if (attempt > 1)
			sleep((unsigned)(1 << (attempt - 2)));
		r = push_once(&sh, run_id);
	}
	pending = spool_pending(&sh.spool);
	rc = 0;
	if (pending != 0) {
		log_error("%ld bundle(s) left in the spool %s (last error: %s); run push again "
			  "or start watch to deliver them", pending, o.spool,
			  sh.last_error[0] ? sh.last_error : "unknown");
		rc = 1;
	}
	unread = ship_unreadable_left(&sh);
	if (unread) {
		/* each was named with the fix when it was tried: not again here */
		log_error("%zu coverage file(s) in %s could not be read and stay there; fix "
			  "their permissions and run push again", unread, o.dir);
		rc = 1;
	}
	if (sh.failed) /* e.g. a damaged bundle given up (logged): not everything arrived */
		rc = 1;
	shipper_close(&sh);
	options_free(&o);
	return rc;
}
