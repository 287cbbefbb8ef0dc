/*
 * gate.c - a connection's replies, in command order and held until what they
 * depend on is durable (design.md section 2, "the life of a write").
 *
 * Every command gets its reply in order: straight into the output when
 * nothing before it is still out, else into a reply slot that is released
 * when it and every slot before it are ready.  Under appendfsync always a
 * reply (and a message that carries one to another shard) also waits for the
 * AOF to make durable the LSN it was tagged with; under everysec and no, for
 * the write that put it in the page cache.  A fatal AOF error turns what
 * waits into the error.  The end of each atomic unit (shard_unit_commit)
 * turns the unit's effects into one AOF record here.
 *
 * Not here: running commands (exec.c), routing them (route.c), the loop
 * and sockets (shard.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "commands/config.h"
#include "commands/fx.h"
#include "server/shard.h"

static bool slot_ready(struct shard *s, const struct reply_slot *sl);

/* ------------------------------------------------------------------ */
/* replies in command order */

/* Where the reply of a command that runs now goes: straight to the output
 * when nothing before it is still out, else into a ready slot. */
struct kv_buf *conn_reply_target(struct conn *c)
{
	if (!c->slots_head)
		return &c->out;
	struct reply_slot *slot = kv_calloc(1, sizeof(*slot));
	slot->done = true;
	c->slots_tail->next = slot;
	c->slots_tail = slot;
	return &slot->buf;
}

struct reply_slot *conn_reserve_slot(struct conn *c)
{
	struct reply_slot *slot = kv_calloc(1, sizeof(*slot));
	if (c->slots_tail)
		c->slots_tail->next = slot;
	else
		c->slots_head = slot;
	c->slots_tail = slot;
	return slot;
}

void conn_mark_flush(struct shard *s, struct conn *c)
{
	if (c->in_flush || c->io_closed)
		return;
	c->in_flush = true;
	c->flush_next = s->flush_head;
	s->flush_head = c;
}

void conn_schedule(struct shard *s, struct conn *c)
{
	if (c->in_ready || c->io_closed)
		return;
	c->in_ready = true;
	c->ready_next = NULL;
	if (s->ready_tail)
		s->ready_tail->ready_next = c;
	else
		s->ready_head = c;
	s->ready_tail = c;
}

void conn_release_inflight(struct shard *s, struct conn *c)
{
	kv_assert(c->inflight > 0);
	c->inflight--;
	conn_schedule(s, c);
}

static void fail_conn_slots(struct shard *s, struct conn *c, const char *err);

/* Move every leading slot that may leave now into the output. */
void conn_drain_slots(struct shard *s, struct conn *c)
{
	/* After the AOF failed for good, a reply tagged before the failure
	 * with an LSN that never became durable is the error, also when its
	 * last acknowledgement from another shard arrives only now (it was
	 * not gated when shard_fail_waiting ran). */
	if (s->aof_failed_seen)
		fail_conn_slots(s, c, aof_write_error(&s->aof));
	while (c->slots_head && slot_ready(s, c->slots_head)) {
		struct reply_slot *head = c->slots_head;
		if (!head->discard)
			kv_buf_append(&c->out, head->buf.data, head->buf.len);
		c->slots_head = head->next;
		if (!c->slots_head)
			c->slots_tail = NULL;
		kv_buf_free(&head->buf);
		free(head);
	}
	/* A finished reply held back only by the AOF or notifications: watch
	 * for them. */
	if (c->slots_head && c->slots_head->done && c->slots_head->acks == 0)
		conn_gate(s, c);
	conn_mark_flush(s, c);
}

void conn_fill_slot(struct shard *s, struct conn *c, struct reply_slot *slot,
			   struct kv_buf *reply)
{
	kv_buf_free(&slot->buf);
	slot->buf = *reply;
	kv_buf_init(reply);
	slot->done = true;
	conn_drain_slots(s, c);
}

struct kv_buf *shard_conn_push_begin(struct shard *s, struct conn *c)
{
	/* Whatever writes into a client's own buffers writes for that client,
	 * so its protocol can stay set there. */
	struct kv_buf *out = conn_reply_target(c);
	out->proto = c->proto;
	/* Pushes reach a client whose replies are off, as in Redis. */
	if (out != &c->out)
		c->slots_tail->keep = true;
	return out;
}

void shard_conn_push_end(struct shard *s, struct conn *c)
{
	conn_mark_flush(s, c);
}

/* ------------------------------------------------------------------ */
/* durability: replies and messages held until the AOF is durable */

bool shard_aof_on(void)
{
	/* A replica's files are written by its link, never by its shards. */
	return atomic_load_explicit(&g_config.appendonly, memory_order_relaxed) != 0 &&
	       atomic_load_explicit(&g_server.repl_role, memory_order_relaxed) != REPL_ROLE_REPLICA;
}

enum aof_fsync shard_aof_policy(void)
{
	return (enum aof_fsync)atomic_load_explicit(&g_config.appendfsync, memory_order_relaxed);
}

/* Under appendfsync always a reply leaves only once what it depends on is
 * durable (design.md §2).  After a fatal AOF error nothing more becomes
 * durable: the replies that waited were failed, later ones are not held. */
static bool shard_gates(const struct shard *s)
{
	return shard_aof_on() && s->aof.state != AOF_FAILED;
}

/* What a reply may depend on when it leaves: under appendfsync always, what
 * is fsynced; under everysec and no, what is written to the file (in the
 * page cache, so a crash of the process loses nothing acknowledged, as with
 * Redis, which writes the AOF before it sends replies). */
static uint64_t shard_release_lsn(const struct shard *s)
{
	return shard_aof_policy() == AOF_FSYNC_ALWAYS ? s->aof.durable_lsn : s->aof.written_lsn;
}

/* The LSN a reply produced now waits for (0: none).  A read is tagged too: it
 * may have observed a record that is not durable yet.  While the AOF is
 * refusing writes, new replies are not held (see docs/durability.md). */
