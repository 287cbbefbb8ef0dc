/*
 * shard.c - one shard's thread: its loop turn, its connections (accept,
 * input, parsing, output, close and reaping), cron (expiry, save rules,
 * idle clients), and the AOF and snapshot steps at the end of each turn.
 * The reactors (reactor_uring.c, reactor_epoll.c) only move bytes and call
 * the shard_on_* callbacks here.
 *
 * Not here: what happens to a parsed command (route.c), reply order and
 * durability (gate.c), messages between shards (msg.c).
 */
#include "commands/acl.h"
#include "server/shard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "persist/aof_plan.h"
#include "commands/cmd_debug.h"
#include "commands/config.h"
#include "commands/fx.h"
#include "commands/notify.h"
#include "base/kv.h"
#include "base/log.h"

/* Commands one connection may run per loop turn before others get a go. */
#define CONN_DISPATCH_BUDGET 512
/* Input backpressure: a connection stops being read while it has more than
 * CONN_INPUT_HIGH bytes of whole requests it has not run yet, and is read
 * again below CONN_INPUT_LOW (or once only part of a request is left, which
 * only more input completes).  A client that pipelines faster than its
 * commands run then waits in its socket, as with Redis, instead of in
 * kevy's memory (a 200 MB `redis-cli --pipe` load held 220 MB). */
#define CONN_INPUT_HIGH (512 * 1024)
#define CONN_INPUT_LOW (128 * 1024)

/* ------------------------------------------------------------------ */
/* connections */

/* client-output-buffer-limit: a client whose unsent output passes the hard
 * limit, or stays above the soft limit for the soft period, is closed. */
static bool conn_over_output_limit(struct shard *s, struct conn *c)
{
	bool pubsub = pubsub_count(c) > 0;
	int64_t hard = atomic_load_explicit(pubsub ? &g_config.obuf_pubsub_hard
						   : &g_config.obuf_normal_hard, memory_order_relaxed);
	int64_t soft = atomic_load_explicit(pubsub ? &g_config.obuf_pubsub_soft
						   : &g_config.obuf_normal_soft, memory_order_relaxed);
	int64_t soft_s = atomic_load_explicit(pubsub ? &g_config.obuf_pubsub_soft_s
						     : &g_config.obuf_normal_soft_s, memory_order_relaxed);
	uint64_t pending = c->out.len + c->sending.len - c->send_off;
	for (struct reply_slot *slot = c->slots_head; slot; slot = slot->next)
		pending += slot->buf.len;
	if (hard > 0 && pending > (uint64_t)hard)
		return true;
	if (soft > 0 && pending > (uint64_t)soft) {
		if (c->obuf_soft_since_ms == 0)
			c->obuf_soft_since_ms = s->now_ms;
		else if (s->now_ms - c->obuf_soft_since_ms >= soft_s * 1000)
			return true;
	} else {
		c->obuf_soft_since_ms = 0;
	}
	return false;
}

static void conn_begin_close(struct shard *s, struct conn *c)
{
	if (c->close_started)
		return;
	c->close_started = true;
	s->reactor->conn_close(s, c);
}

static void conn_protocol_error(struct shard *s, struct conn *c, const char *msg)
{
	struct kv_buf *out = conn_reply_target(c);
	size_t at = out->len;
	resp_error(out, msg);
	stat_error(&s->stats, out->data + at, out->len - at);
	c->close_after_reply = true;
	conn_mark_flush(s, c);
	log_verbose("Protocol error (%s) from client id=%llu addr=%s", msg,
		    (unsigned long long)c->id, c->addr);
}

/* Parse and dispatch what a connection has buffered.  Returns commands run. */
static int conn_process(struct shard *s, struct conn *c)
{
	int done = 0;
	if (c->dispatching)
		return 0;   /* its command runs a busy script: the rest waits for it */
	if (c->retry_call && !c->txn_inflight && !c->io_dead) {
		/* Woken from a block: run the command again before newer input. */
		struct cmd_call *call = c->retry_call;
		c->block_retry = true;
		c->in_retry = true;
		c->dispatching = true;
		enum dispatch_result r = shard_dispatch(s, c, call->argc, call->argv);
		c->dispatching = false;
		c->in_retry = false;
		if (r == DISPATCH_WAIT)
			return 0;
		c->retry_call = NULL;
		free(call);
		done++;
	}
	bool need_more = false;   /* stopped at the end of what arrived */
	while (done < CONN_DISPATCH_BUDGET) {
		if (c->close_after_reply || c->io_dead || c->paused || c->blocked ||
		    c->wait_blocked || c->retry_call || c->mig_state != MIG_NONE)
			break;
		if (s->ovf_count > SHARD_OVERFLOW_PAUSE)
			break;
		size_t avail = c->in.len - c->in_pos;
		if (avail == 0) {
			need_more = true;
			break;
		}
		int argc;
		struct kv_slice *argv;
		const char *err = NULL;
		int64_t n = resp_parse(&c->parser, c->in.data + c->in_pos, avail, &argc, &argv, &err);
		if (n == RESP_NEED_MORE) {
			need_more = true;
			break;
		}
		if (n < 0) {
			conn_protocol_error(s, c, err ? err : "ERR Protocol error");
			break;
		}
		/* With a txn of its own out, only a txn that follows it into
		 * the same chain (route.c); the rest waits, unparsed. */
		if (c->txn_inflight && (argc == 0 || !shard_txn_may_follow(s, c, argc, argv)))
			break;
		c->block_retry = false;
		/* CLIENT LIST shows the calling client's query buffer with the
		 * command it runs, as Redis does. */
		atomic_store_explicit(&c->qbuf_len, avail, memory_order_relaxed);
		atomic_store_explicit(&c->qbuf_free, c->in.cap - c->in.len, memory_order_relaxed);
		c->dispatching = true;
		c->dispatching_last = (size_t)n == avail;
		enum dispatch_result r = argc > 0 ? shard_dispatch(s, c, argc, argv) : DISPATCH_DONE;
		c->dispatching = false;
		c->dispatching_last = false;
		if (r == DISPATCH_WAIT)
			break;
		c->in_pos += (size_t)n;
		done++;
	}
	if (c->in_pos == c->in.len) {
		c->in.len = 0;
		c->in_pos = 0;
	} else if (c->in_pos > c->in.len / 2) {
		/* Parsed bytes are dropped from the front only once they
		 * outweigh what remains, so each byte moves at most once on
		 * average: a client that pipelines megabytes (redis-cli --pipe)
		 * would otherwise have its whole backlog moved every turn. */
		kv_buf_consume(&c->in, c->in_pos);
		c->in_pos = 0;
	}
	size_t unparsed = c->in.len - c->in_pos;
	atomic_store_explicit(&c->qbuf_len, unparsed, memory_order_relaxed);
	atomic_store_explicit(&c->qbuf_free, c->in.cap - c->in.len, memory_order_relaxed);
	if (!c->recv_paused) {
		if (!need_more && unparsed > CONN_INPUT_HIGH && !c->close_started)
			s->reactor->conn_recv(s, c, false);
	} else if (need_more || unparsed < CONN_INPUT_LOW) {
		s->reactor->conn_recv(s, c, true);
	}
	/* More buffered commands wait for the next turn (fairness). */
	if (done == CONN_DISPATCH_BUDGET) {
		conn_schedule(s, c);
	} else if (c->read_eof && !c->txn_inflight && !c->paused && !c->close_after_reply &&
		   !c->blocked && !c->retry_call && c->mig_state == MIG_NONE) {
		/* The peer is done sending and nothing more can be parsed: once
		 * the replies are out, close (a trailing partial request is
		 * dropped, as Redis does). */
		c->close_after_reply = true;
		conn_mark_flush(s, c);
	}
	return done;
}

/* Runs each connection scheduled so far once (those it schedules again wait
 * for the next turn: fairness).  The batch lives in the shard, not on the
 * stack, so that a busy script's turn (shard_busy_turn), which runs inside
 * one of these connections' commands, serves the rest of the batch too,
 * then what arrived since. */
