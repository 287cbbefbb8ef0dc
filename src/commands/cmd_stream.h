/*
 * cmd_stream.h - what the runtime's blocking XREAD / XREADGROUP (server/
 * blocking.c) needs of the stream commands: the read itself, and the keys
 * of a call.
 */
#ifndef KV_CMD_STREAM_H
#define KV_CMD_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "commands/cmd.h"

/* What a read that found nothing asks for. */
struct stream_read_wait {
	int64_t timeout_ms;        /* BLOCK's argument, -1 without BLOCK */
	int streams_arg;           /* index of the first key */
	int nstreams;
	/* The call with every "$" replaced by the stream's last ID at this
	 * point (so a retry after a wake-up reads only what came later);
	 * kv_malloc'ed argc slices whose bytes live in `bytes`, or NULL when
	 * nothing was replaced.  Freed by cmd_stream_read_wait_free. */
	struct kv_slice *argv;
	char *bytes;
};

/* Run XREAD or XREADGROUP (argv[0] says which).  Returns true when it
 * replied (entries or an error); false when there was nothing to read and
 * no reply was written: the caller blocks (w->timeout_ms >= 0) or replies a
 * null array. */
/* retry: the client was blocked and runs the call again after a write to
 * one of its keys; XREADGROUP then answers Redis's errors for a blocked
 * reader whose key or group went away. */
bool cmd_stream_read(struct cmd_ctx *c, struct stream_read_wait *w, bool retry);
void cmd_stream_read_wait_free(struct stream_read_wait *w);

/* Key extraction of XREAD / XREADGROUP (the keys after STREAMS). */
int cmd_stream_read_keys(int argc, const struct kv_slice *argv, int *idx, int max);

#endif