uint64_t shard_reply_tag(const struct shard *s)
{
	if (!shard_gates(s) || s->aof.state != AOF_OK)
		return 0;
	/* Released records can still be parts of units that are not stable
	 * (the watermark, shard_lsn_ready): a reply that may have observed
	 * one waits for it too. */
	uint64_t last = s->aof.last_lsn;
	return last > shard_release_lsn(s) || (s->uw_head && s->uw_head->lsn <= last) ? last : 0;
}

/* A record that is not durable: whether it is released under the policy.
 * Without an AOF, yes.  A shard whose AOF failed for good releases nothing
 * more: what waits for such a record becomes the error (shard_fail_waiting,
 * fail_conn_slots), also when it is asked between the failure and its
 * handling.  (A unit that failed on another shard fails the home's AOF in
 * the middle of shard_durability_advance; treating the failed AOF as "no
 * AOF" there let single-shard writes that were never written leave as
 * +OK: test_chains, over-limit case.) */
static bool shard_released(const struct shard *s, uint64_t lsn)
{
	if (!shard_aof_on())
		return true;
	if (s->aof.state == AOF_FAILED)
		return false;
	return shard_release_lsn(s) >= lsn;
}

/* Whether a reply tagged lsn may leave once the watermark must pass wm
 * (lsn itself, or a split tag's dep): nothing at or after a part of a unit
 * that is not stable yet may be acknowledged (commit-wait, below). */
static bool shard_ready_at(const struct shard *s, uint64_t lsn, uint64_t wm, bool durable)
{
	if (wm && s->uw_head && s->uw_head->lsn <= wm && shard_gates(s))
		return false;
	if (lsn == 0 || s->aof.durable_lsn >= lsn)
		return true;
	return !durable && shard_released(s, lsn);
}

bool shard_lsn_ready(const struct shard *s, uint64_t lsn, bool durable)
{
	return shard_ready_at(s, lsn, lsn, durable);
}

bool shard_tag_ready(const struct shard *s, uint64_t lsn, bool split, uint64_t dep, bool durable)
{
	return shard_ready_at(s, lsn, split ? dep : lsn, durable);
}

/* ------------------------------------------------------------------ */
/* key tags: what a read of a few keys waits for */

/*
 * A reply is tagged with its shard's last LSN: it may have observed any
 * record before it, and leaves once the watermark passes that LSN.  A
 * read-only command of declared keys observed only those keys, so it
 * depends only on the newest record that changed one of them (and on what
 * that record depends on, which the watermark covers: M_q >= L means every
 * record at or before L is released and every part of a unit at or before
 * L is stable).  Its tag is that record's LSN (docs/durability.md, "What a
 * read waits for"), so a GET of a key no pending record changed is not
 * held behind other keys' fsyncs or other units' commit-wait.
 *
 * Which records changed a key: the store reports every change of a key to
 * fx on the thread that holds the keyspace, which passes it here (fx's
 * touch hook): the key's fingerprint is kept pending.  When the shard's
 * own thread next holds its keyspace with its unit committed, every record
 * that made a pending change is appended (a holder's parts are appended
 * as its releases arrive, before the keyspace comes back), so the pending
 * keys get the shard's last LSN, at or after their records'.  An entry
 * the watermark passed is dropped.  A fingerprint collision, or a change
 * that finds the table full, only makes reads wait longer: the latter sets
 * all_lsn, which every key's tag includes, as does a flush or SWAPDB.
 *
 * Each entry also keeps what its record depends on: a record is dropped
 * by recovery only with a unit that is not complete, or with an earlier
 * record that named one of its keys.  A single-shard write of declared
 * keys depends on the entries of its keys (shard_write_dep, before it
 * runs) and of every key its record names (shard_write_tag, after: fx
 * reports the keys recovery counts, which can be more than the store
 * changed); its entries get that as their dep, so a later read of its keys
 * needs the write released and that dep stable, not every unit part
 * before the write.  Anything else (a unit's part, an expiry, a holder's
 * changes) gets dep = its LSN: the full watermark.
 */
#define KTAG_SLOTS 8192u         /* power of two; at most half used */
#define KTAG_KEPT (KTAG_SLOTS / 2)
#define KTAG_PENDING 2048u
#define KTAG_BLOOM_BITS 4096u     /* power of two */

struct key_tags {
	uint64_t fp[KTAG_SLOTS];     /* 0: empty */
	uint64_t lsn[KTAG_SLOTS];    /* the newest record that changed the key */
	uint64_t dep[KTAG_SLOTS];    /* the watermark that record needs (<= lsn) */
	uint32_t used;
	/* (fingerprint, LSN) in the order they were set: LSNs never decrease. */
	uint64_t q_fp[KTAG_KEPT], q_lsn[KTAG_KEPT];
	uint32_t q_head, q_len;
	uint64_t pend[KTAG_PENDING];
	uint32_t npend;
	bool pend_all;
	/* Two bits per pending fingerprint: a key whose bits are not both
	 * set is not pending (shard_keys_clean). */
	uint64_t pend_bloom[KTAG_BLOOM_BITS / 64];
	uint64_t all_lsn;            /* every key's tag is at least this */
	/* Finalized last under appendfsync always: entries were dropped only
	 * once fsynced (ktag_finalize). */
	bool always;
};

static uint32_t ktag_bloom_bit(uint64_t fp, int i)
{
	return (uint32_t)(fp >> (i ? 40 : 20)) & (KTAG_BLOOM_BITS - 1);
}

static void ktag_bloom_add(struct key_tags *t, uint64_t fp)
{
	for (int i = 0; i < 2; i++) {
		uint32_t b = ktag_bloom_bit(fp, i);
		t->pend_bloom[b / 64] |= 1ull << (b % 64);
	}
}

static bool ktag_pending(const struct key_tags *t, uint64_t fp)
{
	for (int i = 0; i < 2; i++) {
		uint32_t b = ktag_bloom_bit(fp, i);
		if (!(t->pend_bloom[b / 64] & (1ull << (b % 64))))
			return false;
	}
	for (uint32_t k = 0; k < t->npend; k++)
		if (t->pend[k] == fp)
			return true;
	return false;
}

