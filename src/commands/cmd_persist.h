/*
 * cmd_persist.h - persistence commands and the INFO persistence section.
 */
#ifndef KV_CMD_PERSIST_H
#define KV_CMD_PERSIST_H

#include "base/buf.h"
#include "commands/cmd.h"

/* Append INFO's "# Persistence" section (every shard's AOF figures). */
void persist_info(const struct cmd_ctx *c, struct kv_buf *b);

/* The server's replication offset: the sum over shards of the LSN each
 * shard's AOF has made durable.  It only grows (LSNs survive restarts in the
 * files), and a replica that mirrors a primary's files has the same per-shard
 * LSNs, so it compares across replicas of one primary (docs/replication.md). */
uint64_t persist_repl_offset(const struct cmd_ctx *c);

/* On a replica: answers why nothing of its files may change, true. */
bool persist_on_replica(struct cmd_ctx *c);

#endif
