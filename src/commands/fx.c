/*
 * fx.c - effect capture and replay (see fx.h for the rules).
 *
 * State is per thread: the shard thread that executes a command (its own,
 * a forwarded one, or a multi-shard txn holding other shards' keyspaces)
 * collects the effects for every shard it touches, and the runtime takes
 * them out at the end of the unit.  The store reports changes and expiries
 * through hooks whose argument is the owning shard's id, so a change made by
 * a coordinator thread in another shard's keyspace lands in that shard's
 * pending payload.
 */
#include "commands/fx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist/aof_format.h"
#include "store/keydump.h"
#include "base/kv.h"

struct fx_thread {
	bool enabled;
	uint32_t nshards;
	int64_t clock_ms;
	struct fx_cmd *top;           /* innermost running command */
	struct kv_buf *pending;       /* [nshards] EFFECT payloads being built */
	bool *open;                   /* [nshards] pending[i] has its time */
	uint32_t *cur_db;             /* [nshards] database pending[i]'s next command runs in */
	uint32_t nopen;
};

static _Thread_local struct fx_thread fx_tls;

void fx_thread_enable(uint32_t nshards)
{
	struct fx_thread *t = &fx_tls;
	kv_assert(!t->enabled && nshards >= 1);
	t->enabled = true;
	t->nshards = nshards;
	t->pending = kv_calloc(nshards, sizeof(*t->pending));
	t->open = kv_calloc(nshards, sizeof(*t->open));
	t->cur_db = kv_calloc(nshards, sizeof(*t->cur_db));
	t->nopen = 0;
	t->top = NULL;
}

void fx_thread_disable(void)
{
	struct fx_thread *t = &fx_tls;
	if (!t->enabled)
		return;
	for (uint32_t i = 0; i < t->nshards; i++)
		kv_buf_free(&t->pending[i]);
	free(t->pending);
	free(t->open);
	free(t->cur_db);
	memset(t, 0, sizeof(*t));
}

bool fx_enabled(void)
{
	return fx_tls.enabled;
}

void fx_set_clock(int64_t now_ms)
{
	fx_tls.clock_ms = now_ms;
}

static fx_touch_fn g_fx_touch;
static bool (*g_fx_touch_records)(void);

void fx_set_touch_hook(fx_touch_fn fn, bool (*records)(void))
{
	g_fx_touch = fn;
	g_fx_touch_records = records;
}

static void fx_touch(uint32_t shard, uint32_t dbid, const char *key, size_t klen)
{
	if (g_fx_touch)
		g_fx_touch(shard, dbid, key, klen);
}

static void fx_touch_key(void *arg, uint32_t db, const void *key, size_t klen)
{
	fx_touch((uint32_t)(uintptr_t)arg, db, key, klen);
}

static bool effect_cmd_keys(uint32_t db, int argc, const struct kv_slice *argv,
			    void (*emit)(void *arg, uint32_t db, const void *key, size_t klen),
			    void *arg);

void fx_emit(uint32_t shard, uint32_t db, int argc, const struct kv_slice *argv)
{
	struct fx_thread *t = &fx_tls;
	if (!t->enabled)
		return;
	kv_assert(shard < t->nshards && argc >= 1);
	/* The key tags learn what recovery will count as this record's keys
	 * (fx_keys), not only what the store changed: a write waits for the
	 * records recovery could drop it with (docs/durability.md, "What a
	 * write waits for"). */
	if (g_fx_touch && g_fx_touch_records() &&
	    (db == FX_ANY_DB ||
	     !effect_cmd_keys(db, argc, argv, fx_touch_key, (void *)(uintptr_t)shard)))
		fx_touch(shard, UINT32_MAX, NULL, 0);
	if (!t->open[shard]) {
		t->open[shard] = true;
		t->nopen++;
		t->pending[shard].len = 0;
		t->cur_db[shard] = 0;
		aof_payload_begin(&t->pending[shard], t->clock_ms);
	}
	if (db != FX_ANY_DB && db != t->cur_db[shard]) {
		/* A payload starts in database 0; SELECT moves the commands after
		 * it (fx_apply), so each record replays alone. */
		char num[16];
		int n = snprintf(num, sizeof(num), "%u", db);
		struct kv_slice sel[2] = { { "SELECT", 6 }, { num, (size_t)n } };
		aof_payload_append(&t->pending[shard], 2, sel);
		t->cur_db[shard] = db;
	}
	aof_payload_append(&t->pending[shard], argc, argv);
}

