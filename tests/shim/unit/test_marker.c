/* SPDX-License-Identifier: MIT */
/*
 * The marker contract (docs/shim.md): run.json and done.json content, the
 * files on disk in a real temporary directory, the stale done.json removal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "marker.h"

static const struct marker_run run = {
	.run_id = "0123456789abcdef0123456789abcdef",
	.started = "2026-11-25T09:00:00.123Z",
	.shim_pid = 1,
	.shim_version = "1.2.3",
};

static cJSON *parse_owned(char *text)
{
	cJSON *o;

	assert_non_null(text);
	o = cJSON_Parse(text);
	cJSON_free(text);
	assert_non_null(o);
	return o;
}

static void assert_str(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_true(cJSON_IsString(v));
	assert_string_equal(v->valuestring, want);
}

static void assert_num(const cJSON *o, const char *key, double want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_true(cJSON_IsNumber(v));
	assert_true(v->valuedouble == want);
}

static void assert_is_null(const cJSON *o, const char *key)
{
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key)));
}

static int count_keys(const cJSON *o)
{
	return cJSON_GetArraySize(o);
}

static void test_run_json(void **state)
{
	cJSON *o = parse_owned(marker_run_json(&run));

	(void)state;
	assert_num(o, "schema", 1);
	assert_str(o, "run_id", run.run_id);
	assert_str(o, "started", run.started);
	assert_num(o, "shim_pid", 1);
	assert_str(o, "shim_version", "1.2.3");
	assert_str(o, "data_dir", "run-0123456789abcdef0123456789abcdef");
	assert_int_equal(count_keys(o), 6);
	cJSON_Delete(o);
}

static struct proclist sample_descendants(void)
{
	struct proclist l = { 0 };
	struct proc_record *a = proclist_get(&l, 10);
	struct proc_record *b = proclist_get(&l, 11);
	struct proc_record *c = proclist_get(&l, 12);

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	proc_record_reaped(a, 3 << 8);   /* exit(3) */
	a->killed_by_other = true;
	b->killed_at_grace = true;
	proc_record_reaped(b, SIGKILL);  /* killed by signal 9 */
	c->killed_at_grace = true;       /* killed, but its parent reaped it */
	return l;
}

static void test_done_json(void **state)
{
	struct proclist l = sample_descendants();
	struct procsnap_entry te[] = {
		{ .pid = 10, .ppid = 2, .start_ticks = 81234, .cmd = "gunicorn: worker [app]" },
	};
	struct procsnap t = { .v = te, .n = 1, .taken = true, .truncated = true };
	struct marker_done d = {
		.status = "grace-expired",
		.main = { .pid = 2, .exit_code = -1, .signal = 15, .reaped = true },
		.exit_status = 143,
		.descendants = &l,
		.tree = &t,
		.grace_ms = 2500,
		.stop_requested = "2026-11-25T09:00:01.000Z",
		.finished = "2026-11-25T09:00:03.500Z",
	};
	cJSON *o = parse_owned(marker_done_json(&run, &d));
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "main");
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "descendants");
	const cJSON *e;

	(void)state;
	assert_num(o, "schema", 1);
	assert_str(o, "run_id", run.run_id);
	assert_str(o, "status", "grace-expired");
	assert_num(m, "pid", 2);
	assert_is_null(m, "exit_code");
	assert_num(m, "signal", 15);
	assert_num(o, "exit_status", 143);
	assert_num(o, "grace_seconds", 2.5);
	assert_str(o, "started", run.started);
	assert_str(o, "stop_requested", "2026-11-25T09:00:01.000Z");
	assert_str(o, "finished", "2026-11-25T09:00:03.500Z");
	assert_str(o, "shim_version", "1.2.3");
	assert_int_equal(count_keys(o), 14);
	arr = cJSON_GetObjectItemCaseSensitive(o, "tree_at_stop");
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	e = cJSON_GetArrayItem(arr, 0);
	assert_num(e, "pid", 10);
	assert_num(e, "ppid", 2);
	assert_num(e, "start_ticks", 81234);
	assert_str(e, "cmd", "gunicorn: worker [app]");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "tree_at_stop_truncated")));
	/* 10 died of a SIGKILL the shim did not send; cmd from the tree. */
	arr = cJSON_GetObjectItemCaseSensitive(o, "killed_by_others");
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	assert_num(cJSON_GetArrayItem(arr, 0), "pid", 10);
	assert_str(cJSON_GetArrayItem(arr, 0), "cmd", "gunicorn: worker [app]");
	arr = cJSON_GetObjectItemCaseSensitive(o, "descendants");

	assert_int_equal(cJSON_GetArraySize(arr), 3);
	e = cJSON_GetArrayItem(arr, 0);
	assert_num(e, "pid", 10);
	assert_num(e, "exit_code", 3);
	assert_is_null(e, "signal");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "killed_at_grace")));
	e = cJSON_GetArrayItem(arr, 1);
	assert_is_null(e, "exit_code");
	assert_num(e, "signal", 9);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "killed_at_grace")));
	e = cJSON_GetArrayItem(arr, 2);
	assert_is_null(e, "exit_code");
	assert_is_null(e, "signal");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "killed_at_grace")));
	cJSON_Delete(o);
	proclist_free(&l);
}