static int shard_process_ready(struct shard *s)
{
	int n = 0;
	bool taken = false;
	for (;;) {
		if (!s->batch_head) {
			if (taken || !s->ready_head)
				break;
			s->batch_head = s->ready_head;
			s->ready_head = s->ready_tail = NULL;
			taken = true;
		}
		struct conn *c = s->batch_head;
		s->batch_head = c->ready_next;
		c->in_ready = false;
		if (!c->io_closed)
			n += conn_process(s, c);
	}
	return n;
}

static void conn_set_addrs(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	c->addr[0] = c->laddr[0] = '\0';
	for (int side = 0; side < 2; side++) {
		len = sizeof(ss);
		int rc = side == 0 ? getpeername(c->fd, (struct sockaddr *)&ss, &len)
				   : getsockname(c->fd, (struct sockaddr *)&ss, &len);
		char *dst = side == 0 ? c->addr : c->laddr;
		if (rc != 0)
			continue;
		int port = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
			port = ntohs(sin6->sin6_port);
		}
		snprintf(dst, sizeof(c->addr), "%s:%d", host, port);
	}
}

/* Redis's islocalClient(): only 127.0.0.1 and ::1 count as local, not the
 * rest of 127.0.0.0/8 nor ::ffff:127.0.0.1 (kevy has no unix socket). */
