/*
 * repl_link.h - the replica's end of one replication link: connect to a
 * kevy primary, speak the handshake (AUTH, REPLCONF listening-port, capa
 * kevy1, kevy-shards N, kevy-pos per shard, PSYNC), then read frames,
 * verify each (repl_format.c), write it with repl_mirror.c and acknowledge
 * PING and SYNCED frames with REPLCONF ACK.
 *
 * Shared by kevy-mirror (tools/) and kevy-server's replica (server/
 * replica.c), which differ only in what they do around the frames: the
 * hooks below.  Blocking sockets with a receive/send timeout; one link per
 * call; the caller reconnects.  No keyspace is touched here.
 */
#ifndef KV_REPL_LINK_H
#define KV_REPL_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "persist/repl_format.h"
#include "persist/repl_mirror.h"

struct repl_link_cfg {
	const char *host, *port;   /* the primary */
	const char *auth, *user;   /* AUTH [user] pass, or NULL */
	const char *dir;           /* the data directory streamed into */
	uint32_t nshards;
	int timeout_s;             /* socket timeouts (repl-timeout) */
	int64_t listening_port;    /* REPLCONF listening-port, or 0 to say none */
	/* Set by another thread (or a signal) to end the link. */
	volatile int *stop;
	void *arg;
	/* A full sync starts: returns the directory its files go to (dir, or
	 * a staging directory it prepared), NULL to drop the link. */
	const char *(*full_begin)(void *arg, const char *replid);
	/* A partial resync starts (streaming into dir). 0 or drop. */
	int (*continue_begin)(void *arg, const char *replid);
	/* A full sync's files are complete and synced in the directory
	 * full_begin gave: make them the dataset of dir (and write
	 * kevy.replica).  0, or the link drops (next sync a full one). */
	int (*synced)(void *arg, const char *replid, uint64_t offset);
	/* A frame was verified and written while streaming (not during a
	 * full sync).  0 or drop (next sync a full one). */
	int (*frame)(void *arg, const struct repl_frame *f);
	/* While streaming: no more bytes are waiting on the socket, or a PING
	 * is about to be acknowledged (what came before it must be done).
	 * The replica applies what the frames since the last call brought.
	 * 0 or drop (next sync a full one).  May be NULL. */
	int (*flush)(void *arg);
	/* The link is up and in sync (after synced or continue_begin), or
	 * state changes worth a log line: free text. */
	void (*say)(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	/* The link's socket once connected, and -1 just before it is closed,
	 * so that a thread stopping the link can shut it down (waking a
	 * blocked read at once).  May be NULL. */
	void (*on_fd)(void *arg, int fd);
};

/* One link: returns 0 when *stop ended it, -1 otherwise (logged through
 * say).  *full_next: in, a full sync is wanted; out, the next link must
 * ask for one (a refused frame).  *synced: the primary accepted a sync
 * (the caller's backoff can start over). */
int repl_link_run(const struct repl_link_cfg *cfg, bool *full_next, bool *synced);

#endif
