/*
 * cmd_migrate.c - MIGRATE: move (or copy) keys to another Redis-compatible
 * server, with Redis 7.0.15's arguments, replies and errors.
 *
 * MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
 *         [AUTH password | AUTH2 username password] [KEYS key [key ...]]
 *
 * The keys are found as Redis finds them (migrate_keys): argv[3], or with
 * KEYS every argument after it, argv[3] then having to be empty.  The
 * runtime holds every keyspace they live on, as for any multi-key command,
 * so the command is atomic with respect to other clients.
 *
 * How it runs (the order of Redis's migrateCommand):
 *   1. the keys that exist here (none: +NOKEY);
 *   2. one connection to host:port, within `timeout` ms (<= 0 means 1000);
 *   3. one pipelined write: AUTH / AUTH username password when given,
 *      SELECT db, then per key RESTORE key ttl payload [REPLACE], the
 *      payload being DUMP's (store/rdb_value.h) and ttl the milliseconds
 *      left (0: none; a key that expired meanwhile is skipped);
 *   4. one reply line per command, each within `timeout`: a key the target
 *      acknowledged is deleted here unless COPY; the first error the target
 *      sends is the reply ("Target instance replied with error: ..."); an
 *      I/O error or timeout is "-IOERR error or timeout reading|writing to
 *      target instance", or "... connecting to the client".
 *
 * The deletions are logged as DEL effects of the keys the target took
 * (fx.h, rule 1): replay never talks to the network.
 *
 * Differences (docs/compatibility.md): like Redis, the shard thread blocks
 * on the network for at most `timeout` per step, and with it every shard
 * whose keyspace the command holds.  Redis keeps the connection for 10 s
 * for the next MIGRATE to the same target and retries once on a cached
 * connection found closed; kevy opens a fresh connection each time (INFO's
 * migrate_cached_sockets stays 0), so there is nothing stale to retry.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/kv.h"
#include "base/util_num.h"
#include "commands/cmd.h"
#include "commands/fx.h"
#include "commands/notify.h"
#include "proto/resp.h"
#include "store/rdb_value.h"
#include "store/store.h"

#define MIGRATE_LINE_MAX 1024   /* a reply line kept for the error (Redis: 1024) */

/* The keys: argv[3], or those after KEYS (argv[3] must then be empty:
 * anything else is the handler's error, so no keys here). */
static int migrate_keys(int argc, const struct kv_slice *argv, int *idx, int max)
{
	int first = 3, num = 1;
	for (int i = 6; i < argc; i++) {
		if (argv[i].len == 4 && strncasecmp(argv[i].ptr, "auth", 4) == 0) {
			i++;
		} else if (argv[i].len == 5 && strncasecmp(argv[i].ptr, "auth2", 5) == 0) {
			i += 2;
		} else if (argv[i].len == 4 && strncasecmp(argv[i].ptr, "keys", 4) == 0) {
			if (argv[3].len != 0)
				return 0;
			first = i + 1;
			num = argc - first;
			break;
		}
	}
	if (num > max)
		return -1;
	for (int k = 0; k < num; k++)
		idx[k] = first + k;
	return num;
}

struct migrate_opts {
	bool copy, replace;
	const struct kv_slice *user, *pass;
	int first_key, nkeys;
	int64_t timeout_ms, db;
};

/* Redis's option loop, then timeout and db: false after the error reply. */
static bool migrate_parse(struct cmd_ctx *c, struct migrate_opts *o)
{
	*o = (struct migrate_opts){ .first_key = 3, .nkeys = 1 };
	for (int j = 6; j < c->argc; j++) {
		const struct kv_slice *a = &c->argv[j];
		int more = c->argc - 1 - j;
		if (arg_is(a, "copy")) {
			o->copy = true;
		} else if (arg_is(a, "replace")) {
			o->replace = true;
		} else if (arg_is(a, "auth")) {
			if (!more) {
				resp_error(c->out, RESP_ERR_SYNTAX);
				return false;
			}
			o->pass = &c->argv[++j];
		} else if (arg_is(a, "auth2")) {
			if (more < 2) {
				resp_error(c->out, RESP_ERR_SYNTAX);
				return false;
			}
			o->user = &c->argv[++j];
			o->pass = &c->argv[++j];
		} else if (arg_is(a, "keys")) {
			if (c->argv[3].len != 0) {
				resp_error(c->out, "ERR When using MIGRATE KEYS option, the key argument "
					   "must be set to the empty string");
				return false;
			}
			o->first_key = j + 1;
			o->nkeys = c->argc - j - 1;
			break;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return false;
		}
	}
	if (!arg_to_int64(&c->argv[5], &o->timeout_ms) || !arg_to_int64(&c->argv[4], &o->db)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return false;
	}
	if (o->timeout_ms <= 0)
		o->timeout_ms = 1000;
	return true;
}

