/*
 * stats.c - counting error replies for INFO stats and INFO errorstats
 * (struct shard_stats, commands/runtime.h).
 *
 * The counters are per shard and single-writer: only the shard's own thread
 * calls stat_error() on its stats, so an increment is a relaxed load and
 * store, never a locked instruction.  INFO, on any thread, sums them.
 *
 * Not here: where errors are counted (server/exec.c and server/route.c
 * call this wherever an error reply is made) or how INFO prints them
 * (cmd_info.c).
 */
#include <string.h>

#include "commands/runtime.h"

/* The first word of an error reply, as Redis's afterErrorReply takes it:
 * the bytes after '-' up to the first space within the first 32 bytes;
 * "ERR" when there is none. */
static void stat_error_prefix(const char *reply, size_t len, const char **name, size_t *nlen)
{
	const char *space = len > 1 ? memchr(reply, ' ', len < 32 ? len : 32) : NULL;
	if (reply[0] != '-' || !space || space == reply + 1) {
		*name = "ERR";
		*nlen = 3;
		return;
	}
	*name = reply + 1;
	*nlen = (size_t)(space - reply) - 1;
}

void stat_error(struct shard_stats *st, const char *reply, size_t len)
{
	stat_add(&st->total_error_replies, 1);
	const char *name;
	size_t nlen;
	stat_error_prefix(reply, len, &name, &nlen);
	struct err_stats *es = &st->errors;
	uint32_t n = atomic_load_explicit(&es->n, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++) {
		struct err_stat *e = &es->e[i];
		if (strncmp(e->name, name, nlen) == 0 && e->name[nlen] == '\0') {
			stat_add(&e->count, 1);
			return;
		}
	}
	if (n == ERR_STATS_MAX || nlen >= ERR_STAT_NAME_MAX)
		return;
	struct err_stat *e = &es->e[n];
	memcpy(e->name, name, nlen);
	e->name[nlen] = '\0';
	atomic_store_explicit(&e->count, 1, memory_order_relaxed);
	/* Publishes the name: a reader that sees n + 1 sees it whole. */
	atomic_store_explicit(&es->n, n + 1, memory_order_release);
}