/* The pending list emptied (its keys got an LSN, or every key did). */
static void ktag_pend_clear(struct key_tags *t)
{
	if (t->npend)
		memset(t->pend_bloom, 0, sizeof(t->pend_bloom));
	t->npend = 0;
}

static uint64_t ktag_fp(uint32_t dbid, const char *key, size_t klen)
{
	uint64_t h = kv_hash64(key, klen, 0x6b65792d74616773ull ^ dbid);
	return h ? h : 1;
}

void shard_key_touched(uint32_t shard, uint32_t dbid, const char *key, size_t klen)
{
	struct shard *s = g_server.shards[shard];
	struct key_tags *t = s->ktags;
	if (!t)
		t = s->ktags = kv_calloc(1, sizeof(*t));
	/* Without an AOF no reply waits: only remember that keys changed
	 * (shard_key_tags_turn), without hashing each. */
	if (!key || t->pend_all || t->npend == KTAG_PENDING || !shard_aof_on()) {
		t->pend_all = true;
		return;
	}
	uint64_t fp = ktag_fp(dbid, key, klen);
	t->pend[t->npend++] = fp;
	ktag_bloom_add(t, fp);
}

/* The newest LSN every reply may depend on now (shard_lsn_ready's bound). */
static uint64_t ktag_ready(const struct shard *s)
{
	if (!shard_gates(s))
		return UINT64_MAX;
	uint64_t r = shard_release_lsn(s);
	if (s->uw_head && s->uw_head->lsn - 1 < r)
		r = s->uw_head->lsn - 1;
	return r;
}

static uint32_t ktag_slot(const struct key_tags *t, uint64_t fp)
{
	uint32_t i = (uint32_t)fp & (KTAG_SLOTS - 1);
	while (t->fp[i] && t->fp[i] != fp)
		i = (i + 1) & (KTAG_SLOTS - 1);
	return i;
}

static void ktag_set(struct key_tags *t, uint64_t fp, uint64_t lsn, uint64_t dep)
{
	uint32_t i = ktag_slot(t, fp);
	if (t->fp[i] == fp && t->lsn[i] == lsn) {
		/* Touched twice in one batch (the store's change and the
		 * record's key): its queue entry is there already. */
		t->dep[i] = KV_MAX(t->dep[i], dep);
		return;
	}
	if ((!t->fp[i] && t->used >= KTAG_KEPT) || t->q_len == KTAG_KEPT) {
		t->all_lsn = lsn;   /* full: every key waits for this one */
		return;
	}
	if (!t->fp[i]) {
		t->fp[i] = fp;
		t->used++;
	}
	t->lsn[i] = lsn;
	t->dep[i] = dep;
	uint32_t at = (t->q_head + t->q_len++) % KTAG_KEPT;
	t->q_fp[at] = fp;
	t->q_lsn[at] = lsn;
}