static void test_done_json_complete(void **state)
{
	struct marker_done d = {
		.status = "complete",
		.main = { .pid = 7, .exit_code = 0, .signal = 0, .reaped = true },
		.exit_status = 0,
		.descendants = NULL,
		.grace_ms = 25000,
		.stop_requested = NULL,
		.finished = "2026-11-25T09:00:03.500Z",
	};
	cJSON *o = parse_owned(marker_done_json(&run, &d));

	(void)state;
	assert_str(o, "status", "complete");
	assert_num(cJSON_GetObjectItemCaseSensitive(o, "main"), "exit_code", 0);
	assert_is_null(cJSON_GetObjectItemCaseSensitive(o, "main"), "signal");
	assert_is_null(o, "stop_requested");
	assert_num(o, "grace_seconds", 25);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "descendants")),
			 0);
	assert_is_null(o, "tree_at_stop"); /* no snapshot taken */
	assert_int_equal(
		cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "killed_by_others")), 0);
	cJSON_Delete(o);
}

/* ---- on disk ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_tmp(void **state)
{
	char *dir = strdup("/tmp/covship-marker-test.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	*state = dir;
	return 0;
}

static int remove_tmp(void **state)
{
	(void)nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static cJSON *read_json(const char *dir, const char *name)
{
	char path[512], buf[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/.covship/%s", dir, name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	close(fd);
	buf[n] = '\0';
	return cJSON_Parse(buf);
}

static void assert_exists(const char *dir, const char *rel, bool want_dir)
{
	char path[512];
	struct stat st;

	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, rel) < (int)sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(S_ISDIR(st.st_mode), want_dir);
}

/* Entries of DIR/.covship other than "." and "..". */
static int count_entries(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/.covship", dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_begin_and_finish(void **state)
{
	const char *dir = *state;
	char err[512], stale[512], data[512];
	struct marker_done d = { .status = "complete",
				 .main = { .pid = 2, .exit_code = 0, .reaped = true },
				 .grace_ms = 1000,
				 .finished = "2026-11-25T09:00:03.500Z" };
	cJSON *o;
	int fd;

	/* A previous run's done.json in the same volume. */
	snprintf(stale, sizeof(stale), "%s/.covship", dir);
	assert_int_equal(mkdir(stale, 0755), 0);
	snprintf(stale, sizeof(stale), "%s/.covship/done.json", dir);
	fd = open(stale, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"run_id\":\"old\"}", 16), 16);
	close(fd);

	assert_int_equal(marker_begin(dir, &run, err, sizeof(err)), 0);
	assert_int_equal(access(stale, F_OK), -1); /* removed before the child starts */
	assert_exists(dir, "run-0123456789abcdef0123456789abcdef", true);
	o = read_json(dir, "run.json");
	assert_non_null(o);
	assert_str(o, "run_id", run.run_id);
	cJSON_Delete(o);
	assert_int_equal(marker_data_dir(dir, &run, data, sizeof(data)), 0);
	assert_non_null(strstr(data, "/run-0123456789abcdef0123456789abcdef"));

	assert_int_equal(marker_finish(dir, &run, &d, err, sizeof(err)), 0);
	o = read_json(dir, "done.json");
	assert_non_null(o);
	assert_str(o, "run_id", run.run_id);
	assert_str(o, "status", "complete");
	cJSON_Delete(o);
	/* Atomic writes leave no temporaries behind: run.json and done.json only. */
	assert_int_equal(count_entries(dir), 2);
}

