/*
 * cmd_persist.h - persistence commands and the INFO persistence section.
 */
#ifndef KV_CMD_PERSIST_H
#define KV_CMD_PERSIST_H

#include "base/buf.h"
#include "commands/cmd.h"

/* Append INFO's "# Persistence" section (every shard's AOF figures). */
void persist_info(const struct cmd_ctx *c, struct kv_buf *b);

#endif
