/*
 * supervise.h - the `supervised` setting: systemd's readiness notifications
 * (sd_notify, spoken directly on NOTIFY_SOCKET) and upstart's self-stop.
 * docs/operations.md says how to run kevy under systemd.
 */
#ifndef KV_SUPERVISE_H
#define KV_SUPERVISE_H

#include "commands/config.h"

/* Settles the mode (enum kv_supervised) from the setting and the
 * environment, as redis-server does: `auto` picks upstart when UPSTART_JOB
 * is set, systemd when NOTIFY_SOCKET is; systemd without a usable socket
 * falls back to no supervision (logged).  Sends the loading STATUS= under
 * systemd.  Returns the mode in force: KV_SUPERVISED_NO, _UPSTART or
 * _SYSTEMD. */
int supervise_init(int mode);
/* The mode supervise_init() settled on. */
int supervise_active(void);
/* Under systemd: STATUS= and READY=1 (every shard serves, recovery done). */
void supervise_ready(void);
/* Under systemd: STOPPING=1 (shutdown began). */
void supervise_stopping(void);

/* sd_notify(3) without libsystemd: sends msg as one datagram to
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).  Returns
 * 1 when sent, 0 when NOTIFY_SOCKET is unset, or -errno (-EINVAL for an
 * address it cannot use). */
int supervise_sd_notify(const char *msg);

#endif