/* Remove slot i, moving the entries after it back (linear probing). */
static void ktag_remove(struct key_tags *t, uint32_t i)
{
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & (KTAG_SLOTS - 1);
		if (!t->fp[j])
			break;
		uint32_t home = (uint32_t)t->fp[j] & (KTAG_SLOTS - 1);
		/* j's entry may fill the hole at i unless its home lies in
		 * (i, j] cyclically. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		t->fp[i] = t->fp[j];
		t->lsn[i] = t->lsn[j];
		t->dep[i] = t->dep[j];
		i = j;
	}
	t->fp[i] = 0;
	t->lsn[i] = 0;
	t->dep[i] = 0;
	t->used--;
}

static void ktag_finalize(struct shard *s, bool known, uint64_t dep);

void shard_key_tags_turn(struct shard *s)
{
	ktag_finalize(s, false, 0);
}

void shard_key_tags_wrote(struct shard *s, uint64_t dep)
{
	ktag_finalize(s, true, dep);
}

/* Give the pending keys the shard's last LSN, with dep when known (the
 * one write that changed them since the last call), else that LSN; then
 * drop what the watermark passed. */
static void ktag_finalize(struct shard *s, bool known, uint64_t dep)
{
	struct key_tags *t = s->ktags;
	if (!t || s->holder)
		return;
	uint64_t last = s->aof.last_lsn;
	if (!shard_gates(s)) {
		/* Nothing waits: forget every entry.  What changes now is in no
		 * record yet; if the AOF comes back (turned on, a restart of
		 * writes), those keys are in its first records: every key waits
		 * for them once. */
		if (t->used || t->q_len)
			memset(t->fp, 0, sizeof(t->fp));
		t->used = t->q_len = t->q_head = 0;
		ktag_pend_clear(t);
		t->all_lsn = 0;
		t->pend_all = true;
		t->always = false;
		return;
	}
	/* Entries dropped under everysec or no were written, not fsynced:
	 * after a switch to always every key waits for what is there now to
	 * be durable, once. */
	bool always = shard_aof_policy() == AOF_FSYNC_ALWAYS;
	if (always && !t->always)
		t->all_lsn = KV_MAX(t->all_lsn, last);
	t->always = always;
	if (t->pend_all) {
		t->all_lsn = KV_MAX(t->all_lsn, last);
		t->pend_all = false;
		ktag_pend_clear(t);
	}
	for (uint32_t k = 0; k < t->npend; k++)
		ktag_set(t, t->pend[k], last, known ? dep : last);
	ktag_pend_clear(t);
	uint64_t ready = ktag_ready(s);
	while (t->q_len && t->q_lsn[t->q_head] <= ready) {
		uint32_t i = ktag_slot(t, t->q_fp[t->q_head]);
		if (t->fp[i] && t->lsn[i] <= ready)
			ktag_remove(t, i);
		t->q_head = (t->q_head + 1) % KTAG_KEPT;
		t->q_len--;
	}
	if (t->all_lsn <= ready)
		t->all_lsn = 0;
}

void shard_key_tags_free(struct shard *s)
{
	free(s->ktags);
	s->ktags = NULL;
}

/* A read-only command whose declared keys are all it reads: not a script
 * (its keys are a declaration only), not one that reads by pattern or
 * every shard (SORT_RO's BY and GET, DBSIZE), not a blocking one. */
static bool ktag_cmd(const struct kv_command *cmd)
{
	if (!(cmd->flags & CMD_READONLY) ||
	    (cmd->flags & (CMD_WRITE | CMD_ALL_SHARDS | CMD_LOCAL | CMD_BLOCKING |
			   CMD_WAIT_DURABLE | CMD_WAIT_SNAPSHOT)) ||
	    cmd->route || cmd->all_shards || cmd->bcast || cmd->conn_shards ||
	    (cmd->first_key <= 0 && !cmd->keys))
		return false;
	static const char *const scripts[] = { "eval_ro", "evalsha_ro", "fcall_ro" };
	for (size_t i = 0; i < KV_ARRAY_LEN(scripts); i++)
		if (strcmp(cmd->name, scripts[i]) == 0)
			return false;
	return true;
}

/* Commands flagged neither read nor write that still observe keys: they
 * run others (EXEC, scripts) or look at values (DEBUG DIGEST, OBJECT ...,
 * by subcommand). */
static bool ktag_observes(const struct kv_command *cmd)
{
	static const char *const names[] = { "exec", "eval", "evalsha", "fcall", "debug",
					     "object", "memory", "xinfo", "watch" };
	size_t n = strcspn(cmd->name, "|");   /* a subcommand: its family */
	for (size_t i = 0; i < KV_ARRAY_LEN(names); i++)
		if (strlen(names[i]) == n && strncmp(cmd->name, names[i], n) == 0)
			return true;
	return false;
}

bool shard_cmd_observes(const struct kv_command *cmd)
{
	return (cmd->flags & (CMD_READONLY | CMD_WRITE)) || ktag_observes(cmd);
}

uint64_t shard_blind_tag(const struct shard *s, uint64_t lsn_before)
{
	/* One that wrote after all (nothing flagged so today) waits as a
	 * write does. */
	return s->aof.last_lsn != lsn_before ? shard_reply_tag(s) : 0;
}

/* What a call's keys depend on (and all_lsn), after the pending changes
 * got their LSN: the newest record that changed one of them (released)
 * and the newest of their deps (the watermark); false when its keys
 * cannot be listed here. */
static bool ktag_keys_dep(struct shard *s, const struct kv_command *cmd, int argc,
			  const struct kv_slice *argv, uint32_t dbid, struct reply_tag *out)
{
	shard_key_tags_turn(s);
	struct key_tags *t = s->ktags;
	out->split = true;
	out->lsn = out->dep = t ? t->all_lsn : 0;
	if (!t || !t->used)
		return true;
	int idx[64];
	if (argc > 64)
		return false;
	int n = cmd_get_keys(cmd, argc, argv, idx, 64);
	if (n < 0)
		return false;
	for (int k = 0; k < n; k++) {
		const struct kv_slice *key = &argv[idx[k]];
		uint32_t i = ktag_slot(t, ktag_fp(dbid, key->ptr, key->len));
		if (!t->fp[i])
			continue;
		out->lsn = KV_MAX(out->lsn, t->lsn[i]);
		out->dep = KV_MAX(out->dep, t->dep[i]);
	}
	return true;
}

/* A write whose declared keys, in the database it runs in, are all it
 * reads (what its record names beyond them is added after it ran,
 * shard_write_tag). */
static bool ktag_write_cmd(const struct kv_command *cmd)
{
	if (!(cmd->flags & CMD_WRITE) ||
	    (cmd->flags & (CMD_ALL_SHARDS | CMD_LOCAL | CMD_BLOCKING | CMD_WAIT_DURABLE |
			   CMD_WAIT_SNAPSHOT)) ||
	    cmd->route || cmd->all_shards || cmd->bcast || cmd->conn_shards ||
	    (cmd->first_key <= 0 && !cmd->keys))
		return false;
	/* Not one that names another database (recovery counts MOVE and COPY
	 * as touching every key), nor one that reads keys it does not declare
	 * (SORT's BY and GET patterns, MIGRATE). */
	static const char *const names[] = { "move", "copy", "sort", "migrate" };
	for (size_t i = 0; i < KV_ARRAY_LEN(names); i++)
		if (strcmp(cmd->name, names[i]) == 0)
			return false;
	return true;
}

bool shard_write_tags_on(void)
{
	return g_server.nshards > 1 && shard_aof_on();
}

bool shard_write_dep(struct shard *s, const struct kv_command *cmd, int argc,
		     const struct kv_slice *argv, uint32_t dbid, struct reply_tag *out)
{
	return shard_write_tags_on() && s->aof.state == AOF_OK && ktag_write_cmd(cmd) &&
	       !s->holder && !fx_pending() && ktag_keys_dep(s, cmd, argc, argv, dbid, out);
}

/* A table with nothing in it: every key of its shard is clean. */
static bool ktag_empty(const struct key_tags *t)
{
	return !t || (!t->used && !t->npend);
}

bool shard_keys_clean(const struct cmd_call *call, const uint32_t *shards, uint32_t n,
		      const uint8_t *role)
{
	enum { MAX_ARGS = 256 };
	const struct kv_command *cmd = call->cmd;
	if (shard_aof_policy() != AOF_FSYNC_ALWAYS || !shard_write_tags_on() ||
	    (!ktag_cmd(cmd) && !ktag_write_cmd(cmd)) || call->argc > MAX_ARGS)
		return false;
	bool look = false;   /* some table has entries: look at the keys */
	for (uint32_t i = 0; i < n; i++) {
		const struct shard *o = g_server.shards[shards[i]];
		if (role[shards[i]] != SHARD_TXN_READ)
			continue;
		/* A failed AOF forgets its entries (ktag_finalize); one
		 * retrying a full disk keeps them, and its fsynced records
		 * stay. */
		if (atomic_load_explicit(&o->aof.info.state, memory_order_relaxed) == AOF_FAILED)
			return false;
		/* No table: nothing changed a key there since the start. */
		const struct key_tags *t = o->ktags;
		if (t && (!t->always || t->pend_all || t->all_lsn))
			return false;
		look |= !ktag_empty(t);
	}
	if (!look)
		return true;
	int idx[MAX_ARGS];
	int nk = cmd_get_keys(cmd, call->argc, call->argv, idx, MAX_ARGS);
	if (nk < 0)
		return false;
	for (int k = 0; k < nk; k++) {
		const struct kv_slice *key = &call->argv[idx[k]];
		uint32_t sh = kv_key_shard(key->ptr, key->len, g_server.nshards);
		if (role[sh] == SHARD_TXN_NONE)
			return false;   /* not held: its table is its owner's */
		const struct key_tags *t = g_server.shards[sh]->ktags;
		if (role[sh] == SHARD_TXN_CHANGED || ktag_empty(t))
			continue;
		uint64_t fp = ktag_fp(call->dbid, key->ptr, key->len);
		if (t->fp[ktag_slot(t, fp)] || ktag_pending(t, fp))
			return false;
	}
	return true;
}

static struct reply_tag shard_write_tag(struct shard *s, const struct reply_tag *dep,
					uint64_t lsn_before)
{
	struct reply_tag t = *dep;
	if (s->aof.last_lsn == lsn_before)
		return t;
	/* Its own record (the keyspace was free: nothing else ran).  Recovery
	 * drops it with any earlier dropped record that changed a key the
	 * record names, which can be more than the command declared (BITOP's
	 * sources, an eviction's DEL): those keys are pending now (fx_emit
	 * touches what recovery counts), so their entries join its dep.  A
	 * record recovery counts as touching every key (MOVE, COPY, a flush)
	 * depends on everything before it: the shard's whole watermark. */
	struct key_tags *kt = s->ktags;
	if (!kt || kt->pend_all) {
		shard_key_tags_turn(s);
		return (struct reply_tag){ .lsn = shard_reply_tag(s) };
	}
	for (uint32_t k = 0; k < kt->npend; k++) {
		uint32_t i = ktag_slot(kt, kt->pend[k]);
		if (!kt->fp[i])
			continue;
		t.lsn = KV_MAX(t.lsn, kt->lsn[i]);
		t.dep = KV_MAX(t.dep, kt->dep[i]);
	}
	t.lsn = KV_MAX(t.lsn, s->aof.last_lsn);
	shard_key_tags_wrote(s, t.dep);
	return t;
}

static struct reply_tag shard_read_tag(struct shard *s, const struct kv_command *cmd, int argc,
				       const struct kv_slice *argv, uint32_t dbid,
				       uint64_t lsn_before)
{
	struct reply_tag t = { 0 };
	if (!shard_gates(s) || s->aof.state != AOF_OK)
		return t;
	if (!shard_cmd_observes(cmd)) {
		t.lsn = shard_blind_tag(s, lsn_before);
		return t;
	}
	/* A read that wrote (a lazy expiry's DEL) waits as a write does. */
	if (!ktag_cmd(cmd) || s->aof.last_lsn != lsn_before || s->holder || fx_pending() ||
	    !ktag_keys_dep(s, cmd, argc, argv, dbid, &t)) {
		t = (struct reply_tag){ .lsn = shard_reply_tag(s) };
		return t;
	}
	return t;
}

struct reply_tag shard_call_tag(struct shard *s, const struct cmd_call *call,
				const struct reply_tag *wdep, uint64_t lsn_before)
{
	if (wdep && s->aof.state == AOF_OK)
		return shard_write_tag(s, wdep, lsn_before);
	return shard_read_tag(s, call->cmd, call->argc, call->argv, call->dbid, lsn_before);
}

/* ------------------------------------------------------------------ */
/* commit-wait: units across shards (docs/durability.md, "Units across
 * shards", section 3) */

/*
 * A part of a unit at LSN l on this shard is *ready* when what the policy
 * releases (fsynced under always, written otherwise) reaches l and every
 * earlier part here that is not stable yet belongs to a unit of the same
 * home; the unit is *stable* when every part is ready (its home has every
 * participant's acknowledgement, each sent when that participant's part
 * was ready, and its own part is ready) and every unit its home ran
 * before it is stable (units_settle).  So when a unit becomes stable,
 * every part before one of its parts, on every shard, is stable: the
 * other homes' were when the part became ready, this home's are by the
 * order.  Replies and messages tagged at or after the first part here
 * that is not stable wait (shard_lsn_ready), so nothing acknowledged
 * depends on a part a later recovery could drop.
 *
 * Why the same home's parts need not wait for each other here: before,
 * a part was ready only once every earlier part was stable, and a part's
 * unit becomes stable only after a round trip to its home (the
 * acknowledgement there, MSG_UNIT_STABLE back), so a shard made its
 * parts ready one round trip at a time: about 30,000 units a second on
 * two shards whatever the load or the fsync batch (bench/multikey.sh,
 * docs/benchmarks.md).  A chain's members (one home, one after another)
 * now become ready together and their home settles them in order.
 *
 * It cannot stall: parts are in the same order on every shard (the txns'
 * ordered acquisition), so the first unit in that order that is not
 * stable has only stable parts before each of its parts, all of them
 * ready once released, and only stable units of its home before it.
 */

static bool unit_part_ready(const struct shard *s, const struct unit_wait *w)
{
	if (!shard_gates(s))
		return true;
	return shard_release_lsn(s) >= w->lsn && (!w->durable || s->aof.durable_lsn >= w->lsn);
}

static void unit_stable(struct shard *s, struct unit_track *t)
{
	for (uint32_t i = 0; i < t->nparts; i++) {
		struct unit_stable_msg *m = kv_calloc(1, sizeof(*m));
		m->m.type = MSG_UNIT_STABLE;
		m->lsn = t->part_lsns[i];
		m->failed = t->failed;
		shard_send(s, t->part_shards[i], &m->m);
	}
	if (t->home_w) {
		t->home_w->stable = true;
		t->home_w->track = NULL;
	}
	if (t->failed && t->home_w)
		aof_fail(&s->aof, -EIO, "a unit across shards could not be made durable on another "
			 "shard");
	if (t->slot) {
		/* A unit before it failed: its parts may be dropped with that
		 * one's (its own failures came with their acknowledgement). */
		if (t->failed_before)
			shard_reply_error(s, &t->slot->buf,
					  "MISCONF Errors writing to the AOF file of another shard; "
					  "writes are refused (see INFO persistence)");
		kv_assert(t->slot->acks > 0);
		t->slot->acks--;
		conn_drain_slots(s, t->conn);
		conn_release_inflight(s, t->conn);
	}
	free(t->part_shards);
	free(t->part_lsns);
	free(t);
}

static void unit_ack_send(struct shard *s, struct unit_wait *w)
{
	struct durable_ack *a = w->ack;
	w->ack = NULL;
	if (s->aof.state == AOF_FAILED && s->aof.durable_lsn < w->lsn) {
		a->failed = true;
		snprintf(a->error, sizeof(a->error), "%s", aof_write_error(&s->aof));
	}
	shard_send(s, w->home, &a->m);
}

void shard_unit_track_add(struct shard *s, struct unit_track *t, struct conn *c,
			  struct reply_slot *slot)
{
	if (slot) {
		t->conn = c;
		t->slot = slot;
		slot->acks++;
		c->inflight++;
	}
	if (s->ut_tail)
		s->ut_tail->next = t;
	else
		s->ut_head = t;
	s->ut_tail = t;
}

/* End this home's units that may end, in the order they ran.  A unit
 * after one that failed fails too.  Returns whether one ended. */
static bool units_settle(struct shard *s)
{
	bool any = false;
	while (s->ut_head && s->ut_head->pending == 0 &&
	       (!s->ut_head->home_w || s->ut_head->home_ready)) {
		struct unit_track *t = s->ut_head;
		s->ut_head = t->next;
		if (!s->ut_head)
			s->ut_tail = NULL;
		if (t->failed)
			for (struct unit_track *n = s->ut_head; n; n = n->next)
				if (!n->failed)
					n->failed = n->failed_before = true;
		unit_stable(s, t);
		any = true;
	}
	return any;
}

/* Move the watermark: acknowledge ready parts, end stable ones.  Returns
 * whether it moved. */
static bool units_advance(struct shard *s)
{
	bool moved = false;
	for (;;) {
		while (s->uw_head && s->uw_head->stable) {
			struct unit_wait *w = s->uw_head;
			s->uw_head = w->next;
			if (!s->uw_head)
				s->uw_tail = NULL;
			if (s->uw_scan == w)
				s->uw_scan = w->next;
			free(w);
			moved = true;
		}
		/* The parts found ready before are all of the first one's home
		 * (each was checked against the first of its time, and the
		 * first only moves to one of them): resume after them. */
		bool progress = false;
		const struct unit_wait *first = s->uw_head;
		struct unit_wait *w = s->uw_scan;
		for (; w; w = w->next) {
			if (w->stable)
				continue;
			if (w->home != first->home || !unit_part_ready(s, w))
				break;
			if (w->ack)
				unit_ack_send(s, w);
			if (w->track) {
				w->track->home_ready = true;
				progress = true;
			}
		}
		s->uw_scan = w;
		progress |= units_settle(s);
		if (!progress)
			break;
	}
	return moved;
}

void shard_unit_part_wait(struct shard *s, uint64_t lsn, bool durable, struct durable_ack *ack,
			  uint32_t home, struct unit_track *track)
{
	struct unit_wait *w = kv_calloc(1, sizeof(*w));
	kv_assert(!s->uw_tail || s->uw_tail->lsn < lsn);
	w->lsn = lsn;
	w->durable = durable;
	w->ack = ack;
	w->track = track;
	w->home = track ? s->id : home;
	if (track)
		track->home_w = w;
	if (s->uw_tail)
		s->uw_tail->next = w;
	else
		s->uw_head = w;
	s->uw_tail = w;
	if (!s->uw_scan)
		s->uw_scan = w;
}

void shard_unit_ack_in(struct shard *s, struct unit_track *t, bool failed)
{
	kv_assert(t->pending > 0);
	t->failed |= failed;
	if (--t->pending == 0)
		shard_durability_advance(s);   /* units_settle ends it, in order */
}

void shard_on_unit_stable(struct shard *s, struct unit_stable_msg *m)
{
	for (struct unit_wait *w = s->uw_head; w; w = w->next)
		if (w->lsn == m->lsn) {
			w->stable = true;
			break;
		}
	if (m->failed)
		aof_fail(&s->aof, -EIO, "a unit across shards could not be made durable on another "
			 "shard");
	free(m);
	shard_durability_advance(s);
}

/* The AOF failed for good: parts here will not be durable.  Owed
 * acknowledgements go out as failures; the home's units fail. */
static void units_fail(struct shard *s)
{
	for (struct unit_wait *w = s->uw_head; w; w = w->next) {
		if (w->ack)
			unit_ack_send(s, w);
		if (w->track && s->aof.durable_lsn < w->lsn)
			w->track->failed = true;
	}
}

/* ------------------------------------------------------------------ */
/* keyspace notifications: delivered on every shard before what follows */

/*
 * A unit's notifications for subscribers on other shards leave as one
 * batch at the unit's end (one MSG_NOTIFY per shard with subscriptions),
 * and every reply or message the shard produces after that waits until the
 * batch is back delivered from each (nseq, like an LSN).  So a client that
 * read a write's reply, and anything it does next on any shard, comes after
 * the write's events in every subscriber's output; and the next unit that
 * touches the same keys (here, or on a shard this one grants or releases
 * a keyspace to) publishes after them.  Nothing waits while no batch is
 * out: with notifications off, or no subscriber elsewhere, the tag is 0.
 */
uint64_t shard_notify_tag(const struct shard *s)
{
	return s->notify_sent > s->notify_acked ? s->notify_sent : 0;
}

static bool shard_notify_ready(const struct shard *s, uint64_t nseq)
{
	return nseq <= s->notify_acked;
}

void shard_tag_slot(const struct shard *s, struct reply_slot *slot)
{
	slot->lsn = shard_reply_tag(s);
	slot->nseq = shard_notify_tag(s);
}

void shard_notify_flush(struct shard *s)
{
	if (s->notify_out.len == 0 && s->trk_out.len == 0)
		return;
	struct notify_batch *b = NULL;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *dst = g_server.shards[i];
		if (i == s->id)
			continue;
		/* Tracking records go to every shard: a client id does not say
		 * where the client lives (docs/tracking.md). */
		if (s->trk_out.len == 0 &&
		    atomic_load_explicit(&dst->pubsub_subs, memory_order_relaxed) == 0)
			continue;
		if (!b) {
			b = kv_calloc(1, sizeof(*b));
			b->seq = ++s->notify_sent;
			b->payload = s->notify_out;
			kv_buf_init(&s->notify_out);
			b->trk = s->trk_out;
			kv_buf_init(&s->trk_out);
			if (s->nb_tail)
				s->nb_tail->next = b;
			else
				s->nb_head = b;
			s->nb_tail = b;
		}
		struct notify_part *part = kv_malloc(sizeof(*part));
		part->m.type = MSG_NOTIFY;
		part->b = b;
		b->pending++;
		shard_send(s, i, &part->m);
	}
	s->notify_out.len = 0;   /* nobody elsewhere listens: dropped, as Redis drops them */
	s->trk_out.len = 0;
}

