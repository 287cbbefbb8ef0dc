/*
 * cmd.c - the command table: lookup by name, arity and unknown-command
 * errors, key extraction, and the keyspace accessors of struct cmd_ctx.
 *
 * The handlers themselves live in cmd_<family>.c; each family exports one
 * table and cmd_table_init() indexes them all into a small open-addressing
 * hash keyed by the lower-case name.  This file decides nothing about where a
 * command runs: shard.c does, from the flags and keys found here.
 */
#include "commands/cmd.h"
#include "commands/fx.h"
#include "base/kv.h"
#include "persist/aof_format.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CMD_NAME_MAX 64

static const struct kv_command *const cmd_families[] = {
	cmd_table_server,
	cmd_table_acl,
	cmd_table_info,
	cmd_table_introspect,
	cmd_table_string,
	cmd_table_bitmap,
	cmd_table_keys,
	cmd_table_dump,
	cmd_table_debug,
	cmd_table_persist,
	cmd_table_sort,
	cmd_table_hll,
	cmd_table_hash,
	cmd_table_list,
	cmd_table_set,
	cmd_table_zset,
	cmd_table_geo,
	cmd_table_stream,
	cmd_table_cluster,
	cmd_table_migrate,
	cmd_table_lolwut,
};

/* Families the runtime adds (cmd_table_add): the commands that need its
 * connections and shards, defined in server/. */
#define CMD_EXTRA_FAMILIES_MAX 8
static const struct kv_command *cmd_extra[CMD_EXTRA_FAMILIES_MAX];
static size_t cmd_extra_len;

static const struct kv_command **cmd_list;
static size_t cmd_list_len;
static const struct kv_command **cmd_index;
static size_t cmd_index_mask;

/* INFO commandstats: every command and subcommand gets a dense id, found
 * from its table entry's address through a small open-addressing table (the
 * tables are const, so the id cannot live in the entry). */
static const struct kv_command **cmd_stat_list;
static uint32_t cmd_stat_len;
static struct cmd_stat_slot {
	const struct kv_command *cmd;
	uint32_t id;
} *cmd_stat_index;
static size_t cmd_stat_mask;

static size_t cmd_stat_hash(const struct kv_command *cmd)
{
	return (size_t)(((uintptr_t)cmd >> 3) * 0x9e3779b97f4a7c15ull >> 20);
}

static void cmd_stat_add(const struct kv_command *cmd)
{
	size_t i = cmd_stat_hash(cmd) & cmd_stat_mask;
	while (cmd_stat_index[i].cmd)
		i = (i + 1) & cmd_stat_mask;
	cmd_stat_index[i].cmd = cmd;
	cmd_stat_index[i].id = cmd_stat_len;
	cmd_stat_list[cmd_stat_len++] = cmd;
}

static void cmd_stat_init(void)
{
	size_t n = 0;
	for (size_t i = 0; i < cmd_list_len; i++) {
		n++;
		for (const struct kv_command *s = cmd_list[i]->subcommands; s && s->name; s++)
			n++;
	}
	cmd_stat_list = kv_calloc(n, sizeof(*cmd_stat_list));
	size_t cap = 16;
	while (cap < n * 4)
		cap *= 2;
	cmd_stat_index = kv_calloc(cap, sizeof(*cmd_stat_index));
	cmd_stat_mask = cap - 1;
	for (size_t i = 0; i < cmd_list_len; i++) {
		cmd_stat_add(cmd_list[i]);
		for (const struct kv_command *s = cmd_list[i]->subcommands; s && s->name; s++)
			cmd_stat_add(s);
	}
}

uint32_t cmd_stat_count(void)
{
	return cmd_stat_len;
}

const struct kv_command *cmd_stat_at(uint32_t id)
{
	kv_assert(id < cmd_stat_len);
	return cmd_stat_list[id];
}

uint32_t cmd_stat_id(const struct kv_command *cmd)
{
	size_t i = cmd_stat_hash(cmd) & cmd_stat_mask;
	while (cmd_stat_index[i].cmd && cmd_stat_index[i].cmd != cmd)
		i = (i + 1) & cmd_stat_mask;
	return cmd_stat_index[i].cmd ? cmd_stat_index[i].id : UINT32_MAX;
}

const struct kv_command *cmd_stat_target(const struct kv_command *cmd, int argc,
					 const struct kv_slice *argv)
{
	if (!cmd->subcommands || argc < 2)
		return cmd;
	const struct kv_command *sub = cmd_find_sub(cmd->subcommands, &argv[1]);
	return sub ? sub : cmd;
}

static uint64_t cmd_name_hash(const char *lower, size_t len)
{
	return kv_hash64(lower, len, 0x6b657679636d64ull);
}

