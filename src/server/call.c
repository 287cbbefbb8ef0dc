/*
 * call.c - a command call as the runtime moves it around: a copy in one
 * allocation that outlives the client's input buffer (forwarded commands,
 * txns, broadcasts, blocked clients, MULTI queues), and the set of shards
 * its keys live on, and whether a txn of it lets the connection's next
 * commands follow it into a chain.  Pure helpers: nothing here runs a
 * command.
 */
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "server/shard.h"

/* Allocates `head` bytes followed by a copy of the call's arguments; the
 * cmd_call inside the head is at offset call_off. */
void *shard_call_copy(size_t head, size_t call_off, const struct kv_command *cmd,
		       int argc, const struct kv_slice *argv, int64_t now_ms)
{
	size_t bytes = 0;
	for (int i = 0; i < argc; i++)
		bytes += argv[i].len + 1;
	head = (head + 7) & ~(size_t)7;
	char *block = kv_malloc(head + (size_t)argc * sizeof(struct kv_slice) + bytes);
	memset(block, 0, head);
	struct cmd_call *call = (struct cmd_call *)(block + call_off);
	struct kv_slice *copy = (struct kv_slice *)(block + head);
	char *data = (char *)(copy + argc);
	for (int i = 0; i < argc; i++) {
		memcpy(data, argv[i].ptr, argv[i].len);
		data[argv[i].len] = '\0';
		copy[i].ptr = data;
		copy[i].len = argv[i].len;
		data += argv[i].len + 1;
	}
	call->cmd = cmd;
	call->argc = argc;
	call->argv = copy;
	call->now_ms = now_ms;
	return block;
}

/* Sorted unique shards of the call's keys; returns the count (0 = keyless). */
uint32_t shard_call_shards(const struct kv_command *cmd, int argc, const struct kv_slice *argv,
			    uint32_t *out)
{
	uint32_t n = g_server.nshards;
	if (cmd_needs_all_shards(cmd, argc, argv)) {
		for (uint32_t i = 0; i < n; i++)
			out[i] = i;
		return n;
	}
	if (cmd->route) {
		out[0] = cmd->route(argc, argv, n) % n;
		return 1;
	}
	int idx_stack[64];
	int *idx = idx_stack;
	int max = argc < 64 ? 64 : argc;
	if (max > 64)
		idx = kv_malloc((size_t)max * sizeof(int));
	int nkeys = cmd_get_keys(cmd, argc, argv, idx, max);
	uint64_t seen[(SHARD_MAX + 63) / 64] = { 0 };
	uint32_t count = 0;
	for (int k = 0; k < nkeys; k++) {
		const struct kv_slice *key = &argv[idx[k]];
		uint32_t sh = kv_key_shard(key->ptr, key->len, n);
		if (!(seen[sh / 64] & (1ull << (sh % 64)))) {
			seen[sh / 64] |= 1ull << (sh % 64);
			count++;
		}
	}
	if (idx != idx_stack)
		free(idx);
	uint32_t j = 0;
	for (uint32_t sh = 0; sh < n && j < count; sh++)
		if (seen[sh / 64] & (1ull << (sh % 64)))
			out[j++] = sh;
	return count;
}

/* A command whose txn the connection's next commands may follow into the
 * same chain (route.c: shard_txn_may_follow): one that runs as one plain
 * call.  Not one that may block, wait for fsyncs or snapshots, run a script or
 * a transaction, or decide its shards at run time: the connection's later
 * commands must not run before such a call has finished. */
bool shard_cmd_pipelines(const struct kv_command *cmd)
{
	return !(cmd->flags & (CMD_LOCAL | CMD_ALL_SHARDS | CMD_BLOCKING | CMD_WAIT_DURABLE |
			       CMD_WAIT_SNAPSHOT | CMD_PROTECTED | CMD_SKIP_MONITOR | CMD_NOSCRIPT |
			       CMD_PUBSUB | CMD_NO_MULTI)) &&
	       !cmd->subcommands && !cmd->bcast && !cmd->conn_shards && !cmd->route &&
	       !cmd->all_shards;
}
