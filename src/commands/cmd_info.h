/*
 * cmd_info.h - MEMORY's report subcommands, which share INFO memory's
 * accounting (cmd_info.c); the MEMORY container itself is cmd_debug.c's.
 */
#ifndef KV_CMD_INFO_H
#define KV_CMD_INFO_H

#include "commands/cmd.h"

/* MEMORY STATS, MEMORY DOCTOR: hold every shard (the container's
 * all_shards hook); MALLOC-STATS and PURGE need no keyspace. */
void cmd_memory_stats(struct cmd_ctx *c);
void cmd_memory_doctor(struct cmd_ctx *c);
void cmd_memory_malloc_stats(struct cmd_ctx *c);
void cmd_memory_purge(struct cmd_ctx *c);
/* Bytes the process has allocated (glibc's count: INFO's used_memory), or
 * fallback where the C library cannot say. */
uint64_t info_heap_bytes(uint64_t fallback);

#endif