static void cmd_index_insert(const struct kv_command *cmd)
{
	size_t len = strlen(cmd->name);
	size_t i = cmd_name_hash(cmd->name, len) & cmd_index_mask;
	while (cmd_index[i]) {
		kv_assert(strcmp(cmd_index[i]->name, cmd->name) != 0);
		i = (i + 1) & cmd_index_mask;
	}
	cmd_index[i] = cmd;
}

void cmd_table_add(const struct kv_command *family)
{
	kv_assert(!cmd_list && cmd_extra_len < CMD_EXTRA_FAMILIES_MAX);
	cmd_extra[cmd_extra_len++] = family;
}

/* Family i of every family: this layer's, then the runtime's. */
static const struct kv_command *cmd_family(size_t i)
{
	return i < KV_ARRAY_LEN(cmd_families) ? cmd_families[i]
					      : cmd_extra[i - KV_ARRAY_LEN(cmd_families)];
}

void cmd_table_init(void)
{
	if (cmd_list)
		return;
	/* Whatever loads records needs the table to replay them: the AOF's
	 * replay hooks are installed here, once, for the server, the tools and
	 * the tests alike. */
	aof_set_effect_ops(&fx_aof_effect_ops);
	size_t n = 0;
	size_t nfamilies = KV_ARRAY_LEN(cmd_families) + cmd_extra_len;
	for (size_t f = 0; f < nfamilies; f++)
		for (const struct kv_command *c = cmd_family(f); c && c->name; c++)
			n++;
	cmd_list = kv_calloc(n, sizeof(*cmd_list));
	size_t cap = 16;
	while (cap < n * 4)
		cap *= 2;
	cmd_index = kv_calloc(cap, sizeof(*cmd_index));
	cmd_index_mask = cap - 1;
	for (size_t f = 0; f < nfamilies; f++) {
		for (const struct kv_command *c = cmd_family(f); c && c->name; c++) {
			kv_assert(strlen(c->name) < CMD_NAME_MAX);
			cmd_list[cmd_list_len++] = c;
			cmd_index_insert(c);
		}
	}
	cmd_stat_init();
}