void shard_notify_part_done(struct shard *s, struct notify_part *part)
{
	struct notify_batch *b = part->b;
	free(part);
	kv_assert(b->pending > 0);
	b->pending--;
	bool moved = false;
	/* Batches complete in any order; what waits needs every one up to its
	 * tag, so the acknowledged mark moves over the FIFO's done prefix. */
	while (s->nb_head && s->nb_head->pending == 0) {
		struct notify_batch *h = s->nb_head;
		s->notify_acked = h->seq;
		s->nb_head = h->next;
		if (!s->nb_head)
			s->nb_tail = NULL;
		kv_buf_free(&h->payload);
		kv_buf_free(&h->trk);
		free(h);
		moved = true;
	}
	if (moved)
		shard_durability_advance(s);
}

static bool slot_ready(struct shard *s, const struct reply_slot *sl)
{
	return sl->done && sl->acks == 0 && shard_tag_ready(s, sl->lsn, sl->split, sl->dep, sl->durable) &&
	       shard_notify_ready(s, sl->nseq);
}

/* c has a finished reply waiting for this shard's AOF.  The gated list
 * holds a reference (inflight) so the connection outlives the wait. */
void conn_gate(struct shard *s, struct conn *c)
{
	if (c->in_gated)
		return;
	c->in_gated = true;
	c->inflight++;
	c->gated_next = s->gated;
	s->gated = c;
}

