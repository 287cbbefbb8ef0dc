/*
 * rdb_value.h - one value in Redis's DUMP payload format (RDB version 10,
 * redis-server 7.0), both ways: DUMP writes it, RESTORE reads it.
 *
 * The byte layout is written at the top of rdb_value.c and in
 * docs/format.md ("Redis DUMP payloads").  What is accepted: every encoding
 * Redis 7.0 writes and the older ones it still loads (see the .c file);
 * streams and module values are not kevy types and are refused.  Every
 * length and offset of a payload is checked before it is used: a malformed
 * payload is an error value, never an assertion.
 *
 * What is written: the encoding Redis 7.0 would write for the same value in
 * the same OBJECT ENCODING, byte for byte where Redis's own bytes do not
 * depend on its hash tables' order (strings, intsets, listpacks, skiplists,
 * lists as a quicklist of listpacks split as RPUSH would split them).
 *
 * Not here: the DUMP and RESTORE commands (commands/cmd_dump.c), TTLs
 * (a payload holds none), the keyspace.
 */
#ifndef KV_RDB_VALUE_H
#define KV_RDB_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "store/store.h"

/* The RDB version kevy writes and the newest it reads (Redis 7.0's). */
#define RDB_DUMP_VERSION 10
/* Footer: 2-byte version and 8-byte CRC-64, both little-endian. */
#define RDB_DUMP_FOOTER 10

/* A decoded value, ready to be handed to the store: a string's bytes in
 * str, or a value object (list, set, zset, hash) in obj that the caller
 * either gives to db_set_object or releases with rdb_value_release. */
struct rdb_value {
	enum kv_type type;
	void *obj;
	struct kv_buf str;
};

/* Append the DUMP payload of e's value to out. */
void rdb_value_dump(const struct kv_entry *e, struct kv_buf *out);

/* Check a payload's footer: 0, KV_EVERSION for an RDB version newer than
 * RDB_DUMP_VERSION, KV_ECORRUPT for a payload shorter than the footer or
 * whose CRC-64 does not match (Redis answers both with "DUMP payload
 * version or checksum are wrong"). */
int rdb_payload_verify(const void *payload, size_t len);

/* Decode a payload whose footer rdb_payload_verify accepted.  Returns 0 with
 * *out filled, or KV_ECORRUPT (nothing allocated) for a type kevy does not
 * hold, a malformed or truncated value, bytes left over before the footer,
 * an empty collection, duplicate members or fields, or a NaN score. */
int rdb_value_load(const void *payload, size_t len, struct rdb_value *out);

/* Free what *v holds (after a failed use, or a string already copied). */
void rdb_value_release(struct rdb_value *v);

#endif
