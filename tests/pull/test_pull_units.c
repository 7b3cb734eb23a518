/* SPDX-License-Identifier: MIT */
/* cmocka units of pull's pure parts: archive path safety, --map parsing,
 * reading the totals of a coverage.xml. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "pull_accounting.h"
#include "pull_combine.h"
#include "pull_delivery.h"
#include "pull_extract.h"
#include "pull_limits.h"
#include "pull_report.h"

static bool safe(const char *p)
{
	return pull_path_safe(p, strlen(p));
}

static void test_path_safe(void **state)
{
	static const char *const good[] = { "a", "a/b", ".coverage.h.1.2", "run-x/.coverage",
					     "a..b", "...", "a/.b", "..a", "a/b..", "sp ace/x" };
	static const char *const bad[] = { "", "/a", "..", "../a", "a/../b", "a/..", ".",
					    "./a", "a/./b", "a//b", "a/", "//", "/", "../../etc/x" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(safe(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(safe(bad[i]));
}

static void expect_map(const char *arg, const char *src, const char *dst)
{
	struct pull_map m;
	char err[256];

	assert_int_equal(pull_map_parse(arg, &m, err, sizeof(err)), 0);
	assert_string_equal(m.src, src);
	assert_string_equal(m.dst, dst);
	free(m.src);
	free(m.dst);
}

static void test_map_parse(void **state)
{
	static const char *const bad[] = { "noequals", "=/ws", "/app=", "/app*=/ws",
					    "/a\nb=/ws", " /app=/ws", "/app=/ws ", "" };
	char cwd[4096], want[4200], err[256];
	struct pull_map m;
	size_t i;

	(void)state;
	expect_map("/app=/ws", "/app", "/ws");
	expect_map("/app=/ws/", "/app", "/ws");
	expect_map("*/app=/w=s", "*/app", "/w=s"); /* split at the first '=' */
	expect_map("/app=/", "/app", "/");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/rel", cwd);
	expect_map("/app=rel", "/app", want);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(pull_map_parse(bad[i], &m, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "--map"));
		assert_null(m.src);
		assert_null(m.dst);
	}
}