/* Send m to shard `to` once this shard's AOF has made lsn durable. */
/* shard_send, or for a wake-up of this shard's own client the local list. */
static void shard_deliver(struct shard *s, uint32_t to, struct shard_msg *m)
{
	if (to != s->id) {
		shard_send(s, to, m);
		return;
	}
	kv_assert(m->type == MSG_WAKE);
	m->from = s->id;
	msg_fifo_push(&s->wakes, m);
}

static void fail_waiting_msg(struct shard_msg *m, const char *err);

static void send_when(struct shard *s, uint32_t to, struct shard_msg *m, uint64_t lsn,
		      bool durable, bool split, uint64_t dep);

void shard_send_when_durable(struct shard *s, uint32_t to, struct shard_msg *m,
				    uint64_t lsn, bool durable)
{
	send_when(s, to, m, lsn, durable, false, 0);
}

void shard_send_tagged(struct shard *s, uint32_t to, struct shard_msg *m,
		       const struct reply_tag *tag)
{
	send_when(s, to, m, tag->lsn, false, tag->split, tag->dep);
}

static void send_when(struct shard *s, uint32_t to, struct shard_msg *m, uint64_t lsn,
		      bool durable, bool split, uint64_t dep)
{
	uint64_t nseq = shard_notify_tag(s);
	if (lsn > s->aof.durable_lsn && s->aof.state == AOF_FAILED && s->aof_failed_seen) {
		/* The AOF failed before this message was sent: what it waits for
		 * will never be durable (shard_fail_waiting already ran for the
		 * ones queued then), so it carries the error at once. */
		if (m->type == MSG_REPLY)
			shard_reply_error(s, &((struct fwd_req *)m)->reply, aof_write_error(&s->aof));
		else
			fail_waiting_msg(m, aof_write_error(&s->aof));
		lsn = 0;
	}
	if (nseq == 0 && shard_tag_ready(s, lsn, split, dep, durable)) {
		shard_deliver(s, to, m);
		return;
	}
	m->wait_to = to;
	m->wait_lsn = lsn;
	m->wait_durable = durable;
	m->wait_split = split;
	m->wait_dep = dep;
	m->wait_nseq = nseq;
	msg_fifo_push(split ? &s->dws : &s->dw, m);
}

