/* SPDX-License-Identifier: MIT */
#include "pull_report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <expat.h>

struct report_ctx {
	XML_Parser p;
	struct pull_totals *t;
	bool seen_root;
	bool bad_root;
};

static bool parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end;
}

static long parse_long(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	return (errno || end == s || *end || v < 0) ? -1 : v;
}

/* Only the root element matters: read its attributes and stop. */
static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attr)
{
	struct report_ctx *c = data;
	bool rate = false;
	size_t i;

	c->seen_root = true;
	if (strcmp(name, "coverage") == 0) {
		for (i = 0; attr[i]; i += 2) {
			if (!strcmp(attr[i], "line-rate"))
				rate = parse_double(attr[i + 1], &c->t->line_rate);
			else if (!strcmp(attr[i], "lines-covered"))
				c->t->lines_covered = parse_long(attr[i + 1]);
			else if (!strcmp(attr[i], "lines-valid"))
				c->t->lines_valid = parse_long(attr[i + 1]);
		}
	}
	c->bad_root = !rate;
	XML_StopParser(c->p, XML_FALSE);
}

static int feed(struct report_ctx *c, int fd, char *err, size_t errlen)
{
	char buf[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return -1;
		}
		if (XML_Parse(c->p, buf, (int)n, n == 0) == XML_STATUS_ERROR) {
			if (c->seen_root)
				return 0; /* stopped on purpose */
			snprintf(err, errlen, "not XML: %s",
				 XML_ErrorString(XML_GetErrorCode(c->p)));
			return -1;
		}
		if (c->seen_root || n == 0)
			return 0;
	}
}

int pull_report_totals(const char *xml_path, struct pull_totals *t, char *err, size_t errlen)
{
	struct report_ctx c = { .t = t };
	char why[200] = "";
	int fd, rc;

	t->line_rate = 0;
	t->lines_covered = t->lines_valid = -1;
	fd = open(xml_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", xml_path, strerror(errno));
		return -1;
	}
	c.p = XML_ParserCreate(NULL);
	if (!c.p) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	XML_SetUserData(c.p, &c);
	XML_SetStartElementHandler(c.p, on_start);
	rc = feed(&c, fd, why, sizeof(why));
	XML_ParserFree(c.p);
	close(fd);
	if (rc == 0 && (!c.seen_root || c.bad_root)) {
		snprintf(why, sizeof(why), "no <coverage line-rate=...> root element");
		rc = -1;
	}
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", xml_path, why);
	return rc;
}
