/*
 * server.h - what the process around the shards offers the rest of the
 * program: the runtime's own command families, and server_runtime, the
 * services command handlers reach through their context
 * (commands/runtime.h, implemented in runtime.c).
 */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include <stdint.h>

#include "commands/cmd.h"
#include "commands/runtime.h"

/* The command families that need the runtime's connections and shards. */
extern const struct kv_command cmd_table_multi[];
extern const struct kv_command cmd_table_pubsub[];
extern const struct kv_command cmd_table_blocking[];
extern const struct kv_command cmd_table_script[];
extern const struct kv_command cmd_table_function[];
extern const struct kv_command cmd_table_repl[];
/* Add them to the command table and build it (cmd_table_init): the
 * server's one call where the tools call cmd_table_init. */
void server_commands_init(void);

/* What shard.c hands every command it runs as c->rt. */
extern const struct cmd_runtime server_runtime;

#endif