void shard_reply_error(struct shard *s, struct kv_buf *b, const char *msg)
{
	shard_reply_error_at(s, b, 0, msg);
}

void shard_reply_error_at(struct shard *s, struct kv_buf *b, size_t at, const char *msg)
{
	b->len = at;
	resp_error(b, msg);
	stat_error(&s->stats, b->data + at, b->len - at);
}

/* The AOF failed for good: every reply and message still waiting depends on
 * records that will never be durable, so each becomes the error. */
static void fail_conn_slots(struct shard *s, struct conn *c, const char *err)
{
	for (struct reply_slot *sl = c->slots_head; sl; sl = sl->next)
		if (sl->lsn > s->aof.durable_lsn) {
			shard_reply_error(s, &sl->buf, err);
			sl->lsn = 0;
		}
}

static void shard_fail_waiting(struct shard *s)
{
	const char *err = aof_write_error(&s->aof);
	for (struct conn *c = s->gated; c; c = c->gated_next)
		fail_conn_slots(s, c, err);
	for (int q = 0; q < 2; q++) {
		for (struct shard_msg *m = q ? s->dws.head : s->dw.head; m; m = m->next) {
			if (m->wait_lsn <= s->aof.durable_lsn)
				continue;
			if (m->type == MSG_REPLY)
				shard_reply_error(s, &((struct fwd_req *)m)->reply, err);
			else
				fail_waiting_msg(m, err);
			m->wait_lsn = 0;
		}
	}
}

