/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool.h"

#define RID "0123456789abcdef0123456789abcdef"
#define SHA RID RID

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/covship-spooltest.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_lock_and_temporaries(void **state)
{
	struct spool a, b;
	char err[512], path[128];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/sp", dir);
	assert_int_equal(spool_open(&a, path, err, sizeof(err)), 0);
	assert_int_equal(spool_open(&b, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	spool_close(&a);
	snprintf(path, sizeof(path), "%s/sp/.x.tar.gz.tmp.123", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/sp", dir);
	assert_int_equal(spool_open(&a, path, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/sp/.x.tar.gz.tmp.123", dir);
	assert_int_equal(access(path, F_OK), -1); /* a crash's temporary is gone */
	spool_close(&a);
}

static void test_seq_survives_restart(void **state)
{
	struct plan_file f = { "run-x/.coverage.a", 17, { 10, 99, 5 } };
	struct plan p = { RID, 0, "", "k", "2026-11-25T09:00:00.000Z", false, NULL, &f, 1, "" };
	struct spool sp;
	char err[512], path[128];
	unsigned long s1, s2, s3;

	(void)state;
	snprintf(path, sizeof(path), "%s/seq", dir);
	assert_int_equal(spool_open(&sp, path, err, sizeof(err)), 0);
	assert_int_equal(spool_alloc_seq(&sp, RID, &s1), 0);
	assert_int_equal(spool_alloc_seq(&sp, RID, &s2), 0);
	assert_int_equal(s1, 1);
	assert_int_equal(s2, 1); /* no plan used 1 yet: nothing to skip */
	p.seq = s1;
	snprintf(p.bundle, sizeof(p.bundle), RID "-%06lu.tar.gz", p.seq);
	assert_int_equal(spool_plan_create(&sp, &p), 0); /* as ship.c creates plans */
	assert_int_equal(spool_pending(&sp), 1);
	assert_int_equal(spool_alloc_seq(&sp, RID, &s2), 0);
	assert_int_equal(s2, 2); /* planned: taken */
	assert_int_equal(spool_plan_remove(&sp, &p), 0);
	spool_close(&sp);
	assert_int_equal(spool_open(&sp, path, err, sizeof(err)), 0);
	assert_int_equal(spool_alloc_seq(&sp, RID, &s3), 0);
	assert_int_equal(s3, 2); /* the plan is gone, its number is never handed out twice */
	assert_int_equal(spool_alloc_seq(&sp, "not-a-run-id", &s3), -22);
	spool_close(&sp);
}

static void test_plan_round_trip(void **state)
{
	struct plan_file files[2] = {
		{ "run-x/.coverage.a", 17, { 10, 99, 1234567890123456789LL } },
		{ "odd\xff name\n", 10, { 0, 1, 5 } },
	};
	struct plan p = { RID, 5, RID "-000005.tar.gz", "k/" RID "-000005.tar.gz",
			  "2026-11-25T09:00:00.000Z", false, NULL, files, 2, "" };
	struct spool sp;
	struct plan *v;
	char err[512], path[128], bad[65] = "ABC";
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/plan", dir);
	assert_int_equal(spool_open(&sp, path, err, sizeof(err)), 0);
	assert_int_equal(spool_plan_write(&sp, &p), 0);
	assert_int_equal(spool_pending(&sp), 1);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].key, p.key);
	assert_string_equal(v[0].bundle, p.bundle);
	assert_int_equal(v[0].seq, 5);
	assert_false(v[0].delivered);
	assert_string_equal(v[0].bundle_sha256, ""); /* none recorded yet */
	assert_int_equal(v[0].nfiles, 2);
	assert_memory_equal(v[0].files[1].path, "odd\xff name\n", 10);
	assert_int_equal(v[0].files[0].id.mtime_ns, 1234567890123456789LL);
	assert_int_equal(v[0].files[0].id.ino, 99);
	/* what bundle_build records, read back; a malformed one is ignored */
	assert_int_equal(spool_plan_record_sha(path, &v[0], SHA), 0);
	spool_plans_free(v, n);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_string_equal(v[0].bundle_sha256, SHA);
	assert_int_equal(v[0].nfiles, 2);
	assert_int_equal(spool_plan_record_sha(path, &v[0], bad), 0);
	spool_plans_free(v, n);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_string_equal(v[0].bundle_sha256, "");
	v[0].delivered = true;
	memcpy(v[0].bundle_sha256, SHA, 65);
	assert_int_equal(spool_plan_write(&sp, &v[0]), 0);
	spool_plans_free(v, n);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_true(v[0].delivered);
	assert_string_equal(v[0].bundle_sha256, SHA);
	/* the next seq of that run is above the planned one */
	{
		unsigned long s;

		assert_int_equal(spool_alloc_seq(&sp, RID, &s), 0);
		assert_int_equal(s, 6);
	}
	assert_int_equal(spool_plan_remove(&sp, &v[0]), 0);
	assert_int_equal(spool_pending(&sp), 0);
	spool_plans_free(v, n);
	spool_close(&sp);
}

static void put(const char *sp, const char *name, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sp, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(body, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int exists(const char *sp, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", sp, name);
	return access(path, F_OK) == 0;
}

/*
 * spool_plan_create does not fsync: a machine crash before the fsync that
 * precedes the bundle's name can leave a plan torn (empty, cut short), and
 * then it has no bundle. Such a plan is removed (its files are planned
 * again); a torn plan next to a bundle is not ours to judge and stays, as
 * does a whole plan without a bundle (not bundled yet).
 */
static void test_torn_plan(void **state)
{
	struct plan_file f = { "run-x/.coverage.a", 17, { 10, 99, 5 } };
	struct plan p = { RID, 3, RID "-000003.tar.gz", "k", "2026-11-25T09:00:00.000Z", false,
			  NULL, &f, 1, "" };
	struct spool sp;
	struct plan *v;
	char err[512], path[128];
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/torn", dir);
	assert_int_equal(spool_open(&sp, path, err, sizeof(err)), 0);
	put(path, RID "-000001.plan.json", "");
	put(path, RID "-000002.plan.json", "{\"schema\":1,\"run_id\":\"" RID);
	put(path, RID "-000004.plan.json", "");
	put(path, RID "-000004.tar.gz", "bundle bytes");
	put(path, RID "-000005.plan.json", "{\"schema\":1");
	put(path, RID "-000005.tar.zst", "bundle bytes");
	assert_int_equal(spool_plan_create(&sp, &p), 0);
	assert_int_equal(spool_pending(&sp), 5);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, 3); /* the whole plan without a bundle is kept */
	spool_plans_free(v, n);
	assert_false(exists(path, RID "-000001.plan.json")); /* torn, no bundle: gone */
	assert_false(exists(path, RID "-000002.plan.json"));
	/* control: torn but with a bundle (either compression): left in place */
	assert_true(exists(path, RID "-000004.plan.json"));
	assert_true(exists(path, RID "-000005.plan.json"));
	assert_int_equal(spool_pending(&sp), 3);
	spool_close(&sp);
}

/* The group variants ship.c's finish_group uses: a mark without the
 * directory fsync survives as spool_plan_write's, and removing a group
 * out of order (the highest number first) still leaves the seq file above
 * every number of the group, so none is handed out twice. */
static void test_group_mark_and_remove(void **state)
{
	struct plan_file f = { "run-x/.coverage.a", 17, { 10, 99, 5 } };
	struct plan p[3], *g[3];
	struct spool sp;
	struct plan *v;
	char err[512], path[128];
	unsigned long s;
	size_t n, i;

	(void)state;
	snprintf(path, sizeof(path), "%s/group", dir);
	assert_int_equal(spool_open(&sp, path, err, sizeof(err)), 0);
	for (i = 0; i < 3; i++) {
		p[i] = (struct plan){ RID, i + 1, "", "k", "2026-11-25T09:00:00.000Z", false, NULL,
				      &f, 1, "" };
		snprintf(p[i].bundle, sizeof(p[i].bundle), RID "-%06lu.tar.gz", p[i].seq);
		assert_int_equal(spool_plan_create(&sp, &p[i]), 0);
	}
	p[1].delivered = true;
	assert_int_equal(spool_plan_mark(&sp, &p[1]), 0);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_false(v[0].delivered);
	assert_true(v[1].delivered);
	spool_plans_free(v, n);
	g[0] = &p[2]; /* finished before the others */
	assert_int_equal(spool_plans_remove(&sp, g, 1), 0);
	g[0] = &p[1];
	g[1] = &p[0];
	assert_int_equal(spool_plans_remove(&sp, g, 2), 0);
	assert_int_equal(spool_pending(&sp), 0);
	spool_close(&sp);
	assert_int_equal(spool_open(&sp, path, err, sizeof(err)), 0);
	assert_int_equal(spool_alloc_seq(&sp, RID, &s), 0);
	assert_int_equal(s, 4); /* not 2: the seq file never goes down */
	spool_close(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_and_temporaries),
		cmocka_unit_test(test_seq_survives_restart),
		cmocka_unit_test(test_plan_round_trip),
		cmocka_unit_test(test_torn_plan),
		cmocka_unit_test(test_group_mark_and_remove),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
