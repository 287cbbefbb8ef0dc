/*
 * cmd_debug.h - the switches DEBUG turns on and off for the whole process.
 *
 * DEBUG runs in the command layer; what its switches change happens in the
 * runtime (the cron's active expiry, the cron itself, what a script may
 * call), which reads them here.  Each is an atomic any thread may read at
 * any time: a change applies from the reader's next look, as Redis's
 * globals do from its next cron or next call.
 */
#ifndef KV_CMD_DEBUG_H
#define KV_CMD_DEBUG_H

#include <stdatomic.h>

struct debug_switches {
	/* DEBUG SET-ACTIVE-EXPIRE: 0 stops the cron's expiry of keys nobody
	 * reads (lazy expiry on access stays); default 1. */
	_Atomic int active_expire;
	/* DEBUG PAUSE-CRON: non-zero skips every shard's cron work (active
	 * expiry, save rules, idle-client timeout, ...); default 0. */
	_Atomic int pause_cron;
	/* DEBUG SET-DISABLE-DENY-SCRIPTS: non-zero lets scripts call DEBUG, the
	 * one no-script command kevy can run inside a script; default 0. */
	_Atomic int scripts_may_debug;
};

extern struct debug_switches g_debug;

#endif
