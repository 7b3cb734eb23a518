/* SPDX-License-Identifier: MIT */
#include "proclist.h"

#include <stdlib.h>
#include <sys/wait.h>

/*
 * A linear scan: shutdown deals with a handful of processes, and even the
 * 10,000-orphan storm only costs milliseconds.
 */
struct proc_record *proclist_find_live(struct proclist *l, pid_t pid)
{
	for (size_t i = l->n; i-- > 0;)
		if (l->v[i].pid == pid && !l->v[i].reaped)
			return &l->v[i];
	return NULL;
}

struct proc_record *proclist_get(struct proclist *l, pid_t pid)
{
	struct proc_record *r = proclist_find_live(l, pid);

	if (r)
		return r;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct proc_record *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	r = &l->v[l->n++];
	*r = (struct proc_record){ .pid = pid, .exit_code = -1, .signal = 0 };
	return r;
}

void proc_record_reaped(struct proc_record *r, int status)
{
	r->reaped = true;
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

void proclist_free(struct proclist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
