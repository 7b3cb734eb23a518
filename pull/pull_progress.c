/* SPDX-License-Identifier: MIT */
#include "pull_progress.h"

#include <stdio.h>
#include <unistd.h>

#include "log.h"

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void now(struct timespec *t)
{
	/* CLOCK_MONOTONIC cannot fail on Linux; a zero time only makes the
	 * rate limiting lenient. */
	if (clock_gettime(CLOCK_MONOTONIC, t) < 0)
		t->tv_sec = t->tv_nsec = 0;
}

void pull_progress_start(struct pull_progress *p, size_t n, uint64_t bytes)
{
	*p = (struct pull_progress){ .total = n, .total_bytes = bytes };
	p->on = log_get_level() >= LOG_LEVEL_INFO;
	p->tty = p->on && !log_get_json() && isatty(STDERR_FILENO) == 1;
	now(&p->start);
	p->last = p->start;
}

static void human(char *buf, size_t len, double b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

static void format_line(const struct pull_progress *p, double elapsed, char *out, size_t len)
{
	char done[32], total[32], rate[32], eta[32];
	double r = elapsed > 0 ? (double)p->done_bytes / elapsed : 0;

	human(done, sizeof(done), (double)p->done_bytes);
	human(total, sizeof(total), (double)p->total_bytes);
	human(rate, sizeof(rate), r);
	if (r > 0 && p->done < p->total)
		snprintf(eta, sizeof(eta), "%.0f s",
			 (double)(p->total_bytes - p->done_bytes) / r);
	else
		snprintf(eta, sizeof(eta), p->done < p->total ? "?" : "0 s");
	snprintf(out, len, "progress: %zu/%zu bundles, %s of %s, %s/s, ETA %s", p->done,
		 p->total, done, total, rate, eta);
}

void pull_progress_step(struct pull_progress *p, uint64_t bytes)
{
	struct timespec t;
	double elapsed, gap;
	char line[200];

	p->done++;
	p->done_bytes += bytes;
	if (!p->on)
		return;
	now(&t);
	elapsed = since(&p->start, &t);
	gap = since(&p->last, &t);
	if (p->tty) {
		/* The first and the last state always; in between at most
		 * every PULL_PROGRESS_TTY_MS. */
		if (p->drawn && p->done < p->total && gap * 1000 < PULL_PROGRESS_TTY_MS)
			return;
		format_line(p, elapsed, line, sizeof(line));
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
		p->drawn = true;
	} else {
		if (elapsed < PULL_PROGRESS_QUIET_S || gap < PULL_PROGRESS_QUIET_S)
			return;
		format_line(p, elapsed, line, sizeof(line));
		log_info("%s", line);
	}
	p->last = t;
}

void pull_progress_end(struct pull_progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = false;
}
