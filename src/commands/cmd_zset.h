/*
 * cmd_zset.h - what the sorted set commands share with the blocking ones
 * (server/blocking.c): ZMPOP's argument rules and its pop, so BZMPOP parses,
 * replies and logs exactly as ZMPOP does; and ZADD's work, which GEOADD
 * shares.
 */
#ifndef KV_CMD_ZSET_H
#define KV_CMD_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commands/cmd.h"
#include "store/t_zset.h"

/* ZMPOP's and BZMPOP's "numkeys key... MIN|MAX [COUNT count]", numkeys at
 * argv[numkeys_idx]: returns NULL with the parsed values (count 1 when
 * absent), or the error Redis 7.0 replies, checked in Redis's order. */
const char *zset_mpop_parse(int argc, const struct kv_slice *argv, int numkeys_idx,
			    int64_t *numkeys, bool *max, int64_t *count);

/* Pops up to count members from the lowest (max false) or highest end of
 * the non-empty zset z stored at key in db, replying ZMPOP's
 * *2 key *n (*2 member score)... to out; accounts the memory, signals the
 * key and deletes it when it empties.  Returns how many were popped. */
size_t zset_mpop_reply(struct kv_db *db, const char *key, size_t klen, struct zset *z,
		       bool max, size_t count, struct kv_buf *out);

/* ZADD key's work once its arguments are parsed (GEOADD shares it): adds
 * or updates elements members, the j-th at argv[first + stride * j] with
 * scores[j], under the ZADD_IN_* flags, on the zset at argv[1]; replies as
 * ZADD does (the count added, or added + updated with ch; the new score
 * with ZADD_IN_INCR), signals WATCH and notifies "zadd" (or "zincr"). */
void zset_add_members(struct cmd_ctx *c, int flags, bool ch, const double *scores,
		      int elements, int first, int stride);

#endif