/* A message other than a reply that waited for durability the AOF cannot
 * give any more (a reply becomes the error: shard_reply_error). */
static void fail_waiting_msg(struct shard_msg *m, const char *err)
{
	if (m->type == MSG_DURABLE) {
		struct durable_ack *a = (struct durable_ack *)m;
		a->failed = true;
		snprintf(a->error, sizeof(a->error), "%s", err);
	}
}

/* The AOF failed for good: the first time it is seen, owed acknowledgements
 * and waiting replies become the error.  Returns whether it did that now. */
static bool shard_fail_once(struct shard *s)
{
	if (s->aof.state != AOF_FAILED || s->aof_failed_seen)
		return false;
	s->aof_failed_seen = true;
	units_fail(s);
	shard_fail_waiting(s);
	return true;
}

/* Durability moved (or the policy changed): let go of what may leave. */
void shard_durability_advance(struct shard *s)
{
	shard_fail_once(s);
	units_advance(s);
	/* A unit of this home may have failed on another shard just now
	 * (unit_stable): fail here before anything is released. */
	if (shard_fail_once(s))
		units_advance(s);
	while (s->dw.head &&
	       shard_tag_ready(s, s->dw.head->wait_lsn, s->dw.head->wait_split, s->dw.head->wait_dep,
			       s->dw.head->wait_durable) &&
	       shard_notify_ready(s, s->dw.head->wait_nseq)) {
		struct shard_msg *m = msg_fifo_pop(&s->dw);
		shard_deliver(s, m->wait_to, m);
	}
	/* Split tags: every one whose condition holds, wherever it is. */
	struct shard_msg *keep = NULL, *keep_tail = NULL;
	for (struct shard_msg *m = s->dws.head, *next; m; m = next) {
		next = m->next;
		m->next = NULL;
		if (shard_tag_ready(s, m->wait_lsn, true, m->wait_dep, false) &&
		    shard_notify_ready(s, m->wait_nseq)) {
			shard_deliver(s, m->wait_to, m);
			continue;
		}
		if (keep_tail)
			keep_tail->next = m;
		else
			keep = m;
		keep_tail = m;
	}
	s->dws.head = keep;
	s->dws.tail = keep_tail;
	struct conn **pp = &s->gated;
	while (*pp) {
		struct conn *c = *pp;
		/* A slot tagged with an LSN after the AOF failed (its tag was taken
		 * before the failure, and it was gated after shard_fail_waiting
		 * ran: a multi-shard reply whose acknowledgements came back
		 * later) would wait for ever: it becomes the error too. */
		if (s->aof_failed_seen)
			fail_conn_slots(s, c, aof_write_error(&s->aof));
		struct reply_slot *head = c->slots_head;
		if (head && head->done && head->acks == 0 && !slot_ready(s, head)) {
			pp = &c->gated_next;
			continue;
		}
		*pp = c->gated_next;
		c->in_gated = false;
		conn_drain_slots(s, c);
		conn_release_inflight(s, c);
	}
}

void shard_defer_wake(struct shard *exec, uint32_t owner, uint32_t home, struct shard_msg *m)
{
	m->from = owner;
	m->wait_to = home;
	msg_fifo_push(&exec->pw, m);
}

/* Wake-ups of the unit whose pops were on this shard's keyspace: they leave
 * once this shard's AOF holds the pops durably.  Those popping from another
 * shard's keyspace (a txn) go to `rels`, indexed by shard, or stay listed. */
void shard_send_wakes(struct shard *s, struct release_msg **rels)
{
	struct shard_msg *m;
	while ((m = msg_fifo_pop(&s->pw)) != NULL) {
		uint32_t owner = m->from;
		if (owner == s->id) {
			shard_send_when_durable(s, m->wait_to, m, shard_reply_tag(s), false);
		} else {
			/* Only a txn touches another shard's keyspace. */
			kv_assert(rels && rels[owner]);
			m->next = rels[owner]->wakes;
			rels[owner]->wakes = m;
		}
	}
}

/* ------------------------------------------------------------------ */
/* the end of an atomic unit */

/* End of an atomic unit run on this thread: this shard's effects become one
 * AOF record, and its notifications one batch.  (A txn takes the other
 * shards' effects itself.) */
void shard_unit_commit(struct shard *s)
{
	shard_notify_flush(s);
	if (fx_pending()) {
		if (fx_take(s->id, &s->fx_payload)) {
			atomic_fetch_add_explicit(&s->changes, 1, memory_order_relaxed);
			if (shard_aof_on())
				aof_append(&s->aof, s->fx_payload.data, s->fx_payload.len);
		}
		kv_assert(!fx_pending());
	}
	if (s->pw.head)
		shard_send_wakes(s, NULL);
}

/* Whether a write must be refused because a keyspace it would change
 * belongs to a shard whose AOF is failing. */
const char *shard_write_refused(struct shard *s, struct kv_dbs **held)
{
	if (!shard_aof_on())
		return NULL;
	if (held == s->held_local)
		return aof_write_error(&s->aof);
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		if (!held[i])
			continue;
		struct shard *o = g_server.shards[i];
		if (atomic_load_explicit(&o->aof.info.state, memory_order_relaxed) != AOF_OK)
			return o == s ? aof_write_error(&s->aof)
				      : "MISCONF Errors writing to the AOF file of another shard; "
					"writes are refused (see INFO persistence)";
	}
	return NULL;
}

void shard_on_file(struct shard *s, struct kvio_op *op, int res)
{
	if (snapshot_owns(&s->snap, op)) {
		snapshot_complete(&s->snap, op, res);
		return;
	}
	kv_assert(aof_owns(&s->aof, op));
	if (aof_complete(&s->aof, op, res, kv_time_ms()))
		shard_durability_advance(s);
}