void fx_emit_key(uint32_t db, int argc, const struct kv_slice *argv)
{
	struct fx_thread *t = &fx_tls;
	if (!t->enabled)
		return;
	kv_assert(argc >= 2);
	fx_emit(kv_key_shard(argv[1].ptr, argv[1].len, t->nshards), db, argc, argv);
}

void cmd_effect(struct cmd_ctx *c, int argc, const struct kv_slice *argv)
{
	struct fx_thread *t = &fx_tls;
	if (!t->enabled)
		return;
	if (t->top)
		t->top->custom = true;
	fx_emit_key(c->dbid, argc, argv);
}

void cmd_effect_at_key(struct cmd_ctx *c, int key_arg, int argc, const struct kv_slice *argv)
{
	struct fx_thread *t = &fx_tls;
	if (!t->enabled)
		return;
	kv_assert(key_arg > 0 && key_arg < argc);
	if (t->top)
		t->top->custom = true;
	const struct kv_slice *k = &argv[key_arg];
	fx_emit(kv_key_shard(k->ptr, k->len, t->nshards), c->dbid, argc, argv);
}

void cmd_effect_shard(struct cmd_ctx *c, uint32_t shard, int argc, const struct kv_slice *argv)
{
	struct fx_thread *t = &fx_tls;
	if (!t->enabled)
		return;
	/* A database effect (SWAPDB): every key of the shard may differ. */
	fx_touch(shard, UINT32_MAX, NULL, 0);
	if (t->top)
		t->top->custom = true;
	fx_emit(shard, FX_ANY_DB, argc, argv);
	(void)c;
}

void fx_on_expire(void *shard_id, uint32_t dbid, const char *key, size_t klen)
{
	if (fx_tls.enabled)
		fx_touch((uint32_t)(uintptr_t)shard_id, dbid, key, klen);
	struct kv_slice argv[2] = { { "DEL", 3 }, { key, klen } };
	fx_emit((uint32_t)(uintptr_t)shard_id, dbid, 2, argv);
}

/* An eviction is a write the client did not ask for: logged as DEL on the
 * key's shard, in its database, like an expiry, so replay drops the same
 * keys.  This is also where the "evicted" keyspace notification will be
 * published (Redis's notifyKeyspaceEvent(NOTIFY_EVICTED, "evicted", ...))
 * once notifications exist: every eviction of every shard passes here, on
 * the thread that holds the key's keyspace. */
void fx_on_evict(void *shard_id, uint32_t dbid, const char *key, size_t klen)
{
	if (fx_tls.enabled)
		fx_touch((uint32_t)(uintptr_t)shard_id, dbid, key, klen);
	struct kv_slice argv[2] = { { "DEL", 3 }, { key, klen } };
	fx_emit((uint32_t)(uintptr_t)shard_id, dbid, 2, argv);
}

/* A change of a key (key NULL: the whole database was flushed). */
void fx_on_change(void *shard_id, uint32_t dbid, const char *key, size_t klen)
{
	struct fx_thread *t = &fx_tls;
	uint32_t id = (uint32_t)(uintptr_t)shard_id;
	if (!t->enabled)
		return;
	fx_touch(id, dbid, key, klen);
	if (!key) {
		/* A flush is its own effect, whatever the command. */
		struct kv_slice argv[1] = { { "FLUSHDB", 7 } };
		fx_emit(id, dbid, 1, argv);
		if (t->top)
			t->top->custom |= t->top->target < 0;
		return;
	}
	struct fx_cmd *f = t->top;
	if (!f)
		return;
	f->changes++;
	if (f->target >= 0 || f->custom)
		return;
	uint32_t hdr[3] = { id, dbid, (uint32_t)klen };
	kv_buf_append(&f->keys, hdr, sizeof(hdr));
	kv_buf_append(&f->keys, key, klen);
	f->nkeys++;
}

