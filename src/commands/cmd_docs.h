/*
 * cmd_docs.h - what COMMAND DOCS and the key specs of COMMAND INFO say about
 * each command: arguments, history, doc flags, and Redis 7.0's key specs.
 *
 * The data are a table (cmd_docs_data.h, in the line format cmd_docs.c
 * describes), parsed once, the first time any function here is called.
 * This module writes those parts of the replies and answers which key-spec
 * flags a key of a call has (COMMAND GETKEYSANDFLAGS, ACL's key check); it
 * never finds the keys themselves: cmd_get_keys does.
 */
#ifndef KV_CMD_DOCS_H
#define KV_CMD_DOCS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "commands/cmd.h"

/* Redis 7.0's key-spec flags (COMMAND INFO prints them in this order). */
enum cmd_key_flags {
	CMD_KEY_RO = 1u << 0,
	CMD_KEY_RW = 1u << 1,
	CMD_KEY_OW = 1u << 2,
	CMD_KEY_RM = 1u << 3,
	CMD_KEY_ACCESS = 1u << 4,
	CMD_KEY_UPDATE = 1u << 5,
	CMD_KEY_INSERT = 1u << 6,
	CMD_KEY_DELETE = 1u << 7,
	CMD_KEY_NOT_KEY = 1u << 8,
	CMD_KEY_INCOMPLETE = 1u << 9,
	CMD_KEY_VARIABLE_FLAGS = 1u << 10,
};

/* The part of COMMAND DOCS' map after group and complexity: doc_flags,
 * deprecated_since, replaced_by, history, arguments, each when the command
 * has it.  Returns how many map entries it wrote (0 for a command the table
 * does not know). */
int cmd_docs_reply_extra(struct kv_buf *out, const struct kv_command *cmd);

/* COMMAND INFO's tips (a set of strings), as Redis 7.0 gives them; false,
 * writing nothing, for a command the table does not know. */
bool cmd_docs_reply_tips(struct kv_buf *out, const struct kv_command *cmd);

/* COMMAND INFO's key specs (a set of maps), as Redis 7.0 writes them. */
void cmd_docs_reply_keyspecs(struct kv_buf *out, const struct kv_command *cmd);

/* A key-spec flag set as COMMAND GETKEYSANDFLAGS prints it. */
void cmd_docs_reply_key_flags(struct kv_buf *out, uint32_t flags);

/* The key-spec flags of the keys at argv positions idx[0..n) of a call of
 * cmd (argv[0] is the command name), written to flags[0..n): each key gets
 * the flags of the spec that finds it, as Redis 7.0's COMMAND
 * GETKEYSANDFLAGS gives them (SET and BITFIELD by their arguments; 0 where
 * Redis's own key function gives none).  Returns 0; -1 when a key count in
 * the call does not fit it (ZUNIONSTORE d x a, EVAL s 5 a): Redis finds no
 * keys in such a call, whatever the command's own key rule says; 1 when the
 * table does not know the command (flags all 0). */
int cmd_docs_key_flags(const struct kv_command *cmd, int argc, const struct kv_slice *argv,
		       const int *idx, int n, uint32_t *flags);

#endif