static bool conn_peer_is_local(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	if (ss.ss_family == AF_INET)
		return ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	if (ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
	return false;
}

/* Protected mode (Redis 7.0's clientAcceptHandler): with no password, a
 * client from anywhere but the loopback addresses gets this and is closed,
 * whatever the bind addresses are.  Redis's text, word for word: clients
 * and operators match on it (docs/operations.md). */
static const char conn_denied_msg[] =
	"-DENIED Redis is running in protected mode because protected "
	"mode is enabled and no password is set for the default user. "
	"In this mode connections are only accepted from the loopback interface. "
	"If you want to connect from external computers to Redis you "
	"may adopt one of the following solutions: "
	"1) Just disable protected mode sending the command "
	"'CONFIG SET protected-mode no' from the loopback interface "
	"by connecting to Redis from the same host the server is "
	"running, however MAKE SURE Redis is not publicly accessible "
	"from internet if you do so. Use CONFIG REWRITE to make this "
	"change permanent. "
	"2) Alternatively you can just disable the protected mode by "
	"editing the Redis configuration file, and setting the protected "
	"mode option to 'no', and then restarting the server. "
	"3) If you started the server manually just for testing, restart "
	"it with the '--protected-mode no' option. "
	"4) Setup a an authentication password for the default user. "
	"NOTE: You only need to do one of the above things in order for "
	"the server to start accepting connections from the outside.\r\n";

static bool conn_refuse_protected(int fd)
{
	return atomic_load_explicit(&g_config.protected_mode, memory_order_relaxed) &&
	       !atomic_load(&g_config.requirepass_set) && !conn_peer_is_local(fd);
}

/* Answers a connection that is not served with one error line and closes
 * it.  The socket is new, so the line fits its send buffer. */
static void conn_reject(struct shard *s, int fd, const char *msg, size_t len)
{
	ssize_t w = send(fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	close(fd);
	atomic_fetch_sub(&g_server.total_clients, 1);
	stat_add(&s->stats.rejected_connections, 1);
}

/* A listener CONFIG SET port/bind replaced, once no reactor accepts on it:
 * the connections still in its accept queue are taken, then it is closed.
 * Closing it with them queued resets them; with the new listeners on the
 * same port (SO_REUSEPORT) the kernel gives new connections to old and new
 * alike until the old one is closed.  What lands between the last accept
 * and the close is still lost (the kernel's net.ipv4.tcp_migrate_req moves
 * it instead): a window of one system call, not of a ring's teardown. */
void shard_retire_listener(struct shard *s, int fd)
{
	for (int i = 0; i < 4096 && !s->stopping; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			break;
		shard_on_accept(s, c);
	}
	close(fd);
}

void shard_on_accept(struct shard *s, int fd)
{
	stat_add(&s->stats.connections_received, 1);
	uint64_t total = atomic_fetch_add(&g_server.total_clients, 1) + 1;
	if ((int64_t)total > atomic_load_explicit(&g_config.maxclients, memory_order_relaxed)) {
		static const char msg[] = "-ERR max number of clients reached\r\n";
		conn_reject(s, fd, msg, sizeof(msg) - 1);
		return;
	}
	if (conn_refuse_protected(fd)) {
		conn_reject(s, fd, conn_denied_msg, sizeof(conn_denied_msg) - 1);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int64_t keepalive = atomic_load_explicit(&g_config.tcp_keepalive_s, memory_order_relaxed);
	if (keepalive > 0)
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));

	struct conn *c = kv_calloc(1, sizeof(*c));
	c->id = atomic_fetch_add(&g_server.next_conn_id, 1);
	c->fd = fd;
	c->shard = s;
	c->created_ms = s->now_ms;
	atomic_store(&c->last_active_ms, s->now_ms);
	atomic_store(&c->last_cmd, "NULL");
	atomic_store(&c->info_redir, -1);
	c->authenticated = !atomic_load(&g_config.requirepass_set);
	c->local = conn_peer_is_local(fd);
	c->user = acl_default_user();
	acl_user_ref(c->user);
	c->authenticated = !acl_auth_required();
	resp_parser_init(&c->parser, &s->resp_limits);
	resp_parser_set_authenticated(&c->parser, c->authenticated);
	conn_set_addrs(c);

	pthread_mutex_lock(&s->clients_lock);
	conn_list_link(s, c);
	pthread_mutex_unlock(&s->clients_lock);
	stat_add(&s->stats.connected_clients, 1);
	s->reactor->conn_start(s, c);
}

void shard_on_data(struct shard *s, struct conn *c, const char *p, size_t n)
{
	if (c->close_started)
		return;
	if (c->sender) {
		repl_sender_input(c, p, n);
		return;
	}
	kv_buf_append(&c->in, p, n);
	if (c->in.len > c->in_peak)
		c->in_peak = c->in.len;
	stat_add(&s->stats.net_input_bytes, n);
	stat_add(&s->stats.reads_processed, 1);
	atomic_store_explicit(&c->last_active_ms, s->now_ms, memory_order_relaxed);
	int64_t limit = atomic_load_explicit(&g_config.client_query_buffer_limit,
					     memory_order_relaxed);
	if (limit > 0 && (int64_t)(c->in.len - c->in_pos) > limit) {
		log_warning("Closing client that reached max query buffer length: id=%llu addr=%s "
			    "(qbuf initial bytes not shown)", (unsigned long long)c->id, c->addr);
		c->io_dead = true;
		conn_begin_close(s, c);
		return;
	}
	conn_schedule(s, c);
}

void shard_on_hangup(struct shard *s, struct conn *c)
{
	if (c->sender) {
		repl_sender_hangup(c);
		return;
	}
	c->io_dead = true;
	conn_begin_close(s, c);
}

void shard_on_eof(struct shard *s, struct conn *c)
{
	/* A blocked client that hangs up is gone (as in Redis): it must not
	 * be served an element it will never read. */
	if (c->blocked || c->sender) {
		shard_on_hangup(s, c);
		return;
	}
	c->read_eof = true;
	conn_schedule(s, c);
}

void shard_on_sent(struct shard *s, struct conn *c, size_t n)
{
	if (c->sender) {
		repl_sender_sent(c);
		return;
	}
	stat_add(&s->stats.net_output_bytes, n);
	stat_add(&s->stats.writes_processed, 1);
}

void shard_on_wakeup(struct shard *s)
{
	(void)s; /* the loop drains the rings every turn */
}

static void conn_unregister(struct shard *s, struct conn *c)
{
	pthread_mutex_lock(&s->clients_lock);
	conn_list_unlink(s, c);
	pthread_mutex_unlock(&s->clients_lock);
	stat_add(&s->stats.connected_clients, (uint64_t)-1);
	atomic_fetch_sub(&g_server.total_clients, 1);
}

void shard_on_ring_file(struct shard *s, struct kvio_op *op, int res)
{
	if (s->senders && repl_sender_read_done(s, op, res))
		return;
	shard_on_file(s, op, res);
}

void shard_conn_io_done(struct shard *s, struct conn *c)
{
	kv_assert(!c->io_closed);
	if (c->sender) {
		repl_sender_io_done(c);   /* freed by repl_senders_turn */
		return;
	}
	c->io_closed = true;
	if (c->repl_handoff)
		repl_sender_start(s, c, c->fd);   /* the socket is a replica's link now */
	else
		close(c->fd);
	c->fd = -1;
	conn_unregister(s, c);
	tracking_conn_drop(s, c);
	c->in_zombies = true;
	c->zombie_next = s->zombies;
	s->zombies = c;
}

static void conn_free(struct conn *c)
{
	kv_assert(!c->blocked);
	free(c->retry_call);
	free(c->repl_pos);
	multi_conn_free(c);
	resp_parser_free(&c->parser);
	acl_user_unref(c->user);
	kv_buf_free(&c->in);
	kv_buf_free(&c->out);
	kv_buf_free(&c->sending);
	while (c->slots_head) {
		struct reply_slot *slot = c->slots_head;
		c->slots_head = slot->next;
		kv_buf_free(&slot->buf);
		free(slot);
	}
	free(c);
}

/* Free closed connections nothing refers to any more: no reply or txn out,
 * not queued in any list of this turn. */
static void shard_reap_zombies(struct shard *s)
{
	struct conn **pp = &s->zombies;
	while (*pp) {
		struct conn *c = *pp;
		/* Subscription tables change only while the keyspace is free
		 * (PUBSUB NUMSUB may be reading them from another shard). */
		if (c->pubsub && !s->holder)
			pubsub_conn_drop(s, c);
		monitor_conn_drop(s, c);
		if (c->blocked && blocking_finish(c, false))
			conn_unblock(s, c, UNBLOCK_DEAD, NULL, NULL);
		if (c->nwatches > 0 && !c->txn_inflight) {
			/* WATCHes pin nodes in other shards' keyspaces: release them
			 * through the same path as UNWATCH before the conn goes. */
			uint32_t shards[SHARD_MAX];
			struct kv_slice name = { "unwatch", 7 };
			uint32_t n = multi_unwatch_command.conn_shards(c, 1, &name, shards);
			if (n == 1 && shards[0] == s->id && !s->holder) {
				struct kv_buf sink = KV_BUF_INIT;
				struct cmd_call call = { .cmd = &multi_unwatch_command, .argc = 1,
							 .argv = &name, .now_ms = s->now_ms,
							 .internal = true };
				shard_call_run(s, &call, c, s->held_local, &sink);
				kv_buf_free(&sink);
			} else if (!(n == 1 && shards[0] == s->id)) {
				shard_start_txn(s, c, &multi_unwatch_command, 1, &name, shards, n);
			}
		}
		if (c->inflight == 0 && c->nwatches == 0 && !c->pubsub && !c->in_ready &&
		    !c->in_flush && !c->in_paused && c->mig_state == MIG_NONE) {
			*pp = c->zombie_next;
			conn_free(c);
		} else {
			pp = &c->zombie_next;
		}
	}
}

static void shard_flush_conns(struct shard *s)
{
	struct conn *list = s->flush_head;
	s->flush_head = NULL;
	while (list) {
		struct conn *c = list;
		list = c->flush_next;
		c->in_flush = false;
		if (c->io_closed)
			continue;
		if (c->io_dead) {
			conn_begin_close(s, c);
			continue;
		}
		if (conn_over_output_limit(s, c)) {
			log_warning("Client id=%llu addr=%s closed for overcoming of output buffer limits.",
				    (unsigned long long)c->id, c->addr);
			c->io_dead = true;
			conn_begin_close(s, c);
			continue;
		}
		if (c->out.len)
			s->reactor->conn_flush(s, c);
		atomic_store_explicit(&c->obuf_len, c->out.len + c->sending.len - c->send_off,
				      memory_order_relaxed);
		/* QUIT and protocol errors close once their reply is out. */
		if (c->close_after_reply && !c->slots_head && c->out.len == 0 && !c->send_inflight)
			conn_begin_close(s, c);
	}
}

void shard_conn_detached(struct shard *s, struct conn *c)
{
	migrate_detached(s, c);
}

/* Called by reactors when a send completed and nothing more is queued. */
void shard_conn_drained(struct shard *s, struct conn *c)
{
	if (c->sender)
		return;   /* its next frames come with the shard's turn */
	atomic_store_explicit(&c->obuf_len, 0, memory_order_relaxed);
	if (c->close_after_reply && !c->slots_head && c->out.len == 0)
		conn_begin_close(s, c);
}

/* ------------------------------------------------------------------ */
/* background work */

/* CONFIG SET port/bind left new listeners (server.c, server_relisten):
 * swap them in; the reactor stops accepting on the old ones and closes
 * them.  A connection the old ones accepted stays. */
void shard_take_listeners(struct shard *s)
{
	int old[16];
	pthread_mutex_lock(&g_server.listen_lock);
	if (!atomic_exchange(&s->listen_pending, false)) {
		pthread_mutex_unlock(&g_server.listen_lock);
		return;
	}
	int nold = s->nlisten;
	memcpy(old, s->listen_fds, sizeof(old));
	memcpy(s->listen_fds, s->pending_fds, sizeof(s->listen_fds));
	s->nlisten = s->npending;
	s->npending = 0;
	pthread_mutex_unlock(&g_server.listen_lock);
	s->listen_gen++;
	s->reactor->relisten(s, old, nold);
}

static void shard_kill_flagged(struct shard *s)
{
	if (!atomic_exchange(&s->kill_pending, false))
		return;
	struct conn *next;
	for (struct conn *c = s->clients; c; c = next) {
		next = c->all_next;   /* an epoll close unlinks c at once */
		if (!atomic_load(&c->kill_requested) || c->close_after_reply)
			continue;
		if (c->blocked) {
			/* A blocked client has no reply to finish: close it now,
			 * as Redis does. */
			shard_on_hangup(s, c);
			continue;
		}
		c->close_after_reply = true;
		conn_mark_flush(s, c);
	}
}

/* save rules and auto-aof-rewrite (Redis's serverCron checks), evaluated
 * by shard 0 for the whole server: a snapshot is started on every shard. */
static void persist_cron(struct shard *s)
{
	uint32_t n = g_server.nshards;
	/* A replica's files are its primary's. */
	if (atomic_load(&g_server.repl_role) != REPL_ROLE_PRIMARY)
		return;
	int64_t now_s = s->now_ms / 1000, last_save = INT64_MAX, last_try = 0;
	uint64_t dirty = 0, cur = 0, base = 0;
	bool failed = false;
	for (uint32_t i = 0; i < n; i++) {
		struct shard *o = g_server.shards[i];
		if (snapshot_running(&o->snap))
			return;
		int64_t ls = atomic_load(&o->snap.last_save_s);
		last_save = ls < last_save ? ls : last_save;
		int64_t lt = atomic_load(&o->snap.last_try_s);
		last_try = lt > last_try ? lt : last_try;
		failed |= atomic_load(&o->snap.last_ok) == 0;
		dirty += atomic_load(&o->changes) - atomic_load(&o->snap.changes_saved);
		cur += atomic_load(&o->aof.info.current_size) + atomic_load(&o->aof.info.snapshot_bytes);
		base += atomic_load(&o->aof.info.growth_base);
	}
	/* After a failure, wait 5 s between tries, as Redis does. */
	if (failed && now_s - last_try < 5)
		return;
	bool go = false;
	int nrules = atomic_load(&g_config.save_nrules);
	for (int i = 0; i < nrules && !go; i++)
		go = dirty >= (uint64_t)atomic_load(&g_config.save_rules[i][1]) &&
		     now_s - last_save >= atomic_load(&g_config.save_rules[i][0]);
	int64_t pct = atomic_load(&g_config.auto_aof_rewrite_pct);
	if (!go && shard_aof_on() && pct > 0 && base > 0 && cur > base &&
	    cur >= (uint64_t)atomic_load(&g_config.auto_aof_rewrite_min_size))
		go = (cur - base) * 100 / base >= (uint64_t)pct;
	if (!go)
		return;
	for (uint32_t i = 0; i < n; i++) {
		snapshot_request(&g_server.shards[i]->snap);
		shard_wake(g_server.shards[i]);
	}
}

/* INFO's instantaneous_* rates: shard 0 samples every shard's totals. */
static void shard_sample_rates(struct shard *s)
{
	uint64_t ops = 0, in = 0, out = 0;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard_stats *st = &g_server.shards[i]->stats;
		ops += stat_get(&st->commands_processed);
		in += stat_get(&st->net_input_bytes);
		out += stat_get(&st->net_output_bytes);
	}
	stat_inst_sample(ops, in, out, s->now_ms);
}