void fx_cmd_begin(struct fx_cmd *f, const struct kv_command *cmd, int argc,
		  const struct kv_slice *argv, struct kv_dbs **held, uint32_t dbid,
		  int64_t now_ms)
{
	struct fx_thread *t = &fx_tls;
	memset(f, 0, sizeof(*f));
	f->cmd = cmd;
	f->argc = argc;
	f->argv = argv;
	f->held = held;
	f->dbid = dbid;
	f->target = -1;
	t->clock_ms = now_ms;
	if (!t->enabled)
		return;
	f->outer = t->top;
	t->top = f;
	if (!(cmd->flags & CMD_WRITE))
		return;
	int stack[64];
	int *idx = argc <= 64 ? stack : kv_malloc((size_t)argc * sizeof(int));
	int n = cmd_get_keys(cmd, argc, argv, idx, argc);
	if (n > 0) {
		uint32_t shard = kv_key_shard(argv[idx[0]].ptr, argv[idx[0]].len, t->nshards);
		int i = 1;
		while (i < n && kv_key_shard(argv[idx[i]].ptr, argv[idx[i]].len, t->nshards) == shard)
			i++;
		if (i == n)
			f->target = shard;
	}
	if (idx != stack)
		free(idx);
}

struct emit_target {
	uint32_t shard, db;
};

static void emit_to_shard(void *arg, int argc, const struct kv_slice *argv)
{
	const struct emit_target *to = arg;
	fx_emit(to->shard, to->db, argc, argv);
}

/* Rule 3: the final state of each changed key, on its shard. */
static void log_changed_keys(struct fx_cmd *f)
{
	const char *p = f->keys.data, *end = p + f->keys.len;
	/* A key changed several times is logged once: remember what is done
	 * in a small open-addressing set of offsets. */
	size_t cap = 16;
	while (cap < (size_t)f->nkeys * 2)
		cap *= 2;
	size_t *seen = kv_calloc(cap, sizeof(*seen));
	while (p < end) {
		uint32_t hdr[3];   /* shard, database, key length */
		memcpy(hdr, p, sizeof(hdr));
		const char *key = p + sizeof(hdr);
		size_t off = (size_t)(p - f->keys.data) + 1;
		p = key + hdr[2];
		uint64_t h = kv_hash64(key, hdr[2], ((uint64_t)hdr[1] << 32) | hdr[0]);
		size_t i = h & (cap - 1);
		bool dup = false;
		while (seen[i]) {
			uint32_t other[3];
			const char *ok = f->keys.data + seen[i] - 1;
			memcpy(other, ok, sizeof(other));
			if (other[0] == hdr[0] && other[1] == hdr[1] && other[2] == hdr[2] &&
			    memcmp(ok + sizeof(other), key, hdr[2]) == 0) {
				dup = true;
				break;
			}
			i = (i + 1) & (cap - 1);
		}
		if (dup)
			continue;
		seen[i] = off;
		struct kv_dbs *dbs = f->held ? f->held[hdr[0]] : NULL;
		kv_assert(dbs && hdr[1] < dbs->n);
		struct emit_target to = { hdr[0], hdr[1] };
		keydump_key(dbs->db[hdr[1]], key, hdr[2], fx_tls.clock_ms, emit_to_shard, &to);
	}
	free(seen);
}

void fx_cmd_end(struct fx_cmd *f)
{
	struct fx_thread *t = &fx_tls;
	if (!t->enabled)
		return;
	kv_assert(t->top == f);
	t->top = f->outer;
	if (!f->custom && f->changes > 0) {
		if (f->target >= 0)
			fx_emit((uint32_t)f->target, f->dbid, f->argc, f->argv);
		else
			log_changed_keys(f);
	}
	kv_buf_free(&f->keys);
}