const struct kv_command *cmd_lookup(const char *name, size_t len)
{
	char lower[CMD_NAME_MAX];
	if (len == 0 || len >= CMD_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	size_t i = cmd_name_hash(lower, len) & cmd_index_mask;
	while (cmd_index[i]) {
		const struct kv_command *c = cmd_index[i];
		if (strncmp(c->name, lower, len) == 0 && c->name[len] == '\0')
			return c;
		i = (i + 1) & cmd_index_mask;
	}
	return NULL;
}

size_t cmd_count(void)
{
	return cmd_list_len;
}

const struct kv_command *cmd_at(size_t i)
{
	kv_assert(i < cmd_list_len);
	return cmd_list[i];
}

bool cmd_arity_ok(const struct kv_command *cmd, int argc)
{
	return cmd->arity >= 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

void cmd_reply_arity(struct kv_buf *out, const struct kv_command *cmd)
{
	resp_errorf(out, "ERR wrong number of arguments for '%s' command", cmd->name);
}

/* Appends at most `room` bytes of a, stopping at a NUL as printf's %.*s does. */
static void cmd_append_clipped(struct kv_buf *b, const struct kv_slice *a, size_t room)
{
	size_t n = a->len < room ? a->len : room;
	const char *nul = memchr(a->ptr, '\0', n);
	if (nul)
		n = (size_t)(nul - a->ptr);
	kv_buf_append(b, a->ptr, n);
}

void cmd_reply_unknown(struct kv_buf *out, int argc, const struct kv_slice *argv)
{
	/* Redis quotes the first arguments until 128 bytes of them were shown. */
	struct kv_buf msg = KV_BUF_INIT;
	kv_buf_append_str(&msg, "ERR unknown command '");
	cmd_append_clipped(&msg, &argv[0], 128);
	kv_buf_append_str(&msg, "', with args beginning with: ");
	size_t args_start = msg.len;
	for (int i = 1; i < argc && msg.len - args_start < 128; i++) {
		kv_buf_append_char(&msg, '\'');
		cmd_append_clipped(&msg, &argv[i], 128 - (msg.len - 1 - args_start));
		kv_buf_append_str(&msg, "' ");
	}
	resp_error(out, kv_buf_cstr(&msg));
	kv_buf_free(&msg);
}

const struct kv_command *cmd_find_sub(const struct kv_command *subs,
				      const struct kv_slice *name)
{
	for (const struct kv_command *s = subs; s && s->name; s++) {
		const char *bar = strchr(s->name, '|');
		const char *n = bar ? bar + 1 : s->name;
		if (strlen(n) == name->len && strncasecmp(n, name->ptr, name->len) == 0)
			return s;
	}
	return NULL;
}

void cmd_reply_unknown_sub(struct kv_buf *out, const char *container,
			   const struct kv_slice *name)
{
	struct kv_buf msg = KV_BUF_INIT;
	kv_buf_append_str(&msg, "ERR unknown subcommand '");
	cmd_append_clipped(&msg, name, 128);
	kv_buf_append_str(&msg, "'. Try ");
	for (const char *p = container; *p; p++)
		kv_buf_append_char(&msg, (char)toupper((unsigned char)*p));
	kv_buf_append_str(&msg, " HELP.");
	resp_error(out, kv_buf_cstr(&msg));
	kv_buf_free(&msg);
}

void cmd_run_sub(struct cmd_ctx *c, const struct kv_command *subs, const char *container)
{
	const struct kv_command *sub = cmd_find_sub(subs, &c->argv[1]);
	if (!sub)
		cmd_reply_unknown_sub(c->out, container, &c->argv[1]);
	else if (!cmd_arity_ok(sub, c->argc))
		cmd_reply_arity(c->out, sub);
	else
		sub->proc(c);
}

int cmd_get_keys(const struct kv_command *cmd, int argc, const struct kv_slice *argv,
		 int *idx, int max)
{
	if (cmd->keys)
		return cmd->keys(argc, argv, idx, max);
	if (cmd->first_key <= 0 || argc <= cmd->first_key)
		return 0;
	int last = cmd->last_key >= 0 ? cmd->last_key : argc + cmd->last_key;
	if (last >= argc)
		last = argc - 1;
	int step = cmd->key_step > 0 ? cmd->key_step : 1;
	int n = 0;
	for (int i = cmd->first_key; i <= last; i += step) {
		if (n == max)
			return -1;
		idx[n++] = i;
	}
	return n;
}

void cmd_reply_help(struct kv_buf *out, const char *upper, const char *const *lines)
{
	int64_t n = 0;
	while (lines[n])
		n++;
	resp_array(out, n + 3);
	struct kv_buf head = KV_BUF_INIT;
	kv_buf_printf(&head, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
	resp_simple(out, kv_buf_cstr(&head));
	kv_buf_free(&head);
	for (int64_t i = 0; i < n; i++)
		resp_simple(out, lines[i]);
	resp_simple(out, "HELP");
	resp_simple(out, "    Prints this help.");
}

bool cmd_needs_all_shards(const struct kv_command *cmd, int argc, const struct kv_slice *argv)
{
	return (cmd->flags & CMD_ALL_SHARDS) || (cmd->all_shards && cmd->all_shards(argc, argv));
}

uint32_t cmd_key_shard(const struct cmd_ctx *c, const char *key, size_t klen)
{
	return kv_key_shard(key, klen, c->nshards);
}

static _Thread_local struct {
	struct cmd_reads *r;   /* NULL: not recording */
	uint32_t n;
} reads_tls;

void cmd_reads_begin(uint32_t nshards)
{
	kv_assert(!reads_tls.r);
	reads_tls.r = kv_calloc(nshards, sizeof(*reads_tls.r));
	reads_tls.n = nshards;
}

struct cmd_reads *cmd_reads_end(void)
{
	struct cmd_reads *r = reads_tls.r;
	reads_tls.r = NULL;
	return r;
}

void cmd_reads_free(struct cmd_reads *r, uint32_t nshards)
{
	for (uint32_t i = 0; r && i < nshards; i++)
		kv_buf_free(&r[i].keys);
	free(r);
}

static void reads_note(uint32_t shard, uint32_t db, const char *key, size_t klen)
{
	if (shard >= reads_tls.n)
		return;
	struct cmd_reads *r = &reads_tls.r[shard];
	if (r->all)
		return;
	if (!key) {
		r->all = true;
		return;
	}
	aof_keys_put_key(&r->keys, db, key, klen);
	r->n++;
}

static struct kv_dbs *dbs_held(const struct cmd_ctx *c, uint32_t shard_id)
{
	kv_assert(shard_id < c->nshards);
	kv_assert(c->held[shard_id] != NULL);
	return c->held[shard_id];
}

struct kv_db *cmd_db(const struct cmd_ctx *c, const char *key, size_t klen)
{
	uint32_t shard = kv_key_shard(key, klen, c->nshards);
	if (reads_tls.r)
		reads_note(shard, c->dbid, key, klen);
	const struct kv_dbs *d = dbs_held(c, shard);
	kv_assert(c->dbid < d->n);
	return d->db[c->dbid];
}

struct kv_db *cmd_db_at(const struct cmd_ctx *c, uint32_t shard_id)
{
	const struct kv_dbs *d = cmd_dbs_at(c, shard_id);
	kv_assert(c->dbid < d->n);
	return d->db[c->dbid];
}

struct kv_dbs *cmd_dbs_at(const struct cmd_ctx *c, uint32_t shard_id)
{
	if (reads_tls.r)
		reads_note(shard_id, 0, NULL, 0);
	return dbs_held(c, shard_id);
}
