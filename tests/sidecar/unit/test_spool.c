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
	struct plan p = { RID, 0, "", "k", "2026-11-25T09:00:00.000Z", false, NULL, &f, 1 };
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
			  "2026-11-25T09:00:00.000Z", false, NULL, files, 2 };
	struct spool sp;
	struct plan *v;
	char err[512], path[128];
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
	assert_int_equal(v[0].nfiles, 2);
	assert_memory_equal(v[0].files[1].path, "odd\xff name\n", 10);
	assert_int_equal(v[0].files[0].id.mtime_ns, 1234567890123456789LL);
	assert_int_equal(v[0].files[0].id.ino, 99);
	v[0].delivered = true;
	assert_int_equal(spool_plan_write(&sp, &v[0]), 0);
	spool_plans_free(v, n);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_true(v[0].delivered);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_and_temporaries),
		cmocka_unit_test(test_seq_survives_restart),
		cmocka_unit_test(test_plan_round_trip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
