/*
 * slowlog.c - the per-shard slow log and SLOWLOG GET's merge of every
 * shard's log (commands/slowlog.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/kv.h"
#include "base/util_num.h"
#include "commands/slowlog.h"
#include "proto/resp.h"

_Atomic int64_t slowlog_slower_than_us = 10000;
_Atomic int64_t slowlog_max_len = 128;

/* Ids of every shard's entries: one counter, so a merge is ordered. */
static _Atomic uint64_t slowlog_next_id;

void slowlog_init(struct slowlog *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
}

static void slowlog_free_list(struct slowlog_entry *e)
{
	while (e) {
		struct slowlog_entry *next = e->next;
		free(e);
		e = next;
	}
}

void slowlog_free(struct slowlog *l)
{
	slowlog_free_list(l->head);
	l->head = NULL;
	l->len = 0;
	pthread_mutex_destroy(&l->lock);
}

void slowlog_reset(struct slowlog *l)
{
	pthread_mutex_lock(&l->lock);
	struct slowlog_entry *e = l->head;
	l->head = NULL;
	l->len = 0;
	pthread_mutex_unlock(&l->lock);
	slowlog_free_list(e);
}

/* Which arguments Redis 7.0 stores as "(redacted)": the secrets of AUTH,
 * HELLO ... AUTH user pass, ACL SETUSER and CONFIG SET of a password. */
static bool slowlog_redacted(int argc, const struct kv_slice *argv, int i)
{
	if (arg_is(&argv[0], "auth"))
		return i >= 1;
	if (arg_is(&argv[0], "hello")) {
		for (int j = 2; j + 2 < argc; j++)
			if (arg_is(&argv[j], "auth") && (i == j + 1 || i == j + 2))
				return true;
		return false;
	}
	/* ACL SETUSER's user and rules (passwords among them). */
	if (arg_is(&argv[0], "acl") && argc >= 2 && arg_is(&argv[1], "setuser"))
		return i >= 2;
	if (arg_is(&argv[0], "config") && argc >= 2 && arg_is(&argv[1], "set"))
		return i >= 3 && (i % 2) == 1 &&
		       (arg_is(&argv[i - 1], "requirepass") || arg_is(&argv[i - 1], "masterauth"));
	return false;
}

/* One stored argument: the original, shortened or replaced. */
struct slowlog_arg {
	const char *p;
	size_t n;
	char tail[48];
	size_t tn;
};

static void slowlog_arg(int argc, const struct kv_slice *argv, int i, int kept,
			struct slowlog_arg *a)
{
	a->tn = 0;
	if (kept < argc && i == kept - 1) {
		a->p = "";
		a->n = 0;
		a->tn = (size_t)snprintf(a->tail, sizeof(a->tail), "... (%d more arguments)",
					 argc - kept + 1);
		return;
	}
	if (slowlog_redacted(argc, argv, i)) {
		a->p = "(redacted)";
		a->n = strlen(a->p);
		return;
	}
	a->p = argv[i].ptr;
	a->n = argv[i].len;
	if (a->n > SLOWLOG_ARG_MAX) {
		a->tn = (size_t)snprintf(a->tail, sizeof(a->tail), "... (%zu more bytes)",
					 a->n - SLOWLOG_ARG_MAX);
		a->n = SLOWLOG_ARG_MAX;
	}
}