bool fx_take(uint32_t id, struct kv_buf *out)
{
	struct fx_thread *t = &fx_tls;
	if (!t->enabled || id >= t->nshards || !t->open[id])
		return false;
	t->open[id] = false;
	t->nopen--;
	struct kv_buf tmp = *out;
	*out = t->pending[id];
	t->pending[id] = tmp;
	t->pending[id].len = 0;
	return true;
}

bool fx_pending(void)
{
	return fx_tls.nopen > 0;
}

bool fx_pending_on(uint32_t id)
{
	const struct fx_thread *t = &fx_tls;
	return t->enabled && id < t->nshards && t->open[id];
}

uint32_t fx_pending_shards(void)
{
	return fx_tls.nopen;
}

/* ---- replay ---- */

/* Whether one command of a payload is an effect shard_id may replay: a known
 * write command (not blocking, connection-bound, or needing every shard:
 * keyless-global commands and calls that read keys of other shards), with
 * its arity, whose keys all belong to the shard.  Database effects
 * (db_effect) are handled by the caller.  0 (*cmd set) or KV_ECORRUPT with
 * a line in err. */
static int fx_check_cmd(int argc, const struct kv_slice *argv, uint32_t shard_id,
			uint32_t nshards, int ncmd, const struct kv_command **out,
			char *err, size_t err_cap)
{
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	if (!cmd || !(cmd->flags & CMD_WRITE) || (cmd->flags & (CMD_BLOCKING | CMD_LOCAL)) ||
	    cmd_needs_all_shards(cmd, argc, argv) || cmd->conn_shards) {
		snprintf(err, err_cap, "command %d of the record is not an effect ('%.*s')",
			 ncmd, (int)KV_MIN(argv[0].len, 40), argv[0].ptr);
		return KV_ECORRUPT;
	}
	if (!cmd_arity_ok(cmd, argc)) {
		snprintf(err, err_cap, "command %d of the record ('%s') has %d arguments",
			 ncmd, cmd->name, argc);
		return KV_ECORRUPT;
	}
	int stack[64];
	int *idx = argc <= 64 ? stack : kv_malloc((size_t)argc * sizeof(int));
	int n = cmd_get_keys(cmd, argc, argv, idx, argc);
	bool foreign = n < 0;
	for (int i = 0; !foreign && i < n; i++)
		foreign = kv_key_shard(argv[idx[i]].ptr, argv[idx[i]].len, nshards) != shard_id;
	if (idx != stack)
		free(idx);
	if (foreign) {
		snprintf(err, err_cap, "command %d of the record ('%s') names a key of another shard",
			 ncmd, cmd->name);
		return KV_ECORRUPT;
	}
	*out = cmd;
	return 0;
}

/* Effects on whole databases rather than keys, which the command table
 * cannot replay on one shard (they are keyless and CMD_ALL_SHARDS there). */
enum fx_db_effect {
	FX_KEY_EFFECT = 0,   /* an ordinary command: fx_check_cmd */
	FX_SELECT,           /* SELECT n: the commands after it run in database n */
	FX_FLUSHDB,          /* the current database is emptied */
	FX_FLUSHALL,         /* every database is emptied (version 1 and 2 files) */
	FX_SWAPDB,           /* SWAPDB a b */
	FX_BAD,              /* one of the above, malformed */
};

