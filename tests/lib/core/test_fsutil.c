/* SPDX-License-Identifier: MIT */
/*
 * unlink_if_same(): only the planned file is ever removed. A file renamed
 * over the path (before the check or while the removal runs) stays, with
 * its bytes, and no private name (FSUTIL_UNLINK_PREFIX) is left behind.
 * Real files in a scratch directory, no mocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static char scratch[64];
static int rootfd = -1;

static int setup(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/covship-fsutil.XXXXXX");
	if (!mkdtemp(scratch))
		return -1;
	rootfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write content to relpath (relative to the scratch dir); its identity. */
static struct file_id make(const char *relpath, const char *content)
{
	struct file_id id;
	struct stat st;
	int fd = openat(rootfd, relpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(close(fd), 0);
	file_id_from_stat(&st, &id);
	return id;
}

/* The bytes of relpath, or "" when it does not exist. */
static const char *content(const char *relpath)
{
	static char buf[256];
	int fd = openat(rootfd, relpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return "";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* How many private names of unlink_if_same() are in dir. */
static int private_names(const char *dir)
{
	int fd = openat(rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	struct dirent *de;
	DIR *d;

	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, FSUTIL_UNLINK_PREFIX, strlen(FSUTIL_UNLINK_PREFIX));
	closedir(d);
	return n;
}

static void test_same_file_removed(void **state)
{
	struct file_id id;

	(void)state;
	assert_int_equal(mkdirat(rootfd, "sub", 0755), 0);
	id = make("sub/.coverage.a", "planned");
	assert_int_equal(unlink_if_same(rootfd, "sub/.coverage.a", &id), 0);
	assert_int_equal(faccessat(rootfd, "sub/.coverage.a", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(private_names("sub"), 0);
	/* already gone, and a directory that is gone: nothing to do */
	assert_int_equal(unlink_if_same(rootfd, "sub/.coverage.a", &id), 0);
	assert_int_equal(unlink_if_same(rootfd, "nodir/.coverage.a", &id), 0);
}

static void test_replaced_file_kept(void **state)
{
	struct file_id id;

	(void)state;
	id = make(".coverage.b", "planned");
	make(".coverage.b.new", "another file");
	assert_int_equal(renameat(rootfd, ".coverage.b.new", rootfd, ".coverage.b"), 0);
	assert_int_equal(unlink_if_same(rootfd, ".coverage.b", &id), -ESTALE);
	assert_string_equal(content(".coverage.b"), "another file");
	assert_int_equal(private_names("."), 0);
	assert_int_equal(unlinkat(rootfd, ".coverage.b", 0), 0);
}

static void test_not_regular_kept(void **state)
{
	struct file_id id;

	(void)state;
	id = make(".coverage.c", "planned");
	assert_int_equal(unlinkat(rootfd, ".coverage.c", 0), 0);
	assert_int_equal(symlinkat("/etc/passwd", rootfd, ".coverage.c"), 0);
	assert_int_equal(unlink_if_same(rootfd, ".coverage.c", &id), -ESTALE);
	assert_int_equal(unlinkat(rootfd, ".coverage.c", 0), 0);
	assert_int_equal(mkdirat(rootfd, ".coverage.c", 0755), 0);
	assert_int_equal(unlink_if_same(rootfd, ".coverage.c", &id), -ESTALE);
	assert_int_equal(unlinkat(rootfd, ".coverage.c", AT_REMOVEDIR), 0);
	assert_int_equal(private_names("."), 0);
}

/* The race the private name closes: another file renamed over the path
 * while unlink_if_same() runs, at a varying moment (both sides spin a
 * varying while after a common start). Whatever the moment, the file
 * renamed in must survive. */
#define RACE_ROUNDS 2000

struct racer {
	atomic_int go;   /* the last round the racer may start */
	atomic_int done; /* the last round the racer finished */
	atomic_bool stop;
	int err;         /* the racer's rename failed: errno */
};

static void spin(unsigned n)
{
	volatile unsigned i;

	for (i = 0; i < n; i++)
		;
}

static void *rename_over(void *arg)
{
	struct racer *r = arg;
	char name[64];
	int round;

	for (round = 0;; round++) {
		while (atomic_load(&r->go) < round && !atomic_load(&r->stop))
			sched_yield();
		if (atomic_load(&r->stop))
			return NULL;
		spin((unsigned)(round * 37) % 3000);
		snprintf(name, sizeof(name), ".coverage.r.%d", round);
		if (renameat(rootfd, name, rootfd, ".coverage.r") < 0)
			r->err = errno; /* cmocka's failures belong to the main thread */
		atomic_store(&r->done, round);
	}
}

static void test_rename_race(void **state)
{
	struct racer r;
	pthread_t t;
	int round, stale = 0;

	(void)state;
	atomic_init(&r.go, -1);
	atomic_init(&r.done, -1);
	atomic_init(&r.stop, false);
	r.err = 0;
	assert_int_equal(pthread_create(&t, NULL, rename_over, &r), 0);
	for (round = 0; round < RACE_ROUNDS; round++) {
		struct file_id id = make(".coverage.r", "planned");
		char name[64];
		int e;

		snprintf(name, sizeof(name), ".coverage.r.%d", round);
		make(name, "renamed in");
		atomic_store(&r.go, round);
		spin((unsigned)(round * 53) % 3000);
		e = unlink_if_same(rootfd, ".coverage.r", &id);
		while (atomic_load(&r.done) < round)
			sched_yield();
		if (r.err)
			fail_msg("round %d: rename: %s", round, strerror(r.err));
		assert_true(e == 0 || e == -ESTALE);
		stale += e == -ESTALE;
		if (strcmp(content(".coverage.r"), "renamed in"))
			fail_msg("round %d: the file renamed over the path was deleted", round);
		assert_int_equal(private_names("."), 0);
		assert_int_equal(unlinkat(rootfd, ".coverage.r", 0), 0);
	}
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("%d of %d removals found the path replaced\n", stale, RACE_ROUNDS);
}

/* An earlier removal cut short after its move to a private name (a
 * SIGKILL): the next call for the same file finishes it; a private name
 * holding another file (another identity) is kept. */
static void test_interrupted_removal_finished(void **state)
{
	struct file_id id, other;

	(void)state;
	assert_int_equal(mkdirat(rootfd, "cut", 0755), 0);
	id = make("cut/.coverage.c", "planned");
	other = make("cut/.coverage.d", "someone else's");
	assert_int_equal(renameat(rootfd, "cut/.coverage.c", rootfd,
				  "cut/" FSUTIL_UNLINK_PREFIX "1.aaaa"), 0);
	assert_int_equal(renameat(rootfd, "cut/.coverage.d", rootfd,
				  "cut/" FSUTIL_UNLINK_PREFIX "2.bbbb"), 0);
	assert_int_equal(private_names("cut"), 2);
	assert_int_equal(unlink_if_same(rootfd, "cut/.coverage.c", &id), 0);
	assert_int_equal(private_names("cut"), 1);
	assert_string_equal(content("cut/" FSUTIL_UNLINK_PREFIX "2.bbbb"), "someone else's");
	(void)other;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_file_removed),
		cmocka_unit_test(test_replaced_file_kept),
		cmocka_unit_test(test_not_regular_kept),
		cmocka_unit_test(test_interrupted_removal_finished),
		cmocka_unit_test(test_rename_race),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
