/* SPDX-License-Identifier: MIT */
#include "procsnap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proctree.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		len = 2, cp = p[0] & 0x1F;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		len = 3, cp = p[0] & 0x0F;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

void procsnap_sanitize(const char *raw, size_t n, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t in = 0, out = 0;

	while (in < n) {
		size_t l = utf8_len(p + in, n - in);

		if (l > 1) {
			if (out + l >= len)
				break; /* never half a character */
			memcpy(buf + out, p + in, l);
			out += l;
			in += l;
			continue;
		}
		if (out + 1 >= len)
			break;
		if (p[in] == '\0')
			buf[out++] = ' '; /* the separator between arguments */
		else if (l == 0 || p[in] < 0x20 || p[in] == 0x7F)
			buf[out++] = '?';
		else
			buf[out++] = (char)p[in];
		in++;
	}
	while (out > 0 && buf[out - 1] == ' ')
		out--;
	buf[out] = '\0';
}

/* Up to len bytes of a /proc file; -1 when it cannot be read. */
static ssize_t read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	(void)close(fd);
	return n;
}

void procsnap_cmdline(pid_t pid, char *buf, size_t len)
{
	char raw[PROCSNAP_CMD_MAX * 2];
	ssize_t n = read_proc(pid, "cmdline", raw, sizeof(raw));

	procsnap_sanitize(raw, n > 0 ? (size_t)n : 0, buf, len);
}

/* Parent pid (field 4) and start time (field 22) from /proc/PID/stat. */
static int read_stat(pid_t pid, pid_t *ppid, unsigned long long *start)
{
	char buf[1024], *p;
	ssize_t n = read_proc(pid, "stat", buf, sizeof(buf) - 1);
	int field;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold anything, even ") ". */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	for (field = 3; field <= 22; field++) {
		char *end;
		unsigned long long v;

		while (*p == ' ')
			p++;
		if (field == 3) { /* the state letter */
			p++;
			continue;
		}
		errno = 0;
		v = strtoull(p, &end, 10);
		if (end == p || errno)
			return -1;
		if (field == 4)
			*ppid = (pid_t)v;
		if (field == 22)
			*start = v;
		p = end;
	}
	return 0;
}

static int add(struct procsnap *s, pid_t pid)
{
	char cmd[PROCSNAP_CMD_MAX + 1];
	struct procsnap_entry *e;
	pid_t ppid = 0;
	unsigned long long start = 0;
	size_t len;

	if (read_stat(pid, &ppid, &start) < 0)
		return 0; /* gone meanwhile: it was not alive at stop after all */
	procsnap_cmdline(pid, cmd, sizeof(cmd));
	len = strlen(cmd);
	if (s->n >= PROCSNAP_MAX || s->cmd_bytes + len > PROCSNAP_BUDGET) {
		s->truncated = true;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct procsnap_entry *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	e = &s->v[s->n];
	e->cmd = strdup(cmd);
	if (!e->cmd)
		return -ENOMEM;
	e->pid = pid;
	e->ppid = ppid;
	e->start_ticks = start;
	s->n++;
	s->cmd_bytes += len;
	return 0;
}

int procsnap_take(struct procsnap *s, pid_t root)
{
	struct pidvec all = { 0 };
	int err = proctree_descendants(root, &all);

	s->taken = true;
	for (size_t i = 0; i < all.n && !s->truncated; i++) {
		int rc = add(s, all.v[i]);

		if (rc < 0) {
			s->truncated = true; /* out of memory: what we have is still true */
			if (!err)
				err = rc;
			break;
		}
	}
	pidvec_free(&all);
	return err;
}

const struct procsnap_entry *procsnap_find(const struct procsnap *s, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].pid == pid)
			return &s->v[i];
	return NULL;
}

void procsnap_free(struct procsnap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].cmd);
	free(s->v);
	*s = (struct procsnap){ 0 };
}