/* A client's memory as client eviction counts it: its input and output
 * buffers and its own state (CLIENT LIST's tot-mem). */
static uint64_t conn_memory(const struct conn *c)
{
	return (uint64_t)(c->in.cap + c->out.cap + c->sending.cap) + sizeof(*c);
}

/*
 * maxmemory-clients (Redis 7.0's client eviction): when the clients of
 * every shard together use more than the limit (bytes, or a percentage of
 * maxmemory), the biggest evictable clients are closed until they do not.
 * Each shard publishes its clients' total every tick and closes, biggest
 * first, its share of the excess (in proportion to its own total), so the
 * shards together free what is over without a lock; CLIENT NO-EVICT
 * clients are never closed.  Checked every cron tick (hz), where Redis
 * also checks as buffers grow: a burst may pass the limit for one tick.
 */
static void shard_evict_clients(struct shard *s)
{
	uint64_t mine = 0;
	for (struct conn *c = s->clients; c; c = c->all_next)
		if (!c->close_started)
			mine += conn_memory(c);
	atomic_store_explicit(&s->stats.clients_memory, mine, memory_order_relaxed);
	int64_t v = atomic_load_explicit(&g_config.maxmemory_clients, memory_order_relaxed);
	int64_t limit = v >= 0 ? v
			       : (int64_t)((__int128)atomic_load_explicit(&kv_memory.maxmemory,
									  memory_order_relaxed) *
					   -v / 100);
	if (limit <= 0 || mine == 0)
		return;
	uint64_t total = 0;
	for (uint32_t i = 0; i < g_server.nshards; i++)
		total += atomic_load_explicit(&g_server.shards[i]->stats.clients_memory,
					      memory_order_relaxed);
	if (total <= (uint64_t)limit)
		return;
	uint64_t share = (uint64_t)((__int128)(total - (uint64_t)limit) * mine / total) + 1;
	while (share > 0) {
		struct conn *big = NULL;
		uint64_t big_mem = 0;
		for (struct conn *c = s->clients; c; c = c->all_next) {
			uint64_t m = conn_memory(c);
			if (!c->no_evict && !c->close_started && !c->io_dead && m > big_mem) {
				big = c;
				big_mem = m;
			}
		}
		if (!big)
			break;
		log_verbose("Evicting client: id=%llu addr=%s (client memory %llu bytes over "
			    "maxmemory-clients)", (unsigned long long)big->id, big->addr,
			    (unsigned long long)big_mem);
		stat_add(&s->stats.evicted_clients, 1);
		big->io_dead = true;
		conn_begin_close(s, big);
		share = share > big_mem ? share - big_mem : 0;
		mine -= KV_MIN(mine, big_mem);
	}
	atomic_store_explicit(&s->stats.clients_memory, mine, memory_order_relaxed);
}

/* Query buffers are trimmed by Redis's rules (clientsCronResizeQueryBuffer),
 * once one wastes more than 4 KiB: freed after 2 s without traffic, else
 * cut to the most it held since the last tick when that is under half of
 * it and it is over 32 KiB.  Only an empty buffer is touched: the bytes of
 * a command being parsed or run stay where they are. */
#define CONN_QBUF_WASTE 4096u
#define CONN_QBUF_RESIZE_MIN (32u * 1024)
#define CONN_QBUF_IDLE_MS 2000

static void conn_resize_input(struct shard *s, struct conn *c)
{
	size_t cap = c->in.cap;
	if (c->in.len == 0 && cap > CONN_QBUF_WASTE && !c->close_started) {
		int64_t idle = s->now_ms - atomic_load(&c->last_active_ms);
		if (idle > CONN_QBUF_IDLE_MS) {
			kv_buf_free(&c->in);
		} else if (cap > CONN_QBUF_RESIZE_MIN && cap / 2 > c->in_peak) {
			kv_buf_free(&c->in);
			if (c->in_peak)
				kv_buf_reserve(&c->in, c->in_peak);
		}
		c->in_pos = 0;
		atomic_store_explicit(&c->qbuf_free, c->in.cap, memory_order_relaxed);
	}
	c->in_peak = c->in.len;
}

