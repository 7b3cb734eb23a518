/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	struct plan_file f = { "run-x/.coverage.a", 17, { 10, 99, 5 }, false, "", 0 };
	struct plan p = { RID, 0, "", "k", "2026-11-25T09:00:00.000Z", false, NULL, &f, 1, false,
			  { 0 }, "" };
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

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A plan round-trips, with its written set (which files went into the
 * bundle: ship.c removes only those). */
static void test_plan_round_trip(void **state)
{
	struct plan_file files[2] = {
		{ "run-x/.coverage.a", 17, { 10, 99, 1234567890123456789LL }, true, SHA_A, 0 },
		{ "odd\xff name\n", 10, { 0, 1, 5 }, false, "", 0 },
	};
	struct plan p = { RID, 5, RID "-000005.tar.gz", "k/" RID "-000005.tar.gz",
			  "2026-11-25T09:00:00.000Z", false, NULL, files, 2, true,
			  { "s3://b/X/", "/cov\xff dir", 9, 18446744073709551615ULL, 42 }, "" };
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
	assert_true(v[0].bundled);
	assert_true(v[0].files[0].written);
	assert_string_equal(v[0].files[0].sha256, SHA_A);
	assert_false(v[0].files[1].written); /* left out: never removed */
	/* the origin: destination and directory, exact (a dev above 2^53, raw bytes) */
	assert_true(origin_known(&v[0].origin));
	assert_true(origin_same_dest(&v[0].origin, &p.origin));
	assert_true(origin_same_dir(&v[0].origin, &p.origin));
	assert_int_equal(v[0].origin.dirlen, 9);
	assert_memory_equal(v[0].origin.dir, "/cov\xff dir", 9);
	/* what bundle_build records, read back; a malformed one is ignored */
	memcpy(v[0].bundle_sha256, SHA, 65);
	assert_int_equal(spool_plan_create(&sp, &v[0]), 0);
	spool_plans_free(v, n);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_string_equal(v[0].bundle_sha256, SHA);
	assert_int_equal(v[0].nfiles, 2);
	memcpy(v[0].bundle_sha256, bad, sizeof(bad));
	assert_int_equal(spool_plan_create(&sp, &v[0]), 0);
	spool_plans_free(v, n);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_string_equal(v[0].bundle_sha256, "");
	v[0].delivered = true;
	memcpy(v[0].bundle_sha256, SHA, 65);
	assert_int_equal(spool_plan_write(&sp, &v[0]), 0);
	spool_plans_free(v, n);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_true(v[0].delivered);
	assert_true(v[0].bundled && v[0].files[0].written && !v[0].files[1].written);
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
	struct plan_file f = { "run-x/.coverage.a", 17, { 10, 99, 5 }, false, "", 0 };
	struct plan p = { RID, 3, RID "-000003.tar.gz", "k", "2026-11-25T09:00:00.000Z", false,
			  NULL, &f, 1, false, { 0 }, "" };
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
	/* bundles named with a spool id (any: the torn plan cannot say which) */
	put(path, RID "-000006.plan.json", "");
	put(path, RID "-0123456789abcdef-000006.tar.gz", "bundle bytes");
	put(path, RID "-000007.plan.json", "{");
	put(path, RID "-deadbeef-000007.tar.zst", "bundle bytes");
	/* control: another seq's bundle is not this plan's */
	put(path, RID "-000008.plan.json", "");
	put(path, RID "-0123456789abcdef-000018.tar.gz", "bundle bytes");
	assert_int_equal(spool_plan_create(&sp, &p), 0);
	assert_int_equal(spool_pending(&sp), 8);
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, 3); /* the whole plan without a bundle is kept */
	spool_plans_free(v, n);
	assert_false(exists(path, RID "-000001.plan.json")); /* torn, no bundle: gone */
	assert_false(exists(path, RID "-000002.plan.json"));
	/* control: torn but with a bundle (either compression): left in place */
	assert_true(exists(path, RID "-000004.plan.json"));
	assert_true(exists(path, RID "-000005.plan.json"));
	assert_true(exists(path, RID "-000006.plan.json"));
	assert_true(exists(path, RID "-000007.plan.json"));
	assert_false(exists(path, RID "-000008.plan.json"));
	assert_int_equal(spool_pending(&sp), 5);
	spool_close(&sp);
}

/* The group variants ship.c's finish_group uses: a mark without the
 * directory fsync survives as spool_plan_write's, and removing a group
 * out of order (the highest number first) still leaves the seq file above
 * every number of the group, so none is handed out twice. */
static void test_group_mark_and_remove(void **state)
{
	struct plan_file f = { "run-x/.coverage.a", 17, { 10, 99, 5 }, false, "", 0 };
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
				      &f, 1, false, { 0 }, "" };
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