/* ---- a blocking client connection, every step bounded by the timeout ---- */

static int migrate_wait(int fd, short events, int64_t timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t deadline = kv_mono_us() + timeout_ms * 1000;
	for (;;) {
		int64_t left = (deadline - kv_mono_us()) / 1000;
		if (left <= 0)
			return -ETIMEDOUT;
		int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int migrate_connect(const struct kv_slice *host, const struct kv_slice *port,
			   int64_t timeout_ms)
{
	char h[256], p[16];
	if (host->len >= sizeof(h) || port->len >= sizeof(p))
		return -EINVAL;
	memcpy(h, host->ptr, host->len);
	h[host->len] = '\0';
	memcpy(p, port->ptr, port->len);
	p[port->len] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	if (getaddrinfo(h, p, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int fd = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fd = -errno;
			continue;
		}
		/* As Redis's blocking connect: once the socket is writable it
		 * counts as connected; a refusal the kernel reports then shows
		 * as the write failing ("writing to target instance"). */
		int rc = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
		if (rc == -EINPROGRESS)
			rc = migrate_wait(fd, POLLOUT, timeout_ms);
		if (rc == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		}
		close(fd);
		fd = rc;
	}
	freeaddrinfo(res);
	return fd;
}

static int migrate_write(int fd, const struct kv_buf *b, int64_t timeout_ms)
{
	size_t off = 0;
	while (off < b->len) {
		ssize_t n = send(fd, b->data + off, b->len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int rc = migrate_wait(fd, POLLOUT, timeout_ms);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Reads replies line by line; a line longer than the buffer is cut (only
 * its first byte and the start of an error matter). */
struct migrate_reader {
	int fd;
	int64_t timeout_ms;
	char buf[4096];
	size_t start, end;
};

static int migrate_read_line(struct migrate_reader *r, char *line, size_t cap)
{
	size_t n = 0;
	for (;;) {
		while (r->start < r->end) {
			char ch = r->buf[r->start++];
			if (ch == '\n') {
				if (n && line[n - 1] == '\r')
					n--;
				line[n] = '\0';
				return 0;
			}
			if (n + 1 < cap)
				line[n++] = ch;
		}
		ssize_t got = recv(r->fd, r->buf, sizeof(r->buf), 0);
		if (got > 0) {
			r->start = 0;
			r->end = (size_t)got;
			continue;
		}
		if (got == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		int rc = migrate_wait(r->fd, POLLIN, r->timeout_ms);
		if (rc < 0)
			return rc;
	}
}

/* ---- the command ---- */

static void migrate_put_auth_select(struct kv_buf *b, const struct migrate_opts *o)
{
	if (o->pass) {
		resp_array(b, o->user ? 3 : 2);
		resp_bulk_str(b, "AUTH");
		if (o->user)
			resp_bulk(b, o->user->ptr, o->user->len);
		resp_bulk(b, o->pass->ptr, o->pass->len);
	}
	resp_array(b, 2);
	resp_bulk_str(b, "SELECT");
	resp_bulk_int(b, o->db);
}

/* The RESTOREs of the keys still present (their argv indexes in keys[],
 * compacted to those sent); returns how many. */
static int migrate_put_restores(struct cmd_ctx *c, const struct migrate_opts *o, int *keys,
				int n, struct kv_buf *b)
{
	int sent = 0;
	struct kv_buf payload = KV_BUF_INIT;
	for (int k = 0; k < n; k++) {
		const struct kv_slice *key = &c->argv[keys[k]];
		struct kv_entry *e = db_lookup(cmd_db_arg(c, keys[k]), key->ptr, key->len, c->now_ms);
		if (!e)
			continue;
		int64_t ttl = 0, deadline = entry_expire(e);
		if (deadline != KV_NO_EXPIRE) {
			ttl = deadline - c->now_ms;
			if (ttl < 0)
				continue;
			if (ttl < 1)
				ttl = 1;
		}
		kv_buf_clear(&payload);
		rdb_value_dump(e, &payload);
		resp_array(b, o->replace ? 5 : 4);
		resp_bulk_str(b, "RESTORE");
		resp_bulk(b, key->ptr, key->len);
		resp_bulk_int(b, ttl);
		resp_bulk(b, payload.data, payload.len);
		if (o->replace)
			resp_bulk_str(b, "REPLACE");
		keys[sent++] = keys[k];
	}
	kv_buf_free(&payload);
	return sent;
}

/* The key the target acknowledged leaves this server (no COPY). */
static void migrate_delete(struct cmd_ctx *c, int i)
{
	const struct kv_slice *key = &c->argv[i];
	if (!db_delete(cmd_db_arg(c, i), key->ptr, key->len))
		return;
	cmd_notify_arg(c, NOTIFY_GENERIC, "del", i);
	struct kv_slice del[2] = { { "DEL", 3 }, *key };
	cmd_effect_at_key(c, 1, 2, del);
}

static void cmd_migrate(struct cmd_ctx *c)
{
	struct migrate_opts o;
	if (!migrate_parse(c, &o))
		return;
	int *keys = kv_calloc((size_t)o.nkeys, sizeof(*keys));
	int n = 0;
	for (int k = 0; k < o.nkeys; k++) {
		int i = o.first_key + k;
		struct kv_entry *e = db_lookup(cmd_db_arg(c, i), c->argv[i].ptr, c->argv[i].len,
					       c->now_ms);
		cmd_count_read(c, c->argv[i].ptr, c->argv[i].len, e != NULL);
		if (e)
			keys[n++] = i;
	}
	if (n == 0) {
		resp_simple(c->out, "NOKEY");
		free(keys);
		return;
	}
	int fd = migrate_connect(&c->argv[1], &c->argv[2], o.timeout_ms);
	if (fd < 0) {
		resp_error(c->out, "IOERR error or timeout connecting to the client");
		free(keys);
		return;
	}
	struct kv_buf b = KV_BUF_INIT;
	migrate_put_auth_select(&b, &o);
	n = migrate_put_restores(c, &o, keys, n, &b);
	bool writing = true, target_error = false;
	int rc = migrate_write(fd, &b, o.timeout_ms);
	if (rc == 0) {
		writing = false;
		struct migrate_reader r = { .fd = fd, .timeout_ms = o.timeout_ms };
		char auth[MIGRATE_LINE_MAX] = "", sel[MIGRATE_LINE_MAX], line[MIGRATE_LINE_MAX];
		if (o.pass)
			rc = migrate_read_line(&r, auth, sizeof(auth));
		if (rc == 0)
			rc = migrate_read_line(&r, sel, sizeof(sel));
		for (int k = 0; rc == 0 && k < n; k++) {
			rc = migrate_read_line(&r, line, sizeof(line));
			if (rc < 0)
				break;
			const char *err = auth[0] == '-' ? auth : sel[0] == '-' ? sel
					: line[0] == '-' ? line : NULL;
			if (err) {
				if (!target_error)
					resp_errorf(c->out, "ERR Target instance replied with error: %s",
						    err + 1);
				target_error = true;
			} else if (!o.copy) {
				migrate_delete(c, keys[k]);
			}
		}
	}
	if (!target_error) {
		if (rc < 0)
			resp_errorf(c->out, "IOERR error or timeout %s to target instance",
				    writing ? "writing" : "reading");
		else
			resp_ok(c->out);
	}
	close(fd);
	kv_buf_free(&b);
	free(keys);
}

const struct kv_command cmd_table_migrate[] = {
	{ .name = "migrate", .arity = -6, .flags = CMD_WRITE, .first_key = 3, .last_key = 3,
	  .key_step = 1, .proc = cmd_migrate, .keys = migrate_keys, .group = "generic",
	  .since = "2.6.0",
	  .summary = "Atomically transfer a key from a Redis instance to another one.",
	  .complexity = "This command actually executes a DUMP+DEL in the source instance, and "
			"a RESTORE in the target instance. See the pages of these commands for "
			"time complexity. Also an O(N) data transfer between the two instances "
			"is performed." },
	{ .name = NULL },
};