static void shard_cron(struct shard *s)
{
	int64_t hz = atomic_load_explicit(&g_config.hz, memory_order_relaxed);
	if (hz < 1)
		hz = 1;
	if (hz > 500)
		hz = 500;
	s->next_cron_us = kv_mono_us() + 1000000 / hz;
	s->ns_per_tick = kv_ticks_to_ns(1u << 30) / (double)(1u << 30);
	/* DEBUG PAUSE-CRON: the ticks keep coming, their work is skipped. */
	if (atomic_load_explicit(&g_debug.pause_cron, memory_order_relaxed))
		return;
	if (s->id == 0) {
		persist_cron(s);
		shard_sample_rates(s);
	}
	if (!s->holder) {
		fx_set_clock(s->now_ms);
		/* Redis's "expire-cycle" and "eviction-cycle" latency events:
		 * the time the loop spent on them in this tick. */
		int64_t t0 = kv_mono_us();
		/* A replica deletes and evicts nothing: its primary's records do. */
		bool primary = atomic_load(&g_server.repl_role) == REPL_ROLE_PRIMARY;
		bool active = primary &&
			      atomic_load_explicit(&g_debug.active_expire, memory_order_relaxed);
		for (uint32_t i = 0; active && i < s->dbs.n; i++)
			if (db_expires_count(s->dbs.db[i]) > 0)
				db_active_expire(s->dbs.db[i], s->now_ms, s->cron_expire_budget);
		shard_unit_commit(s);
		int64_t t1 = kv_mono_us();
		lat_note(&s->stats.latency, "expire-cycle", (t1 - t0) / 1000);
		if (primary)
			shard_evict_cron(s);
		lat_note(&s->stats.latency, "eviction-cycle", (kv_mono_us() - t1) / 1000);
		tracking_cron(s);
		/* A replica's lag grows while it says nothing: recount. */
		if (s->id == 0 && repl_has_senders())
			repl_refresh_good(s->now_ms);
		shard_unit_commit(s);
		/* Finish a table resize an idle keyspace would leave half done
		 * (both tables allocated), 1 ms a tick, as Redis's cron does. */
		for (uint32_t i = 0; i < s->dbs.n; i++)
			db_rehash(s->dbs.db[i], 1000 / s->dbs.n + 1);
		blocking_sweep(s);
	}
	shard_evict_clients(s);
	for (struct conn *c = s->clients; c; c = c->all_next)
		conn_resize_input(s, c);
	int64_t timeout = atomic_load_explicit(&g_config.timeout_s, memory_order_relaxed);
	if (timeout > 0) {
		struct conn *next;
		for (struct conn *c = s->clients; c; c = next) {
			next = c->all_next;
			int64_t idle = s->now_ms - atomic_load(&c->last_active_ms);
			if (idle / 1000 > timeout && c->inflight == 0 && !c->close_started) {
				c->io_dead = true;
				conn_begin_close(s, c);
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* the loop */

/* A key expired (lazily or actively): logged as DEL, and Redis's "expired"
 * event. */
static void shard_on_expire(void *shard_id, uint32_t dbid, const char *key, size_t klen)
{
	fx_on_expire(shard_id, dbid, key, klen);
	notify_here(NOTIFY_EXPIRED, "expired", dbid, key, klen);
	tracking_key_gone((uint32_t)(uintptr_t)shard_id, key, klen);
}

/* A key was evicted under maxmemory: logged as DEL, and Redis's "evicted"
 * event. */
static void shard_on_evict(void *shard_id, uint32_t dbid, const char *key, size_t klen)
{
	fx_on_evict(shard_id, dbid, key, klen);
	notify_here(NOTIFY_EVICTED, "evicted", dbid, key, klen);
	tracking_key_gone((uint32_t)(uintptr_t)shard_id, key, klen);
}

/* A key changed (or a database was flushed: key NULL): its effect for the
 * AOF, and the invalidation of the clients that cached it. */
static void shard_on_change(void *shard_id, uint32_t dbid, const char *key, size_t klen)
{
	fx_on_change(shard_id, dbid, key, klen);
	tracking_key_changed((uint32_t)(uintptr_t)shard_id, key, klen);
}

/* A key was created: Redis's "new" event (dbAdd). */
static void shard_on_new(void *shard_id, uint32_t dbid, const char *key, size_t klen)
{
	notify_here(NOTIFY_NEW, "new", dbid, key, klen);
}

/* The store's hooks that report to the AOF (fx.h) and publish keyspace
 * notifications, on every database. */
static void shard_dbs_hooks(struct shard *s, struct kv_dbs *dbs)
{
	for (uint32_t i = 0; i < dbs->n; i++) {
		db_set_expire_hook(dbs->db[i], shard_on_expire, fx_shard_arg(s->id));
		db_set_evict_hook(dbs->db[i], shard_on_evict, fx_shard_arg(s->id));
		db_set_change_hook(dbs->db[i], shard_on_change, fx_shard_arg(s->id));
		db_set_new_hook(dbs->db[i], shard_on_new, fx_shard_arg(s->id));
	}
}

void shard_install_dbs(struct shard *s, struct kv_dbs *fresh)
{
	/* Every key may differ: a read waits for what is pending now. */
	shard_key_touched(s->id, UINT32_MAX, NULL, 0);
	shard_dbs_hooks(s, fresh);
	evict_pool_clear(&s->evict_pool);
	while (fresh->n < s->dbs.n)
		if (!dbs_grow(fresh, s->dbs.n))
			break;
	for (uint32_t i = 0; i < fresh->n && i < s->dbs.n; i++)
		db_watch_move(s->dbs.db[i], fresh->db[i]);
	/* Swapped in place: held_local and the snapshot job point at s->dbs. */
	struct kv_dbs old = s->dbs;
	s->dbs = *fresh;
	/* Freeing the old keyspace flushes it: without its hooks, or that
	 * flush would be logged as a FLUSHDB after the records just loaded,
	 * and the next reload or restart would load an empty keyspace. */
	for (uint32_t i = 0; i < old.n; i++) {
		db_set_change_hook(old.db[i], NULL, NULL);
		db_set_expire_hook(old.db[i], NULL, NULL);
		db_set_evict_hook(old.db[i], NULL, NULL);
		db_set_new_hook(old.db[i], NULL, NULL);
	}
	dbs_free(&old);
}

/* DEBUG RELOAD on this shard: everything appended is written and fsynced,
 * the files are loaded into a fresh keyspace, which replaces the old one
 * only if the load succeeds.  Like Redis's, it stops the shard while it
 * reads (synchronous file I/O: a debugging command). */
static void shard_reload(struct shard *s)
{
	if (s->holder || !aof_idle(&s->aof) || snapshot_running(&s->snap))
		return;   /* next turn */
	atomic_store(&s->reload_wanted, false);
	shard_unit_commit(s);
	char err[4800] = "";
	int rc = aof_flush_sync(&s->aof);
	struct kv_dbs dbs;
	dbs_init(&dbs, s->dbs.n);
	uint64_t *resolved = NULL;
	size_t nresolved = 0;
	if (rc == 0)
		rc = aof_plan_resolved(s->aof.dir, &s->aof.ds, s->id, &resolved, &nresolved, err,
				       sizeof(err));
	struct aof_skip skip = { resolved, nresolved };
	if (rc == 0)
		rc = aof_reload(&s->aof, &skip, &dbs, err, sizeof(err));
	free(resolved);
	if (rc < 0) {
		log_warning("shard %u: DEBUG RELOAD failed, the keyspace is kept: %s", s->id,
			    err[0] ? err : kv_strerror(rc));
		dbs_free(&dbs);
		shard_snapshot_done(s, false);
		return;
	}
	shard_install_dbs(s, &dbs);
	log_notice("shard %u: DEBUG RELOAD: %llu key(s) loaded from disk", s->id,
		   (unsigned long long)dbs_size(&s->dbs));
	shard_snapshot_done(s, true);
}

/*
 * A snapshot holds only records no recovery will ever drop (docs/
 * durability.md, "Units across shards", section 5).  Shards cut their
 * snapshots each on its own, so a part of a unit across shards inside this
 * one has parts in other shards' logs; it may be committed once (1) every
 * unit with a part at or below the cut is stable here (its parts, and what
 * they depended on, were appended on their shards), and then (2) every
 * other shard has made durable what it had appended at that moment.  Under
 * appendfsync no the others are asked for an fsync.  Writing a snapshot
 * takes far longer than an fsync, so this rarely waits.
 */
static int shard_snapshot_commit_ok(void *arg, uint64_t cut)
{
	struct shard *s = arg;
	if (s->uw_head && s->uw_head->lsn <= cut && s->aof.state != AOF_FAILED)
		return 0;
	uint32_t n = g_server.nshards;
	if (!s->snap_targets)
		s->snap_targets = kv_calloc(n, sizeof(uint64_t));
	if (!s->snap_targets_set) {
		for (uint32_t i = 0; i < n; i++)
			s->snap_targets[i] = atomic_load(&g_server.shards[i]->aof.info.last_lsn);
		s->snap_targets_set = true;
	}
	int ok = 1;
	for (uint32_t i = 0; i < n; i++) {
		struct shard *o = g_server.shards[i];
		if (i == s->id || atomic_load(&o->aof.info.durable_lsn) >= s->snap_targets[i])
			continue;
		if (atomic_load(&o->aof.info.state) == AOF_FAILED) {
			/* What it had appended will never be durable: a unit part
			 * of this snapshot may be missing there for good. */
			log_warning("shard %u: snapshot not committed: shard %u's AOF failed before "
				    "making durable what this snapshot may depend on", s->id, i);
			s->snap_targets_set = false;
			return -EIO;
		}
		ok = 0;
		aof_ask_fsync(&o->aof);
		shard_wake(o);
	}
	if (ok)
		s->snap_targets_set = false;
	return ok;
}

/*
 * Turn-on: appendonly set to yes at run time.  Each shard's segment misses
 * what changed while it was off, so each rewrites its keyspace into a fresh
 * segment; those rewrites form one episode that commits on every shard or
 * on none (two-phase):
 *   1. a shard joins once no txn granted from before a rewrite is in flight
 *      (route.c keeps units from straddling rewrites), writes its segment
 *      and fsyncs it, then waits in the AOF's RW_GATE (TURNON_READY);
 *   2. the last shard ready writes kevy.turnon, every shard's next manifest
 *      (the decision: from then on recovery rolls forward any manifest not
 *      yet committed, aof_turnon_recover);
 *   3. each shard commits its own manifest; the last one done removes
 *      kevy.turnon.
 * A shard that fails before the decision (or an AOF already failed) makes
 * every member give up: no manifest moves, each AOF refuses writes until a
 * restart, and the files on disk are the ones from before, on every shard.
 */
static bool turnon_any_failed(void)
{
	for (uint32_t i = 0; i < g_server.nshards; i++)
		if (atomic_load(&g_server.shards[i]->aof.info.state) == AOF_FAILED)
			return true;
	return false;
}

/* Under turnon_lock: this shard's part of the episode is over. */
static void turnon_leave_locked(struct shard *s)
{
	struct turnon_episode *e = &g_server.turnon;
	s->turnon_phase = TURNON_NONE;
	e->done++;
	if (e->done < e->joined || (e->joined < g_server.nshards && !e->failed && !e->abandoned))
		return;
	if (e->decided && !e->uncommitted) {
		/* Every member committed: the decision is spent (a failure to
		 * remove it only leaves work for the next start).  Were one's
		 * commit to have failed, the record stays for recovery. */
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", s->aof.dir, TURNON_FILE);
		int r = kvio_unlink(path);
		if (r == 0)
			r = kvio_fsync_dir(s->aof.dir);
		if (r < 0)
			log_warning("shard %u: could not remove %s: %s (the next start removes it)",
				    s->id, path, kv_strerror(r));
	}
	for (uint32_t i = 0; e->mans && i < g_server.nshards; i++)
		kv_buf_free(&e->mans[i]);
	free(e->mans);
	memset(e, 0, sizeof(*e));
	atomic_store(&g_config.aof_turnon_open, false);
}

/* The AOF's RW_GATE asks: 1 commit, 0 wait, -EIO give up. */
static int shard_turnon_gate(void *arg)
{
	struct shard *s = arg;
	struct turnon_episode *e = &g_server.turnon;
	pthread_mutex_lock(&g_server.turnon_lock);
	int rc = 0;
	if (s->turnon_phase == TURNON_REWRITING) {
		s->turnon_phase = TURNON_READY;
		e->ready++;
		const struct kv_buf *m = aof_rewrite_manifest(&s->aof);
		kv_buf_append(&e->mans[s->id], m->data, m->len);
	}
	if (e->decided) {
		rc = 1;
	} else if (e->failed || turnon_any_failed()) {
		e->failed = true;
		rc = -EIO;
	} else if (e->abandoned || !shard_aof_on()) {
		/* Turned off again before the decision: the shards that did not
		 * see it on never join; every member abandons its rewrite. */
		e->abandoned = true;
		rc = 2;
	} else if (e->ready == g_server.nshards) {
		struct kv_buf rec = KV_BUF_INIT;
		turnon_encode(&s->aof.ds, e->mans, &rec);
		int r = manifest_write_atomic(s->aof.dir, TURNON_FILE, rec.data, rec.len);
		kv_buf_free(&rec);
		if (r < 0) {
			/* Not decided (or, after a failed directory fsync, maybe
			 * decided on disk: a restart then rolls every shard
			 * forward, which is whole too). */
			log_warning("shard %u: cannot write %s: %s; appendonly stays off on disk",
				    s->id, TURNON_FILE, kv_strerror(r));
			e->failed = true;
			rc = -EIO;
		} else {
			e->decided = true;
			rc = 1;
		}
	}
	if (rc == 1)
		s->turnon_phase = TURNON_DECIDED;
	if (rc < 0 || rc == 2) {
		if (rc == 2)
			s->aof_was_on = false;   /* rewrite again when it is turned on */
		turnon_leave_locked(s);
	}
	pthread_mutex_unlock(&g_server.turnon_lock);
	return rc;
}

/* Join the episode if this shard may start its rewrite now. */
static bool turnon_join(struct shard *s)
{
	if (atomic_load(&g_server.turnon_txns) > 0)
		return false;
	struct turnon_episode *e = &g_server.turnon;
	pthread_mutex_lock(&g_server.turnon_lock);
	bool ok = !e->failed && !e->decided && !e->abandoned;
	if (ok) {
		if (!e->mans)
			e->mans = kv_calloc(g_server.nshards, sizeof(*e->mans));
		if (e->joined == 0)
			atomic_fetch_add(&g_server.turnon_epoch, 1);
		s->turnon_epoch = atomic_load(&g_server.turnon_epoch);
		e->joined++;
		s->turnon_phase = TURNON_REWRITING;
		atomic_store(&g_config.aof_turnon_open, true);
	}
	pthread_mutex_unlock(&g_server.turnon_lock);
	return ok;
}

/* A member whose rewrite ended (committed, or failed on its own). */
static void turnon_poll(struct shard *s)
{
	if (s->turnon_phase == TURNON_NONE || aof_job_busy(&s->aof))
		return;
	pthread_mutex_lock(&g_server.turnon_lock);
	/* Its rewrite failed before the decision: no shard may commit.  After
	 * the decision a failed commit is rolled forward at the next start. */
	if (!g_server.turnon.decided)
		g_server.turnon.failed = true;
	else if (s->aof.state == AOF_FAILED)
		g_server.turnon.uncommitted = true;
	turnon_leave_locked(s);
	pthread_mutex_unlock(&g_server.turnon_lock);
}

/* The replica role (server/replica.c).  Leaving the primary role, this
 * shard first makes durable every record it appended and then appends
 * nothing more: its clients' writes are refused, expired keys read as
 * missing without being deleted, nothing is evicted, no snapshot starts;
 * once every shard has quiesced the role becomes REPL_ROLE_REPLICA and the
 * files belong to the replication link.  Promoted, its AOF (opened again
 * by the promoting thread) is lent this shard's ring. */
static void shard_repl_turn(struct shard *s)
{
	int role = atomic_load_explicit(&g_server.repl_role, memory_order_acquire);
	db_thread_keep_expired(role != REPL_ROLE_PRIMARY);
	if (atomic_load_explicit(&s->repl_reattach, memory_order_acquire)) {
		s->reactor->lend_files(s);
		s->aof.lat = &s->stats.latency;
		/* What it will be once the role flips (shard_aof_on() still says
		 * off while the server is a replica): a promotion must not look
		 * like appendonly being turned on. */
		s->aof_was_on = atomic_load(&g_config.appendonly) != 0;
		s->aof_failed_seen = false;
		s->repl_told_lsn = 0;
		atomic_store(&s->repl_reattach, false);
	}
	if (role != REPL_ROLE_ENTERING || atomic_load(&s->repl_quiesced))
		return;
	shard_unit_commit(s);
	if (s->holder || aof_job_busy(&s->aof) || snapshot_running(&s->snap) ||
	    s->turnon_phase != TURNON_NONE)
		return;
	if (s->aof.state != AOF_FAILED && shard_aof_on() &&
	    (aof_busy(&s->aof) || s->aof.durable_lsn < s->aof.last_lsn)) {
		aof_want_fsync(&s->aof);
		return;
	}
	atomic_store(&s->repl_quiesced, true);
	atomic_fetch_add(&g_server.repl_quiesced, 1);
}

/* End of a turn: the turn's records go out as one write (group commit). */
static void shard_aof_turn(struct shard *s)
{
	shard_repl_turn(s);
	shard_unit_commit(s);
	/* One read of the role: while a replica, appendonly "as this shard
	 * last saw it" is left alone (its AOF is the link's), so a promotion
	 * does not look like appendonly being turned on (a rewrite). */
	bool replica = atomic_load(&g_server.repl_role) == REPL_ROLE_REPLICA;
	bool on = !replica && atomic_load_explicit(&g_config.appendonly, memory_order_relaxed);
	turnon_poll(s);
	/* An episode another shard opened waits for every shard, this one
	 * too even if it never saw appendonly off (no turn of its own ran
	 * between the two CONFIG SETs): it rewrites as well. */
	bool pending = atomic_load(&g_config.aof_turnon_open) &&
		       s->turnon_epoch != atomic_load(&g_server.turnon_epoch) &&
		       s->turnon_phase == TURNON_NONE;
	if (on && (!s->aof_was_on || pending)) {
		/* Turned back on: the segment misses what changed while it was
		 * off, so the keyspace is rewritten into a fresh one first, with
		 * the other shards' (turn-on, above). */
		if (s->holder || !aof_idle(&s->aof) || s->turnon_phase != TURNON_NONE ||
		    !turnon_join(s))
			return;   /* next turn */
		aof_rewrite_gate(&s->aof, shard_turnon_gate, s);
		if (aof_rewrite_start(&s->aof, &s->dbs, s->now_ms) < 0)
			turnon_poll(s);
		s->aof_was_on = true;
		shard_turnon_grants(s);
		on = shard_aof_on();
	}
	if (!replica)
		s->aof_was_on = on;
	struct snapshot_turn st = {
		.keyspace_lent = s->holder != NULL,
		.busy = s->turn_work > 0,
		.changes = atomic_load(&s->changes),
		.inflight_max = (int)atomic_load_explicit(&g_config.snapshot_inflight_blocks,
							  memory_order_relaxed),
		.commit_ok = shard_snapshot_commit_ok,
		.commit_arg = s,
	};
	/* kevy's own "snapshot-turn" event: a snapshot slice (walking,
	 * serializing, compressing) holds the loop like a slow command. */
	bool snap_busy = snapshot_running(&s->snap);
	int64_t snap_t0 = snap_busy ? kv_mono_us() : 0;
	snapshot_turn(&s->snap, &st);
	if (snap_busy)
		lat_note(&s->stats.latency, "snapshot-turn", (kv_mono_us() - snap_t0) / 1000);
	if (atomic_load_explicit(&s->reload_wanted, memory_order_relaxed))
		shard_reload(s);
	/* Replicas are sent only what is durable: while any is attached, a
	 * shard with records not yet durable fsyncs at least every
	 * REPL_FSYNC_MS, so their lag under everysec or no is that, not a
	 * second (docs/replication.md, "Lag"). */
	if (on && repl_has_senders() && s->aof.last_lsn > s->aof.durable_lsn &&
	    s->now_ms - s->aof.last_fsync_start_ms >= REPL_FSYNC_MS)
		aof_want_fsync(&s->aof);
	if (on || aof_rewrite_waits(&s->aof)) {
		s->aof.prealloc = (uint64_t)atomic_load_explicit(&g_config.aof_preallocate,
								 memory_order_relaxed);
		s->aof.direct_io = atomic_load_explicit(&g_config.aof_direct_io,
							memory_order_relaxed) != 0;
		aof_turn_end(&s->aof, s->now_ms, shard_aof_policy());
	}
	/* Synchronous I/O (epoll), a policy change, or a failure: release. */
	if (s->gated || s->dw.head || s->dws.head || s->uw_head ||
	    (s->aof.state == AOF_FAILED && !s->aof_failed_seen))
		shard_durability_advance(s);
	/* Replicas' senders stream what became durable: wake them.  Without
	 * senders this is one relaxed load. */
	if (repl_has_senders() && s->aof.durable_lsn != s->repl_told_lsn) {
		s->repl_told_lsn = s->aof.durable_lsn;
		repl_wake_senders(s);
	}
}

/* Shutdown: retire the ring's file ops, then write and fsync what is left. */
static void shard_aof_shutdown(struct shard *s)
{
	shard_unit_commit(s);
	struct snapshot_job *j = &s->snap;
	for (int i = 0; i < 5000 && (!aof_idle(&s->aof) || j->inflight || j->open_inflight ||
				     j->fsync_inflight); i++)
		s->reactor->poll(s, 1000);
	for (uint32_t i = 0; i < s->dbs.n; i++)
		if (db_snapshot_active(s->dbs.db[i]))
			db_snapshot_end(s->dbs.db[i]);   /* an unfinished snapshot is just dropped */
	if (!aof_idle(&s->aof)) {
		log_warning("shard %u: AOF operations still in flight at exit", s->id);
		s->aof_exit_error = 1;
		return;
	}
	if (!shard_aof_on())
		return;
	if (!s->aof_was_on) {
		/* Turned on just before shutdown: rewrite now, synchronously. */
		aof_attach(&s->aof, NULL, 0);
		/* Parked on a full disk (aof_job_busy): no retry at exit. */
		if (aof_rewrite_start(&s->aof, &s->dbs, kv_time_ms()) < 0 ||
		    aof_job_busy(&s->aof)) {
			s->aof_exit_error = 1;
			return;
		}
	}
	aof_want_fsync(&s->aof);
	int rc = aof_flush_sync(&s->aof);
	if (rc < 0) {
		log_warning("shard %u: could not flush the AOF at shutdown: %s", s->id,
			    kv_strerror(rc));
		s->aof_exit_error = 1;
	}
}

static void shard_close_all(struct shard *s)
{
	struct conn *next;
	for (struct conn *c = s->clients; c; c = next) {
		next = c->all_next;
		c->io_dead = true;
		if (!c->close_started) {
			c->close_started = true;
			s->reactor->conn_close(s, c);
		}
	}
}

/*
 * Busy-polling (turns that only ask the reactor for news) lowers latency when
 * the shard has a core to itself, and costs throughput when it does not: on a
 * 2-core machine with 2 shards and a client, spinning shards took the CPU the
 * peer shard and the client needed (measured: GET -P16 445k/s with 1024 spin
 * turns against 849k/s with none).  So the budget is time since the last
 * useful turn, and g_server.busy_poll_us defaults to 0 when shards >= CPUs.
 */
/*
 * A script on this thread runs past busy-reply-threshold: what Redis does
 * with processEventsWhileBlocked.  From the script's hook, read the
 * sockets (and file completions), let every other client of this shard
 * run its next commands -- which dispatch answers with -BUSY, except SCRIPT
 * KILL, FUNCTION KILL/STATS, SHUTDOWN, AUTH, HELLO and QUIT -- and send the
 * replies.  Other shards' messages wait in their rings (nothing runs on a
 * keyspace), and the script's own client is skipped (dispatching).
 */
static void shard_busy_turn(void *arg)
{
	struct shard *s = arg;
	if (s->reactor->poll(s, 0) < 0)
		return;
	s->now_ms = kv_time_ms();
	s->in_busy_turn = true;
	shard_process_ready(s);
	s->in_busy_turn = false;
	shard_flush_conns(s);
}

static void shard_loop(struct shard *s)
{
	int64_t last_work_us = kv_mono_us();
	s->next_cron_us = last_work_us;
	int64_t park_until_us = last_work_us;
	while (!atomic_load_explicit(&g_server.shutdown, memory_order_relaxed)) {
		/* No ACL rules are held across turns: old ones may go. */
		acl_quiescent(s->id);
		int64_t timeout_us = 0;
		int64_t now_us = kv_mono_us();
		if (now_us - last_work_us >= g_server.busy_poll_us) {
			/* Park in the reactor: a peer's message arrives as an
			 * eventfd completion, so re-check the rings after
			 * announcing the nap (pairs with shard_flush_overflow). */
			atomic_store(&s->sleeping, 1);
			atomic_thread_fence(memory_order_seq_cst);
			/* Not while a connection waits for its next batch of
			 * buffered commands (the dispatch budget ran out): no
			 * event would come for it, only the cron tick. */
			if (!shard_rings_pending(s) && !s->ready_head) {
				timeout_us = park_until_us - now_us;
				if (timeout_us < 1)
					timeout_us = 1;
				/* Nothing of this turn is left to run: a peer
				 * may borrow the keyspace until the wait ends. */
				atomic_store(&s->park, SHARD_PARKED);
			}
		}
		int work = s->reactor->poll(s, timeout_us);
		atomic_store_explicit(&s->sleeping, 0, memory_order_relaxed);
		s->now_ms = kv_time_ms();
		s->resp_limits.max_bulk_len = atomic_load_explicit(&g_config.proto_max_bulk_len,
								   memory_order_relaxed);
		if (work < 0) {
			log_warning("shard %u: reactor failed: %s", s->id, kv_strerror(work));
			break;
		}
		int client_work = shard_drain_rings(s);
		tracking_turn(s);
		monitor_turn(s);
		if (atomic_load_explicit(&s->kill_pending, memory_order_relaxed))
			shard_kill_flagged(s);
		if (atomic_load_explicit(&s->listen_pending, memory_order_relaxed))
			shard_take_listeners(s);
		shard_yield_mark(s);
		client_work += shard_process_ready(s);
		if (shard_yield_end(s))
			work++;
		work += client_work;
		if (s->wakes.head) {
			shard_run_local_wakes(s);
			work++;
		}
		int64_t block_us = s->blocked_conns ? shard_block_timeouts(s) : INT64_MAX;
		int64_t pause_us = s->paused_head ? shard_client_pause_turn(s) : INT64_MAX;
		if (pause_us < block_us)
			block_us = pause_us;
		int64_t wait_us = s->repl_waits ? repl_waits_turn(s, false) : INT64_MAX;
		if (wait_us < block_us)
			block_us = wait_us;
		if (kv_mono_us() >= s->next_cron_us)
			shard_cron(s);
		tracking_turn(s);
		/* Park no longer than the next cron tick or block deadline. */
		park_until_us = s->next_cron_us;
		if (block_us < INT64_MAX && kv_mono_us() + block_us < park_until_us)
			park_until_us = kv_mono_us() + block_us;
		s->turn_work = client_work;
		shard_aof_turn(s);
		/* The keys this turn's records changed get their LSNs. */
		shard_key_tags_turn(s);
		/* A snapshot walking the table is work: no nap between slices
		 * (waiting on its own I/O, the completion wakes the ring). */
		if (snapshot_wants_turn(&s->snap)) {
			park_until_us = kv_mono_us();
			work++;
		}
		if (s->senders) {
			/* Replicas' links: after the AOF turn, so that records
			 * this turn made durable go out in it. */
			int64_t us = repl_senders_turn(s);
			if (us == 0) {
				park_until_us = kv_mono_us();
				work++;
			} else if (us < INT64_MAX && kv_mono_us() + us < park_until_us) {
				park_until_us = kv_mono_us() + us;
			}
		}
		shard_flush_conns(s);
		if (s->migrating) {
			/* Moves wait for replies, the reactor and this turn's
			 * lists: the next turn comes at once. */
			migrate_turn(s);
			if (s->migrating)
				work++;
		}
		shard_flush_overflow(s);
		shard_reap_zombies(s);
		if (work > 0)
			last_work_us = kv_mono_us();
	}
}

void shard_unpark(struct shard *s)
{
	int st = SHARD_PARKED;
	for (unsigned spins = 0;
	     !atomic_compare_exchange_weak_explicit(&s->park, &st, SHARD_RUN, memory_order_acquire,
						    memory_order_relaxed);
	     spins++) {
		if (st == SHARD_RUN)
			return;   /* it did not park */
		/* SHARD_LENT: a peer is granting itself the keyspace, a few
		 * loads and stores (txn_borrow); yield if it was preempted. */
		st = SHARD_PARKED;
		if (spins >= 64)
			sched_yield();
	}
}

void *shard_thread_main(void *arg)
{
	struct shard *s = arg;
	char name[16];
	snprintf(name, sizeof(name), "kevy-shard-%u", s->id);
	pthread_setname_np(pthread_self(), name);
	s->now_ms = kv_time_ms();
	s->aof.lat = &s->stats.latency;
	s->ns_per_tick = kv_ticks_to_ns(1u << 30) / (double)(1u << 30);
	int rc = s->reactor->init(s);
	if (rc < 0) {
		log_warning("shard %u: %s reactor setup failed: %s", s->id, s->reactor->name,
			    kv_strerror(rc));
		shard_stop_all();
		return NULL;
	}
	s->reactor->lend_files(s);
	s->busy_turn = shard_busy_turn;
	s->aof_was_on = shard_aof_on();
	fx_thread_enable(g_server.nshards);
	/* The store's hooks run on the thread that makes the change (a txn's
	 * coordinator for another shard's keyspace): its notifications go out
	 * with that thread's unit.  Unset while files load: replay publishes
	 * nothing. */
	notify_thread_set(pubsub_notify_publish, s);
	tracking_thread_set(s);
	atomic_fetch_add(&g_server.shards_serving, 1);
	shard_loop(s);
	if (s->repl_waits)
		repl_waits_turn(s, true);
	shard_aof_shutdown(s);
	/* Shutdown: stop I/O on every client and let the reactor retire the
	 * operations still in flight (bounded). */
	shard_close_all(s);
	repl_senders_close(s);
	for (int i = 0; i < 100 && (s->clients || s->senders); i++) {
		s->reactor->poll(s, 1000);
		repl_senders_turn(s);
	}
	s->reactor->fini(s);
	fx_thread_disable();
	notify_thread_set(NULL, NULL);
	tracking_thread_set(NULL);
	kv_buf_free(&s->fx_payload);
	kv_buf_free(&s->notify_out);
	free(s->snap_targets);
	s->snap_targets = NULL;
	while (s->uw_head) {
		struct unit_wait *w = s->uw_head;
		s->uw_head = w->next;
		free(w->ack);
		free(w);
	}
	while (s->ut_head) {
		struct unit_track *t = s->ut_head;
		s->ut_head = t->next;
		free(t->part_shards);
		free(t->part_lsns);
		free(t);
	}
	return NULL;
}

struct shard *shard_create(uint32_t id, uint32_t nshards)
{
	struct shard *s = kv_calloc(1, sizeof(*s));
	s->id = id;
	dbs_init(&s->dbs, (uint32_t)g_config.databases);
	shard_dbs_hooks(s, &s->dbs);
	tracking_shard_init(s);
	s->aof.seg.fd = -1;
	snapshot_init(&s->snap, kv_time_ms() / 1000, &s->dbs, &s->aof, shard_snapshot_done, s);
	s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	kv_assert(s->event_fd >= 0);
	s->in = kv_calloc(nshards, sizeof(*s->in));
	for (uint32_t i = 0; i < nshards; i++)
		if (i != id)
			spsc_init(&s->in[i], SHARD_RING_SLOTS);
	s->ovf_head = kv_calloc(nshards, sizeof(*s->ovf_head));
	s->ovf_tail = kv_calloc(nshards, sizeof(*s->ovf_tail));
	s->wake_pending = kv_calloc(nshards, sizeof(*s->wake_pending));
	s->held_local = kv_calloc(nshards, sizeof(*s->held_local));
	s->held_local[id] = &s->dbs;
	s->txn_held = kv_calloc(nshards, sizeof(*s->txn_held));
	s->txn_rels = kv_calloc(nshards, sizeof(*s->txn_rels));
	s->txn_role = kv_calloc(nshards, sizeof(*s->txn_role));
	s->chain_lsn = kv_calloc(nshards, sizeof(*s->chain_lsn));
	pthread_mutex_init(&s->clients_lock, NULL);
	pthread_mutex_init(&s->inbox_lock, NULL);
	s->cron_expire_budget = 1000;
	resp_limits_default(&s->resp_limits);
	s->resp_limits.max_bulk_len = atomic_load(&g_config.proto_max_bulk_len);
	s->stats.cmds = kv_calloc(cmd_stat_count(), sizeof(*s->stats.cmds));
	slowlog_init(&s->stats.slowlog);
	lat_monitor_init(&s->stats.latency);
	return s;
}
