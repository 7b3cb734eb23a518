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

#include "pull_combine.h"
#include "pull_delivery.h"
#include "pull_extract.h"
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
		cmocka_unit_test(test_xml_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
