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
extern const struct kv_command cmd_table_replica[];
/* Add them to the command table and build it (cmd_table_init): the
 * server's one call where the tools call cmd_table_init. */
void server_commands_init(void);

/* A replica (server/replica.c), at startup: finish what the config says
 * (replicaof) and tell whether the data directory holds a whole copy of a
 * primary (kevy.replica), which replica_boot_load then loads in place of
 * recovery; replica_boot_start (before the shard threads) enters the
 * replica role and starts the link.  replica_shutdown stops the link. */
bool replica_boot_prepare(void);
int replica_boot_load(void);
void replica_boot_start(void);
void replica_shutdown(void);
/* INFO replication and ROLE's view of this server's replication. */
void replica_status(struct repl_status *st);

/* What shard.c hands every command it runs as c->rt. */
extern const struct cmd_runtime server_runtime;

#endif