/* A plan of an older covship (no "bundled"): nothing is known to be in
 * its bundle, so ship.c removes none of its sources. A "sha256" that is
 * not one makes the plan unreadable (left in place next to its bundle),
 * never a written set. */
static void test_written_set_absent_or_bad(void **state)
{
	static const char old[] = "{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":7,"
		"\"bundle\":\"" RID "-000007.tar.gz\",\"key\":\"k\",\"created\":\"2026-11-25T09:00:"
		"00.000Z\",\"delivered\":true,\"marker\":null,\"files\":[{\"path\":\"run-x/.cov"
		"erage.a\",\"size\":17,\"ino\":\"99\",\"mtime_ns\":\"5\"}]}";
	static const char bad[] = "{\"schema\":1,\"run_id\":\"" RID "\",\"seq\":8,"
		"\"bundle\":\"" RID "-000008.tar.gz\",\"key\":\"k\",\"created\":\"2026-11-25T09:00:"
		"00.000Z\",\"delivered\":true,\"bundled\":true,\"marker\":null,\"files\":[{\"path"
		"\":\"run-x/.coverage.b\",\"size\":17,\"ino\":\"99\",\"mtime_ns\":\"5\","
		"\"sha256\":\"abc\"}]}";
	struct spool sp;
	struct plan *v;
	char err[512], path[128];
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/written", dir);
	assert_int_equal(spool_open(&sp, path, err, sizeof(err)), 0);
	put(path, RID "-000007.plan.json", old);
	put(path, RID "-000007.tar.gz", "bundle");
	put(path, RID "-000008.plan.json", bad);
	put(path, RID "-000008.tar.gz", "bundle");
	assert_int_equal(spool_plan_load_all(&sp, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].seq, 7);
	assert_true(v[0].delivered);
	assert_false(v[0].bundled);
	assert_false(v[0].files[0].written);
	spool_plans_free(v, n);
	assert_true(exists(path, RID "-000008.plan.json"));
	spool_close(&sp);
}

static void read_id(const char *sp, char *buf, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/spool-id", sp);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, (int)len, f));
	assert_int_equal(fclose(f), 0);
	buf[strcspn(buf, "\n")] = '\0';
}

/* Every spool gets its own random id, kept across restarts; a spool that
 * has none (made by an older covship) gets one; a damaged one is refused. */
static void test_spool_id(void **state)
{
	struct spool a, b;
	char err[512], pa[128], pb[128], id[64];

	(void)state;
	snprintf(pa, sizeof(pa), "%s/ida", dir);
	snprintf(pb, sizeof(pb), "%s/idb", dir);
	assert_int_equal(spool_open(&a, pa, err, sizeof(err)), 0);
	assert_int_equal(strlen(a.id), SPOOL_ID_LEN);
	read_id(pa, id, sizeof(id));
	assert_string_equal(id, a.id);
	assert_int_equal(spool_open(&b, pb, err, sizeof(err)), 0);
	assert_string_not_equal(a.id, b.id); /* 64 random bits each */
	spool_close(&b);
	strcpy(id, a.id);
	spool_close(&a);
	assert_int_equal(spool_open(&a, pa, err, sizeof(err)), 0);
	assert_string_equal(a.id, id); /* kept: names stay deterministic across restarts */
	spool_close(&a);
	put(pa, "spool-id", "not hex\n");
	assert_int_equal(spool_open(&a, pa, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "spool-id"));
	put(pa, "spool-id", "00c0ffee\n"); /* 8 digits: accepted */
	assert_int_equal(spool_open(&a, pa, err, sizeof(err)), 0);
	assert_string_equal(a.id, "00c0ffee");
	spool_close(&a);
}

/* The default spool is on the volume: a symlink or a directory others may
 * write is refused there (control: spool_open, for --spool, follows it). */
static void test_private(void **state)
{
	struct spool sp;
	char err[512], real[128], link_[128];

	(void)state;
	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(link_, sizeof(link_), "%s/link", dir);
	assert_int_equal(spool_open_private(&sp, real, err, sizeof(err)), 0);
	spool_close(&sp);
	assert_int_equal(symlink(real, link_), 0);
	assert_int_equal(spool_open_private(&sp, link_, err, sizeof(err)), -1);
	assert_int_equal(spool_open(&sp, link_, err, sizeof(err)), 0);
	spool_close(&sp);
	assert_int_equal(chmod(real, 0777), 0);
	assert_int_equal(spool_open_private(&sp, real, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not private"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spool_id),
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_lock_and_temporaries),
		cmocka_unit_test(test_seq_survives_restart),
		cmocka_unit_test(test_plan_round_trip),
		cmocka_unit_test(test_torn_plan),
		cmocka_unit_test(test_group_mark_and_remove),
		cmocka_unit_test(test_written_set_absent_or_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