void slowlog_push(struct slowlog *l, int argc, const struct kv_slice *argv, int64_t duration_us,
		  const char *peer, const char *name)
{
	int64_t max = atomic_load_explicit(&slowlog_max_len, memory_order_relaxed);
	int kept = argc > SLOWLOG_ARGC_MAX ? SLOWLOG_ARGC_MAX : argc;
	struct slowlog_arg args[SLOWLOG_ARGC_MAX];
	size_t bytes = strlen(peer) + strlen(name);
	for (int i = 0; i < kept; i++) {
		slowlog_arg(argc, argv, i, kept, &args[i]);
		bytes += args[i].n + args[i].tn;
	}
	/* One allocation: the entry, its slices, then every byte. */
	struct slowlog_entry *e = kv_malloc(sizeof(*e) + (size_t)kept * sizeof(struct kv_slice) +
					    bytes + 1);
	e->argv = (struct kv_slice *)(e + 1);
	char *p = (char *)(e->argv + kept);
	for (int i = 0; i < kept; i++) {
		e->argv[i].ptr = p;
		memcpy(p, args[i].p, args[i].n);
		memcpy(p + args[i].n, args[i].tail, args[i].tn);
		e->argv[i].len = args[i].n + args[i].tn;
		p += e->argv[i].len;
	}
	e->peer.ptr = p;
	e->peer.len = strlen(peer);
	memcpy(p, peer, e->peer.len);
	p += e->peer.len;
	e->name.ptr = p;
	e->name.len = strlen(name);
	memcpy(p, name, e->name.len);
	e->argc = kept;
	e->duration_us = duration_us;
	e->time_s = (int64_t)time(NULL);
	struct slowlog_entry *drop = NULL;
	pthread_mutex_lock(&l->lock);
	e->id = atomic_fetch_add_explicit(&slowlog_next_id, 1, memory_order_relaxed);
	e->next = l->head;
	l->head = e;
	l->len++;
	if (max >= 0 && l->len > (uint64_t)max) {
		/* Cut the list after the max-th entry. */
		struct slowlog_entry **pp = &l->head;
		for (int64_t i = 0; i < max; i++)
			pp = &(*pp)->next;
		drop = *pp;
		*pp = NULL;
		l->len = (uint64_t)max;
	}
	pthread_mutex_unlock(&l->lock);
	slowlog_free_list(drop);
}

static void slowlog_lock_all(struct slowlog **logs, uint32_t n, bool lock)
{
	for (uint32_t i = 0; i < n; i++) {
		if (lock)
			pthread_mutex_lock(&logs[i]->lock);
		else
			pthread_mutex_unlock(&logs[n - 1 - i]->lock);
	}
}

/* The merged length: every shard keeps up to slowlog-max-len entries, the
 * server shows the newest slowlog-max-len of them all. */
static uint64_t slowlog_len_locked(struct slowlog **logs, uint32_t n)
{
	uint64_t len = 0;
	for (uint32_t i = 0; i < n; i++)
		len += logs[i]->len;
	int64_t max = atomic_load_explicit(&slowlog_max_len, memory_order_relaxed);
	return max >= 0 && len > (uint64_t)max ? (uint64_t)max : len;
}

uint64_t slowlog_len(struct slowlog **logs, uint32_t n)
{
	slowlog_lock_all(logs, n, true);
	uint64_t len = slowlog_len_locked(logs, n);
	slowlog_lock_all(logs, n, false);
	return len;
}

static void slowlog_reply_entry(struct kv_buf *out, const struct slowlog_entry *e)
{
	resp_array(out, 6);
	resp_int(out, (int64_t)e->id);
	resp_int(out, e->time_s);
	resp_int(out, e->duration_us);
	resp_array(out, e->argc);
	for (int i = 0; i < e->argc; i++)
		resp_bulk(out, e->argv[i].ptr, e->argv[i].len);
	resp_bulk(out, e->peer.ptr, e->peer.len);
	resp_bulk(out, e->name.ptr, e->name.len);
}

void slowlog_reply_get(struct kv_buf *out, struct slowlog **logs, uint32_t n, int64_t count)
{
	/* Locks are taken in shard order, by every caller: no cycle. */
	slowlog_lock_all(logs, n, true);
	uint64_t len = slowlog_len_locked(logs, n);
	uint64_t want = count < 0 || (uint64_t)count > len ? len : (uint64_t)count;
	struct slowlog_entry **cur = kv_calloc(n ? n : 1, sizeof(*cur));
	for (uint32_t i = 0; i < n; i++)
		cur[i] = logs[i]->head;
	resp_array(out, (int64_t)want);
	for (uint64_t k = 0; k < want; k++) {
		uint32_t best = UINT32_MAX;
		for (uint32_t i = 0; i < n; i++)
			if (cur[i] && (best == UINT32_MAX || cur[i]->id > cur[best]->id))
				best = i;
		kv_assert(best != UINT32_MAX);
		slowlog_reply_entry(out, cur[best]);
		cur[best] = cur[best]->next;
	}
	free(cur);
	slowlog_lock_all(logs, n, false);
}