static bool db_number(const struct kv_slice *a, uint32_t *out)
{
	int64_t v;
	if (!arg_to_int64(a, &v) || v < 0 || v >= (int64_t)KV_DB_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static enum fx_db_effect db_effect(int argc, const struct kv_slice *argv, uint32_t *a,
				   uint32_t *b)
{
	if (arg_is(&argv[0], "select"))
		return argc == 2 && db_number(&argv[1], a) ? FX_SELECT : FX_BAD;
	if (arg_is(&argv[0], "flushdb"))
		return argc == 1 ? FX_FLUSHDB : FX_BAD;
	if (arg_is(&argv[0], "flushall"))
		return argc == 1 ? FX_FLUSHALL : FX_BAD;
	if (arg_is(&argv[0], "swapdb"))
		return argc == 3 && db_number(&argv[1], a) && db_number(&argv[2], b) ? FX_SWAPDB
										    : FX_BAD;
	return FX_KEY_EFFECT;
}

static int bad_db_effect(int ncmd, const struct kv_slice *argv, char *err, size_t err_cap)
{
	snprintf(err, err_cap, "command %d of the record ('%.*s') is a malformed database effect",
		 ncmd, (int)KV_MIN(argv[0].len, 40), argv[0].ptr);
	return KV_ECORRUPT;
}

int fx_validate(uint32_t shard_id, uint32_t nshards, const void *payload, size_t len,
		char *err, size_t err_cap)
{
	struct aof_payload_iter it;
	int argc, rc, ncmd = 0;
	struct kv_slice *argv;
	if (err_cap)
		err[0] = '\0';
	aof_payload_iter_init(&it, payload, len);
	while ((rc = aof_payload_next(&it, &argc, &argv)) == 1) {
		const struct kv_command *cmd;
		uint32_t a, b;
		ncmd++;
		enum fx_db_effect k = db_effect(argc, argv, &a, &b);
		if (k == FX_BAD) {
			rc = bad_db_effect(ncmd, argv, err, err_cap);
			break;
		}
		if (k != FX_KEY_EFFECT)
			continue;
		rc = fx_check_cmd(argc, argv, shard_id, nshards, ncmd, &cmd, err, err_cap);
		if (rc < 0)
			break;
	}
	aof_payload_iter_free(&it);
	if (rc < 0 && !err[0])
		snprintf(err, err_cap, "malformed effect payload");
	return rc < 0 ? KV_ECORRUPT : 0;
}

/* A database a record names that this server does not have: the file was
 * written with a larger `databases`. */
static int db_out_of_range(int ncmd, uint32_t db, uint32_t ndb, char *err, size_t err_cap)
{
	snprintf(err, err_cap, "command %d of the record names database %u, but the server "
		 "has %u databases (raise `databases` to load this file)", ncmd, db, ndb);
	return KV_ECORRUPT;
}

int fx_apply(struct kv_dbs *dbs, uint32_t shard_id, uint32_t nshards, const void *payload,
	     size_t len, char *err, size_t err_cap)
{
	struct aof_payload_iter it;
	struct kv_dbs *held_stack[16];
	struct kv_dbs **held = nshards <= 16 ? held_stack : kv_calloc(nshards, sizeof(*held));
	struct kv_buf out = KV_BUF_INIT;
	int argc, rc = 0, ncmd = 0;
	struct kv_slice *argv;
	uint32_t cur = 0;

	if (err_cap)
		err[0] = '\0';
	/* The handlers' own effects are not wanted here: replay only applies. */
	bool capture = fx_tls.enabled;
	fx_tls.enabled = false;

	if (held == held_stack)
		memset(held_stack, 0, sizeof(held_stack));
	held[shard_id] = dbs;
	aof_payload_iter_init(&it, payload, len);
	while ((rc = aof_payload_next(&it, &argc, &argv)) == 1) {
		uint32_t a = 0, b = 0;
		ncmd++;
		enum fx_db_effect k = db_effect(argc, argv, &a, &b);
		if (k == FX_BAD) {
			rc = bad_db_effect(ncmd, argv, err, err_cap);
			break;
		}
		if ((k == FX_SELECT || k == FX_SWAPDB) && !dbs_grow(dbs, KV_MAX(a, b) + 1)) {
			rc = db_out_of_range(ncmd, a >= dbs->n ? a : b, dbs->n, err, err_cap);
			break;
		}
		if (k == FX_SELECT) {
			cur = a;
			continue;
		}
		if (k == FX_FLUSHDB) {
			db_flush(dbs->db[cur]);
			continue;
		}
		if (k == FX_FLUSHALL) {
			for (uint32_t i = 0; i < dbs->n; i++)
				db_flush(dbs->db[i]);
			continue;
		}
		if (k == FX_SWAPDB) {
			/* Replay expires nothing: the run's expiries are records. */
			dbs_swap(dbs, a, b, 0);
			continue;
		}
		const struct kv_command *cmd;
		rc = fx_check_cmd(argc, argv, shard_id, nshards, ncmd, &cmd, err, err_cap);
		if (rc < 0)
			break;
		struct cmd_ctx ctx = {
			.argc = argc,
			.argv = argv,
			.out = &out,
			.now_ms = it.time_ms,
			.held = held,
			.nshards = nshards,
			.dbid = cur,
		};
		out.len = 0;
		cmd->proc(&ctx);
		if (out.len && out.data[0] == '-') {
			int l = (int)KV_MIN(out.len - 1, 120);
			while (l > 0 && (out.data[l] == '\n' || out.data[l] == '\r'))
				l--;
			snprintf(err, err_cap, "command %d of the record ('%s') failed on replay: %.*s",
				 ncmd, cmd->name, l, out.data + 1);
			rc = KV_ECORRUPT;
			break;
		}
	}
	if (rc < 0 && !err[0]) {
		snprintf(err, err_cap, "malformed effect payload");
		rc = KV_ECORRUPT;
	}
	aof_payload_iter_free(&it);
	kv_buf_free(&out);
	if (held != held_stack)
		free(held);
	fx_tls.enabled = capture;
	return rc < 0 ? rc : 0;
}

/* The keys one effect command (not SELECT) touches for recovery's rule, in
 * database db: each passed to emit, and true; false when it touches every
 * key (a database effect, a command that names another database: MOVE,
 * COPY ... DB, or one whose keys cannot be listed).  Shared by fx_keys and
 * the key tags (fx_emit), so both count the same keys. */
static bool effect_cmd_keys(uint32_t db, int argc, const struct kv_slice *argv,
			    void (*emit)(void *arg, uint32_t db, const void *key, size_t klen),
			    void *arg)
{
	uint32_t a = 0, b = 0;
	if (db_effect(argc, argv, &a, &b) != FX_KEY_EFFECT)
		return false;
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	if (!cmd || arg_is(&argv[0], "move") || arg_is(&argv[0], "copy"))
		return false;
	int stack[64];
	int *idx = argc <= 64 ? stack : kv_malloc((size_t)argc * sizeof(int));
	int n = cmd_get_keys(cmd, argc, argv, idx, argc);
	for (int i = 0; i < n; i++)
		emit(arg, db, argv[idx[i]].ptr, argv[idx[i]].len);
	if (idx != stack)
		free(idx);
	return n >= 0;
}

/* The keys a (validated) payload touches, for the recovery rule of units
 * across shards: each command's keys in the database it runs in; database
 * effects, and commands that name another database (MOVE, COPY ... DB),
 * touch every key. */
static void fx_keys(const void *payload, size_t len,
		    void (*emit)(void *arg, uint32_t db, const void *key, size_t klen),
		    void (*emit_all)(void *arg), void *arg)
{
	struct aof_payload_iter it;
	int argc, rc;
	struct kv_slice *argv;
	uint32_t cur = 0;
	aof_payload_iter_init(&it, payload, len);
	while ((rc = aof_payload_next(&it, &argc, &argv)) == 1) {
		uint32_t a = 0, b = 0;
		if (db_effect(argc, argv, &a, &b) == FX_SELECT) {
			cur = a;
			continue;
		}
		if (!effect_cmd_keys(cur, argc, argv, emit, arg)) {
			emit_all(arg);
			break;
		}
	}
	if (rc < 0)
		emit_all(arg);
	aof_payload_iter_free(&it);
}

const struct aof_effect_ops fx_aof_effect_ops = {
	.apply = fx_apply,
	.validate = fx_validate,
	.keys = fx_keys,
};