static void test_begin_twice_same_volume(void **state)
{
	const char *dir = *state;
	char err[512];
	struct marker_run second = run;

	memcpy(second.run_id, "ffffffffffffffffffffffffffffffff", RUNID_LEN);
	assert_int_equal(marker_begin(dir, &run, err, sizeof(err)), 0);
	assert_int_equal(marker_begin(dir, &second, err, sizeof(err)), 0);
	assert_exists(dir, "run-0123456789abcdef0123456789abcdef", true);
	assert_exists(dir, "run-ffffffffffffffffffffffffffffffff", true);
	{
		cJSON *o = read_json(dir, "run.json");

		assert_str(o, "run_id", second.run_id);
		cJSON_Delete(o);
	}
}

static void test_begin_not_a_directory(void **state)
{
	char path[512], err[512];
	int fd;

	snprintf(path, sizeof(path), "%s/file", (const char *)*state);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	/* Works for root too, unlike a permission test. */
	assert_int_equal(marker_begin(path, &run, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOTDIR)));
}

static void test_begin_creates_missing_dir(void **state)
{
	char path[512], err[512];

	snprintf(path, sizeof(path), "%s/new", (const char *)*state);
	assert_int_equal(marker_begin(path, &run, err, sizeof(err)), 0);
	assert_exists(path, ".covship/run.json", false);
}

/* A volume set up for a shared group (group-owned, set-group-ID): the
 * directories the shim creates keep the bit and the group, so the workers'
 * files belong to the group a non-root sidecar reads them through. Control:
 * a volume without the bit gives directories without it (no bit invented). */
static void test_begin_keeps_setgid(void **state)
{
	const char *dir = *state;
	char err[512], path[512];
	gid_t gid = getgid() == 0 ? 10001 : getgid();
	struct stat st;

	assert_int_equal(chown(dir, (uid_t)-1, gid), 0);
	assert_int_equal(chmod(dir, 02770), 0);
	assert_int_equal(marker_begin(dir, &run, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/run-%s", dir, run.run_id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02777);
	assert_int_equal(st.st_gid, gid);
	snprintf(path, sizeof(path), "%s/.covship", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_mode & S_ISGID);
	assert_int_equal(st.st_gid, gid);

	snprintf(path, sizeof(path), "%s/plain", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(marker_begin(path, &run, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/plain/run-%s", dir, run.run_id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0777);
}

/* Command lines go into done.json as printable, valid UTF-8. */
static void test_cmdline_sanitize(void **state)
{
	static const char raw[] = "python3\0-c\0print('\xc3\xa9')\n\xff\0\0";
	char buf[64], small[8];

	(void)state;
	procsnap_sanitize(raw, sizeof(raw) - 1, buf, sizeof(buf));
	assert_string_equal(buf, "python3 -c print('\xc3\xa9')??");
	/* Cut on a character boundary: never half of "é". */
	procsnap_sanitize("abcdef\xc3\xa9", 8, small, sizeof(small));
	assert_string_equal(small, "abcdef");
	procsnap_sanitize("", 0, small, sizeof(small));
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_json),
		cmocka_unit_test(test_done_json),
		cmocka_unit_test(test_done_json_complete),
		cmocka_unit_test(test_cmdline_sanitize),
		cmocka_unit_test_setup_teardown(test_begin_and_finish, make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_begin_twice_same_volume, make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_begin_not_a_directory, make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_begin_creates_missing_dir, make_tmp,
						remove_tmp),
		cmocka_unit_test_setup_teardown(test_begin_keeps_setgid, make_tmp, remove_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
