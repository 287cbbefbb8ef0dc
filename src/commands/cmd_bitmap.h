/*
 * cmd_bitmap.h - what the bitmap commands share with SETBIT/GETBIT
 * (cmd_string.c): the rule for a bit offset argument.
 */
#ifndef KV_CMD_BITMAP_H
#define KV_CMD_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "commands/cmd.h"

/* Redis's getBitOffsetFromArgument: a whole, non-negative integer whose
 * byte stays below proto-max-bulk-len.  With hash_bits > 0 (BITFIELD, the
 * field's width) the form "#N" is accepted too and means N * hash_bits.
 * Returns true with *out set, or false after replying Redis's error. */
bool cmd_bit_offset(struct cmd_ctx *c, const struct kv_slice *a, int hash_bits, uint64_t *out);

#endif
