/*
 * repl.c - the replication commands a primary answers: ROLE, REPLCONF, and
 * the handshake's end, PSYNC and SYNC.
 *
 * kevy replicates physically (docs/replication.md): a replica mirrors its
 * primary's data files, so only a kevy replica with the same shard count can
 * follow a kevy primary.  A replica says it is one in the handshake Redis
 * replicas already use: `REPLCONF capa kevy1` and `REPLCONF kevy-shards N`
 * before PSYNC.  This file checks that handshake and refuses, with a reply
 * that says why, a replica that cannot follow this server: a redis-server
 * (no kevy capability: it logs our reply), and a kevy replica with another
 * shard count.  The file stream itself (repl_format.c's frames) is not
 * served yet, so PSYNC from a matching kevy replica is refused too, saying
 * so; docs/replication.md lists what is done and what is not.
 *
 * REPLCONF answers a client's options as Redis 7.0 does: an option without
 * a value is a syntax error, an unknown option is named, listening-port
 * must be an integer, ACK from a connection that is not a replica gets no
 * reply at all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "commands/cmd.h"
#include "commands/cmd_persist.h"
#include "proto/resp.h"
#include "server/server.h"
#include "server/shard.h"

#define REPL_CAPA_KEVY "kevy1"
#define REPL_IP_MAX 256 /* Redis 7.0's NET_HOST_STR_LEN */

/* ROLE: a master's reply, with no replicas listed (none can attach yet). */
static void cmd_role(struct cmd_ctx *c)
{
	resp_array(c->out, 3);
	resp_bulk_str(c->out, "master");
	resp_int(c->out, (int64_t)persist_repl_offset(c));
	resp_array(c->out, 0);
}

/* REPLCONF <option> <value> [<option> <value> ...] */
static void cmd_replconf(struct cmd_ctx *c)
{
	struct conn *conn = c->conn;

	if (c->argc % 2 == 0) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	for (int j = 1; j < c->argc; j += 2) {
		const struct kv_slice *opt = &c->argv[j], *val = &c->argv[j + 1];
		int64_t n;
		if (arg_is(opt, "listening-port")) {
			if (!arg_to_int64(val, &n)) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			conn->repl_port = n;
		} else if (arg_is(opt, "ip-address")) {
			if (val->len >= REPL_IP_MAX) {
				resp_errorf(c->out, "ERR REPLCONF ip-address provided by replica instance "
					    "is too long: %zu bytes", val->len);
				return;
			}
		} else if (arg_is(opt, "capa")) {
			/* Capabilities this server does not know are ignored, as
			 * Redis ignores them; eof and psync2 are Redis's. */
			if (arg_is(val, REPL_CAPA_KEVY))
				conn->repl_kevy = true;
		} else if (arg_is(opt, "kevy-shards")) {
			if (!arg_to_int64(val, &n) || n < 1 || n > UINT32_MAX) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
			conn->repl_shards = (uint32_t)n;
		} else if (arg_is(opt, "ack") || arg_is(opt, "getack")) {
			/* From a connection that is not a replica's link, Redis
			 * answers nothing; no connection is one yet. */
			return;
		} else if (arg_is(opt, "rdb-only")) {
			if (!arg_to_int64(val, &n) || n < 0 || n > 1) {
				resp_error(c->out, RESP_ERR_NOT_INT);
				return;
			}
		} else {
			resp_errorf(c->out, "ERR Unrecognized REPLCONF option: %.*s", (int)opt->len,
				    opt->ptr);
			return;
		}
	}
	resp_ok(c->out);
}

/* Why this connection cannot be served as a replica.  A redis-server logs
 * the reply ("Unexpected reply to PSYNC from master: ..."), so it says what
 * to do. */
static void repl_refuse(struct cmd_ctx *c)
{
	struct conn *conn = c->conn;

	if (!conn->repl_kevy) {
		resp_error(c->out, "ERR kevy replicates only to kevy replicas (a kevy replica says "
				   "REPLCONF capa kevy1): a redis-server cannot be a replica of kevy");
		return;
	}
	if (conn->repl_shards != c->nshards) {
		if (conn->repl_shards == 0)
			resp_error(c->out, "ERR a kevy replica must say its shard count "
					   "(REPLCONF kevy-shards N) before PSYNC");
		else
			resp_errorf(c->out, "ERR the primary runs %" PRIu32 " shards, this replica %"
				    PRIu32 ": start the replica with --threads %" PRIu32, c->nshards,
				    conn->repl_shards, c->nshards);
		return;
	}
	resp_error(c->out, "ERR this kevy does not serve replicas yet: the replication stream "
			   "is not implemented (see docs/replication.md)");
}

/* PSYNC replid offset */
static void cmd_psync(struct cmd_ctx *c)
{
	repl_refuse(c);
}

/* SYNC: the pre-PSYNC handshake; a kevy replica never sends it. */
static void cmd_sync(struct cmd_ctx *c)
{
	repl_refuse(c);
}

const struct kv_command cmd_table_repl[] = {
	{ .name = "role", .arity = 1,
	  .flags = CMD_LOCAL | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
	  .proc = cmd_role, .group = "server", .since = "2.8.12",
	  .summary = "Return the role of the instance in the context of replication",
	  .complexity = "O(1)" },
	{ .name = "replconf", .arity = -1,
	  .flags = CMD_LOCAL | CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  .proc = cmd_replconf, .group = "server", .since = "3.0.0",
	  .summary = "An internal command for configuring the replication stream",
	  .complexity = "O(1)" },
	{ .name = "psync", .arity = -3,
	  .flags = CMD_LOCAL | CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI,
	  .proc = cmd_psync, .group = "server", .since = "2.8.0",
	  .summary = "Internal command used for replication", .complexity = NULL },
	{ .name = "sync", .arity = 1,
	  .flags = CMD_LOCAL | CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI,
	  .proc = cmd_sync, .group = "server", .since = "1.0.0",
	  .summary = "Internal command used for replication", .complexity = NULL },
	{ NULL },
};
