/* SPDX-License-Identifier: MIT */
/*
 * A growable NUL-terminated byte string. Allocation failure is sticky: the
 * caller appends freely and checks `oom` once at the end.
 */
#ifndef COVSHIP_S3_STRBUF_H
#define COVSHIP_S3_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *s;
	size_t len;
	size_t cap;
	bool oom;
};

#define STRBUF_INIT { NULL, 0, 0, false }

void sb_append(struct strbuf *b, const void *data, size_t len);
void sb_puts(struct strbuf *b, const char *s);
void sb_putc(struct strbuf *b, char c);
void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the string to the caller (NULL after OOM); the buffer is reset. */
char *sb_steal(struct strbuf *b);
void sb_free(struct strbuf *b);

#endif
