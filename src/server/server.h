/*
 * server.h - what the runtime exposes to command handlers: the shard set,
 * per-shard statistics, the client registry (CLIENT LIST/KILL/INFO), and
 * shutdown.  Implemented by shard.c / server.c.
 *
 * Statistics are per shard and single-writer: the shard's own thread updates
 * them with relaxed atomic stores, any thread may read them (INFO sums them).
 */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/resp.h"

struct conn;
struct shard;

struct shard_stats {
	_Atomic uint64_t connections_received;
	_Atomic uint64_t rejected_connections;
	_Atomic uint64_t commands_processed;
	_Atomic uint64_t keyspace_hits;
	_Atomic uint64_t keyspace_misses;
	_Atomic uint64_t net_input_bytes;
	_Atomic uint64_t net_output_bytes;
	_Atomic uint64_t connected_clients;
	_Atomic uint64_t forwarded_commands;   /* sent to another shard */
	_Atomic uint64_t multi_shard_commands; /* took several keyspaces */
	_Atomic uint64_t total_error_replies;
};

static inline void stat_add(_Atomic uint64_t *s, uint64_t n)
{
	atomic_store_explicit(s, atomic_load_explicit(s, memory_order_relaxed) + n,
			      memory_order_relaxed);
}
static inline uint64_t stat_get(_Atomic uint64_t *s)
{
	return atomic_load_explicit(s, memory_order_relaxed);
}

uint32_t server_nshards(void);
uint32_t shard_id(const struct shard *s);
struct shard_stats *shard_stats_of(uint32_t shard_id);
/* Zero every shard's resettable counters (CONFIG RESETSTAT). */
void server_reset_stats(void);

/* Process-level facts for INFO server. */
struct server_info {
	int64_t start_time_us;      /* wall clock at start */
	int64_t start_mono_us;
	const char *io_mode;        /* "io_uring" or "epoll" */
	const char *io_reason;      /* why epoll was chosen, or "" */
	int tcp_port;
	char run_id[41];
	const char *executable;
	const char *config_file;
	int64_t load_us;            /* startup recovery time */
};
const struct server_info *server_get_info(void);

/* Ask the server to stop: every shard finishes its loop turn and exits. */
void server_request_shutdown(void);

/* ---- clients ---- */
struct client_info {
	uint64_t id;
	char addr[64];      /* "ip:port" of the peer */
	char laddr[64];     /* "ip:port" of our end */
	int fd;
	char name[128];     /* "" when unset */
	int64_t age_s;
	int64_t idle_s;
	uint32_t shard;
	char flags[8];      /* "N" normal */
	char last_cmd[32];  /* lower-case name of the last command, "NULL" initially */
	uint64_t qbuf;      /* unparsed input bytes */
	uint64_t qbuf_free;
	uint64_t obl;       /* output bytes waiting */
	uint64_t omem;
	uint64_t tot_mem;
	int resp;           /* protocol version: 2 */
};

/* Call fn for every connected client on every shard (consistent per shard). */
void server_clients_foreach(void (*fn)(void *arg, const struct client_info *ci), void *arg);
/* Close every client for which match() returns true, except the one with id
 * skip_id (0 = none).  Returns how many were closed.  A client is closed by
 * its own shard after its pending replies; this call returns before that. */
uint64_t server_clients_kill(bool (*match)(void *arg, const struct client_info *ci),
			     void *arg, uint64_t skip_id);

/* ---- the calling client (valid in CMD_LOCAL handlers, where ctx->conn is set) ---- */
uint64_t conn_id(const struct conn *c);
void conn_info(const struct conn *c, struct client_info *ci);
/* The name set by CLIENT SETNAME / HELLO SETNAME; "" when unset. */
const char *conn_get_name(const struct conn *c);
void conn_set_name(struct conn *c, const char *name, size_t len);
bool conn_authenticated(const struct conn *c);
void conn_set_authenticated(struct conn *c, bool yes);
/* Close the connection once the reply of the current command was sent (QUIT). */
void conn_close_after_reply(struct conn *c);

#endif
