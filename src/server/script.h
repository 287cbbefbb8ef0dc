/*
 * script.h - scripting's commands (EVAL*, SCRIPT) and what other runtime
 * files ask of it (docs/scripting.md).
 */
#ifndef KV_SCRIPT_H
#define KV_SCRIPT_H

#include <stdbool.h>
#include <stdint.h>

#include "commands/cmd.h"

/* Scripts in the process-wide cache and the bytes of their bodies. */
void script_cache_stats(uint64_t *count, uint64_t *bytes);
/* INFO stats evicted_scripts: EVAL scripts evicted from the cache (its
 * bound), and CONFIG RESETSTAT's zeroing of it. */
uint64_t script_evicted(void);
void script_reset_stats(void);
/* INFO memory (server_runtime.script_memory). */
void script_memory(uint64_t *eval_lua, uint64_t *func_lua, uint64_t *scripts,
		   uint64_t *script_bytes);
/* The function libraries loaded (server_runtime.function_libraries). */
uint64_t script_function_libraries(void);
/* What may run while a script is busy (everything else gets -BUSY). */
bool script_allowed_while_busy(const struct kv_command *cmd, int argc,
			       const struct kv_slice *argv);
/* SCRIPT KILL (and FUNCTION KILL): reply OK, NOTBUSY or UNKILLABLE. */
void script_kill(struct cmd_ctx *c, bool function);

/* Load the function libraries from the data directory (before any shard
 * serves).  Returns 0 (also when there is no file), or a negative error
 * with the reason, naming the file, in err. */
int script_functions_recover(char *err, size_t cap);

#endif
