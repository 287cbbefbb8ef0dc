/*
 * monitor.c - MONITOR: every command any client runs, on any shard, as one
 * line to every monitoring client ("+<sec>.<usec> [<db> <addr>] "cmd" ...").
 *
 * A monitor lives on its own shard like any connection.  The shard that
 * dispatches a command formats its line once and hands it to every shard
 * with monitors: its own monitors get it at once, another shard's through
 * that shard's inbox (a mutex-guarded buffer it drains at its next turn,
 * woken as for a message).  Lines from one shard reach a monitor in the
 * order that shard dispatched them; lines of different shards interleave
 * as they arrive, and a shard delivers what its inbox holds before a line
 * of its own, so a command logged elsewhere before it was forwarded here
 * stays ahead of what it does here (EVAL, then the script's commands).  The inbox takes a lock, which the hot path never does:
 * without monitors the cost is one relaxed load per command.
 *
 * Which commands, as Redis 7.0: everything but admin commands (MONITOR,
 * CONFIG, DEBUG, ...); AUTH's and HELLO AUTH's secrets show as
 * "(redacted)"; commands queued by MULTI are shown when EXEC runs them,
 * EXEC after them.
 *
 * Not here: the MONITOR command's table entry (multi.c's family, with the
 * other connection-state commands of the runtime).
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "base/kv.h"
#include "server/shard.h"

struct monitor_inbox {
	pthread_mutex_t lock;
	struct kv_buf lines;
	_Atomic bool pending;
};

/* One inbox per shard, made on first use (MONITOR is rare). */
static struct monitor_inbox *inbox_of(struct shard *s)
{
	struct monitor_inbox *in = atomic_load(&s->monitor_inbox);
	if (in)
		return in;
	struct monitor_inbox *fresh = kv_calloc(1, sizeof(*fresh));
	pthread_mutex_init(&fresh->lock, NULL);
	struct monitor_inbox *expect = NULL;
	if (atomic_compare_exchange_strong(&s->monitor_inbox, &expect, fresh))
		return fresh;
	pthread_mutex_destroy(&fresh->lock);
	free(fresh);
	return expect;
}

void monitor_add(struct shard *s, struct conn *c)
{
	if (c->monitor)
		return;
	c->monitor = true;
	c->monitor_next = s->monitors;
	s->monitors = c;
	inbox_of(s);
	atomic_fetch_add(&s->nmonitors, 1);
	atomic_fetch_add(&g_server.monitors, 1);
}

void monitor_conn_drop(struct shard *s, struct conn *c)
{
	if (!c->monitor)
		return;
	for (struct conn **pp = &s->monitors; *pp; pp = &(*pp)->monitor_next) {
		if (*pp == c) {
			*pp = c->monitor_next;
			break;
		}
	}
	c->monitor = false;
	c->monitor_next = NULL;
	atomic_fetch_sub(&s->nmonitors, 1);
	atomic_fetch_sub(&g_server.monitors, 1);
}

static void deliver(struct shard *s, const char *p, size_t n)
{
	for (struct conn *m = s->monitors; m; m = m->monitor_next) {
		if (m->io_closed || m->close_after_reply)
			continue;
		kv_buf_append(shard_conn_push_begin(s, m), p, n);
		shard_conn_push_end(s, m);
	}
}

/* An argument as Redis's sdscatrepr quotes it. */
static void monitor_repr(struct kv_buf *b, const char *p, size_t n)
{
	kv_buf_append_char(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		switch (ch) {
		case '\\': kv_buf_append(b, "\\\\", 2); break;
		case '"': kv_buf_append(b, "\\\"", 2); break;
		case '\n': kv_buf_append(b, "\\n", 2); break;
		case '\r': kv_buf_append(b, "\\r", 2); break;
		case '\t': kv_buf_append(b, "\\t", 2); break;
		case '\a': kv_buf_append(b, "\\a", 2); break;
		case '\b': kv_buf_append(b, "\\b", 2); break;
		default:
			if (ch >= 0x20 && ch < 0x7f)
				kv_buf_append_char(b, (char)ch);
			else
				kv_buf_printf(b, "\\x%02x", ch);
		}
	}
	kv_buf_append_char(b, '"');
}

/* Whether argument i of the call is a secret (AUTH's, HELLO ... AUTH's). */
static bool monitor_redacted(int argc, const struct kv_slice *argv, int i)
{
	if (arg_is(&argv[0], "auth"))
		return i >= 1;
	if (!arg_is(&argv[0], "hello"))
		return false;
	for (int j = 2; j + 2 < argc; j++)
		if (arg_is(&argv[j], "auth"))
			return i == j + 1 || i == j + 2;
	return false;
}

void monitor_feed(struct shard *s, const struct conn *c, uint32_t db,
		  const struct kv_command *cmd, int argc, const struct kv_slice *argv)
{
	monitor_feed_from(s, c->addr, db, cmd, argc, argv);
}

void monitor_feed_from(struct shard *s, const char *who, uint32_t db,
		       const struct kv_command *cmd, int argc, const struct kv_slice *argv)
{
	if (cmd->flags & CMD_ADMIN)
		return;
	struct kv_buf line = KV_BUF_INIT;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	kv_buf_printf(&line, "+%ld.%06ld [%u %s] ", (long)tv.tv_sec, (long)tv.tv_usec, db, who);
	for (int i = 0; i < argc; i++) {
		if (i)
			kv_buf_append_char(&line, ' ');
		if (monitor_redacted(argc, argv, i))
			kv_buf_append_str(&line, "\"(redacted)\"");
		else
			monitor_repr(&line, argv[i].ptr, argv[i].len);
	}
	kv_buf_append(&line, "\r\n", 2);
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *t = g_server.shards[i];
		if (atomic_load_explicit(&t->nmonitors, memory_order_relaxed) == 0)
			continue;
		if (t == s) {
			/* Lines other shards left in this shard's inbox came
			 * first (an EVAL dispatched elsewhere before its script
			 * ran here): out before this one. */
			monitor_turn(s);
			deliver(s, line.data, line.len);
			continue;
		}
		struct monitor_inbox *in = inbox_of(t);
		pthread_mutex_lock(&in->lock);
		kv_buf_append(&in->lines, line.data, line.len);
		pthread_mutex_unlock(&in->lock);
		if (!atomic_exchange(&in->pending, true))
			shard_wake(t);
	}
	kv_buf_free(&line);
}

void monitor_turn(struct shard *s)
{
	struct monitor_inbox *in = atomic_load_explicit(&s->monitor_inbox, memory_order_acquire);
	if (!in || !atomic_load_explicit(&in->pending, memory_order_relaxed))
		return;
	pthread_mutex_lock(&in->lock);
	atomic_store(&in->pending, false);
	struct kv_buf lines = in->lines;
	kv_buf_init(&in->lines);
	pthread_mutex_unlock(&in->lock);
	deliver(s, lines.data, lines.len);
	kv_buf_free(&lines);
}

void monitor_shard_free(struct shard *s)
{
	struct monitor_inbox *in = atomic_load(&s->monitor_inbox);
	if (!in)
		return;
	kv_buf_free(&in->lines);
	pthread_mutex_destroy(&in->lock);
	free(in);
	atomic_store(&s->monitor_inbox, NULL);
}