static int write_tmp(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/covship-pull-unit.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Sizes with suffixes; garbage, 0 and overflow refused. Limits: the
 * ratio is only judged above the floor, and each cap names its option. */
static void test_limits(void **state)
{
	struct pull_limits l;
	uint64_t v = 7;

	(void)state;
	assert_int_equal(pull_parse_size("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(pull_parse_size("16M", &v), 0);
	assert_int_equal(v, 16u << 20);
	assert_int_equal(pull_parse_size("2GiB", &v), 0);
	assert_int_equal(v, (uint64_t)2 << 30);
	assert_int_equal(pull_parse_size("1k", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(pull_parse_size("0", &v), -1);
	assert_int_equal(pull_parse_size("-1", &v), -1);
	assert_int_equal(pull_parse_size(" 1", &v), -1);
	assert_int_equal(pull_parse_size("1X", &v), -1);
	assert_int_equal(pull_parse_size("1MX", &v), -1);
	assert_int_equal(pull_parse_size("99999999999T", &v), -1);
	assert_int_equal(pull_parse_size("", &v), -1);
	assert_int_equal(pull_parse_ratio("1000", &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(pull_parse_ratio("0", &v), -1);
	assert_int_equal(pull_parse_ratio("1.5", &v), -1);

	pull_limits_default(&l);
	assert_null(pull_limits_exceeded(&l, 1000, PULL_RATIO_FLOOR)); /* at the floor */
	assert_string_equal(pull_limits_exceeded(&l, 1000, PULL_RATIO_FLOOR + 1), "--max-ratio");
	assert_null(pull_limits_exceeded(&l, 0, (uint64_t)1 << 30)); /* size unknown */
	assert_null(pull_limits_exceeded(&l, (uint64_t)1 << 30, PULL_DEFAULT_MAX_BUNDLE_BYTES));
	assert_string_equal(pull_limits_exceeded(&l, (uint64_t)1 << 30,
						 PULL_DEFAULT_MAX_BUNDLE_BYTES + 1),
			    "--max-bundle-bytes");
	l.used_total = PULL_DEFAULT_MAX_TOTAL_BYTES - 10;
	assert_null(pull_limits_exceeded(&l, 10, 10));
	assert_string_equal(pull_limits_exceeded(&l, 11, 11), "--max-total-bytes");
	l.used_total = 0;
	l.max_ratio = UINT64_MAX; /* no overflow in compressed * ratio */
	assert_null(pull_limits_exceeded(&l, 2, (uint64_t)1 << 31));
}

static void test_report_totals(void **state)
{
	char path[64], err[256];
	struct pull_totals t;

	(void)state;
	assert_int_equal(write_tmp(path, "<?xml version=\"1.0\" ?>\n<coverage version=\"6.5.0\" "
				   "lines-valid=\"40\" lines-covered=\"25\" line-rate=\"0.625\">"
				   "<sources/><packages/></coverage>\n"), 0);
	assert_int_equal(pull_report_totals(path, &t, err, sizeof(err)), 0);
	assert_true(t.line_rate > 0.6249 && t.line_rate < 0.6251);
	assert_int_equal(t.lines_covered, 25);
	assert_int_equal(t.lines_valid, 40);
	unlink(path);

	/* No line-rate: not a coverage.py report. */
	assert_int_equal(write_tmp(path, "<coverage lines-valid=\"1\"/>"), 0);
	assert_int_equal(pull_report_totals(path, &t, err, sizeof(err)), -1);
	unlink(path);
	assert_int_equal(write_tmp(path, "<other line-rate=\"1\"/>"), 0);
	assert_int_equal(pull_report_totals(path, &t, err, sizeof(err)), -1);
	unlink(path);
	assert_int_equal(write_tmp(path, "not xml at all"), 0);
	assert_int_equal(pull_report_totals(path, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not XML"));
	unlink(path);
	assert_int_equal(pull_report_totals("/nonexistent/coverage.xml", &t, err, sizeof(err)),
			 -1);
}

/* pid of NAME, or -1 when it is not a coverage.py parallel file name. */
static long pid_of(const char *name)
{
	long pid = -2;

	return pull_coverage_file_pid(name, &pid) ? pid : -1;
}

static void test_coverage_file_pid(void **state)
{
	(void)state;
	assert_int_equal(pid_of(".coverage.host.12.345678"), 12);
	assert_int_equal(pid_of("run-x/.coverage.web-1.1234.000042"), 1234);
	/* A dotted host name (ECS: ip-10-0-1-2.ec2.internal). */
	assert_int_equal(pid_of(".coverage.ip-10-0-1-2.ec2.internal.7.123456"), 7);
	/* An empty host; another data_file name; coverage.py 7's X...x. */
	assert_int_equal(pid_of(".coverage..99.123456"), 99);
	assert_int_equal(pid_of("cov.db.h.4194304.000001"), 4194304);
	assert_int_equal(pid_of(".coverage.h.55.XabcDEfx"), 55);
	/* Not parallel data files, or not a pid where the pid goes. */
	assert_int_equal(pid_of(".coverage"), -1);
	assert_int_equal(pid_of("covship-manifest.json"), -1);
	assert_int_equal(pid_of(".coverage.12.345678"), -1);  /* no host part */
	assert_int_equal(pid_of(".coverage.h.012.345678"), -1); /* leading zero */
	assert_int_equal(pid_of(".coverage.h.0.345678"), -1);
	assert_int_equal(pid_of(".coverage.h.12a.345678"), -1);
	assert_int_equal(pid_of(".coverage.h..345678"), -1);
	assert_int_equal(pid_of(".coverage.h.12.34567a"), -1);
	assert_int_equal(pid_of(".coverage.h.12."), -1);
	assert_int_equal(pid_of(".coverage.h.12.Xx"), -1);
	assert_int_equal(pid_of(".coverage.h.1234567890.345678"), -1); /* > 9 digits */
	assert_int_equal(pid_of("x/.12.345678"), -1);
	assert_int_equal(pid_of(""), -1);
}

static void test_is_python(void **state)
{
	(void)state;
	assert_true(pull_acct_is_python("/usr/bin/python3 -m gunicorn app.wsgi"));
	assert_true(pull_acct_is_python("python3.11 x.py"));
	assert_true(pull_acct_is_python("gunicorn: worker [app.wsgi]"));
	assert_true(pull_acct_is_python("/venv/bin/uvicorn app:app"));
	assert_true(pull_acct_is_python("pypy3 x.py"));
	assert_false(pull_acct_is_python("/bin/sh -c python3 x.py"));
	assert_false(pull_acct_is_python("nginx: worker process"));
	assert_false(pull_acct_is_python(""));
}

/* One bundle of run R with the given data files and a marker whose tree is
 * TREE (JSON); returns the number of missing writers, their pids in OUT. */
static size_t missing_of(const char *tree, const char *const *files, size_t nfiles,
			 long *out)
{
	struct manifest m = { .run_id = "0123456789abcdef0123456789abcdef" };
	struct manifest_file f[8] = { 0 };
	const struct pull_missing_writer *w;
	struct pull_acct *a = pull_acct_new();
	char json[2048];
	size_t n;

	snprintf(json, sizeof(json), "{\"run_id\":\"%s\",\"status\":\"complete\","
		 "\"tree_at_stop\":%s}", m.run_id, tree);
	m.marker = cJSON_Parse(json);
	assert_non_null(a);
	assert_non_null(m.marker);
	for (size_t i = 0; i < nfiles; i++)
		f[i].path = (char *)files[i];
	m.files = f;
	m.nfiles = nfiles;
	assert_int_equal(pull_acct_add_bundle(a, &m), 0);
	n = pull_acct_missing(a, m.run_id, &w);
	for (size_t i = 0; i < n; i++)
		out[i] = w[i].pid;
	cJSON_Delete(m.marker);
	pull_acct_free(a);
	return n;
}

static void test_accounting_rule(void **state)
{
	/* sh -> gunicorn master -> 2 workers + multiprocessing's tracker. */
	const char *gunicorn =
		"[{\"pid\":2,\"ppid\":1,\"cmd\":\"/bin/sh -c gunicorn\"},"
		"{\"pid\":3,\"ppid\":2,\"cmd\":\"/usr/bin/python3 -m gunicorn app\"},"
		"{\"pid\":4,\"ppid\":3,\"cmd\":\"gunicorn: worker [app]\"},"
		"{\"pid\":5,\"ppid\":3,\"cmd\":\"gunicorn: worker [app]\"},"
		"{\"pid\":6,\"ppid\":3,\"cmd\":\"python3 -c from "
		"multiprocessing.resource_tracker import main;main(9)\"}]";
	const char *one = ".coverage.h.4.123456", *both[] = { one, ".coverage.h.5.000001" };
	const char *other = ".coverage.h.77.123456";
	long pids[8];

	(void)state;
	/* Worker 5 left nothing; the master and the tracker are not expected. */
	assert_int_equal(missing_of(gunicorn, &one, 1, pids), 1);
	assert_int_equal(pids[0], 5);
	assert_int_equal(missing_of(gunicorn, both, 2, pids), 0);
	/* A lone Python process is its own writer. */
	assert_int_equal(missing_of("[{\"pid\":7,\"ppid\":1,\"cmd\":\"python3 app.py\"}]",
				    &other, 1, pids), 1);
	assert_int_equal(pids[0], 7);
	/* No tree (an older shim): no finding. */
	assert_int_equal(missing_of("null", NULL, 0, pids), 0);
}

static void xml_is(const char *in, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	pull_xml_escape(f, in);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, want);
	free(buf);
}

/* --junit: XML specials escaped, tab/newline kept as references, control
 * bytes, invalid UTF-8 (stray continuation, overlong, surrogate, truncated)
 * and U+FFFE replaced; valid multi-byte text untouched. */
static void test_xml_escape(void **state)
{
	(void)state;
	xml_is("a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f");
	xml_is("t\tn\nr\r", "t&#9;n&#10;r&#13;");
	xml_is("\x01\x1b\x7f.", "???.");
	xml_is("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	xml_is("\x80\xc0\xaf\xed\xa0\x80\xef\xbf\xbe\xe2\x82", "???????????"); /* one per byte: 11 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_safe),
		cmocka_unit_test(test_map_parse),
		cmocka_unit_test(test_report_totals),
		cmocka_unit_test(test_coverage_file_pid),
		cmocka_unit_test(test_is_python),
		cmocka_unit_test(test_accounting_rule),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_xml_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
