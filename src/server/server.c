/*
 * server.c - the process around the shards: listening sockets, the choice
 * of reactor, shard threads, signals and shutdown.  What command handlers
 * may ask of the runtime is in runtime.c.
 *
 * Each shard gets its own SO_REUSEPORT socket per bind address, so the kernel
 * spreads incoming connections over the shards and no thread hands a socket
 * to another.  The main thread only waits for signals.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "persist/aof.h"
#include "persist/aof_plan.h"
#include "persist/repl_mirror.h"
#include "commands/acl.h"
#include "commands/cmd.h"
#include "commands/cmd_info.h"
#include "commands/config.h"
#include "commands/fx.h"
#include "base/kv.h"
#include "base/log.h"
#include "server/server.h"
#include "server/script.h"
#include "server/shard.h"
#include "server/supervise.h"
#include "store/store.h"

struct kv_server g_server;

void server_commands_init(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	cmd_table_add(cmd_table_multi);
	cmd_table_add(cmd_table_pubsub);
	cmd_table_add(cmd_table_blocking);
	cmd_table_add(cmd_table_script);
	cmd_table_add(cmd_table_function);
	cmd_table_add(cmd_table_repl);
	cmd_table_add(cmd_table_replica);
	cmd_table_init();
}

/* ---- listening ---- */

/* With SO_REUSEPORT the kernel would let a second kevy (same user) share the
 * port and hand it some of the connections.  So first bind the address once
 * without it: an address in use then fails as it does for redis-server. */
static int server_probe_port(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	int rc = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* A kevy killed with SIGKILL keeps its listening sockets for a few
 * milliseconds after it has been reaped: its rings hold them (an accept in
 * flight) until the kernel's deferred ring teardown drops them, longer when
 * many connections were open.  A supervisor that restarts at once would see
 * "Address already in use".  So an address in use is retried for up to
 * PROBE_WAIT_MS before it is refused; a port that a live process holds is
 * still refused, that much later. */
#define PROBE_WAIT_MS 2000

static int server_probe_port_waiting(const struct addrinfo *ai, const char *addr, int port)
{
	int64_t t0 = kv_mono_us();
	int rc;
	bool told = false;
	while ((rc = server_probe_port(ai)) == -EADDRINUSE &&
	       kv_mono_us() - t0 < (int64_t)PROBE_WAIT_MS * 1000) {
		if (!told)
			log_notice("%s:%d is in use; waiting up to %d ms for it to be released "
				   "(a process that just exited may still hold it)",
				   addr, port, PROBE_WAIT_MS);
		told = true;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (told && rc == 0)
		log_notice("%s:%d was released after %lld ms", addr, port,
			   (long long)((kv_mono_us() - t0) / 1000));
	return rc;
}

static int server_listen_one(const char *addr, int port, int backlog, bool probe, bool wait)
{
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	struct addrinfo *res;
	int rc = getaddrinfo(addr, portstr, &hints, &res);
	if (rc != 0) {
		log_warning("Invalid bind address '%s': %s", addr, gai_strerror(rc));
		return -EINVAL;
	}
	if (probe && (rc = wait ? server_probe_port_waiting(res, addr, port)
				: server_probe_port(res)) < 0) {
		freeaddrinfo(res);
		return rc;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		freeaddrinfo(res);
		return rc;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		close(fd);
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	return fd;
}

/* Opens one SO_REUSEPORT listener per shard for each address of bind on
 * port, into fds[shard][addr]; *naddr gets how many addresses are used.
 * "-addr" (as in redis.conf) is skipped when it cannot be used.  wait: an
 * address in use is retried for a while (at startup only).  Port 0 is
 * Redis's "no TCP": no listener, *naddr 0.  On error nothing is left open;
 * the failing address is logged. */
static bool server_bind_has(const char *bind, const char *addr)
{
	size_t n = strlen(addr);
	for (const char *p = bind; *p;) {
		while (*p == ' ')
			p++;
		if (*p == '-')
			p++;
		size_t w = strcspn(p, " ");
		if (w == n && memcmp(p, addr, n) == 0)
			return true;
		p += w;
	}
	return false;
}

static int server_make_listeners(const char *bind, int port, bool wait, const char *old_bind,
				 int old_port, int fds[][16], int *naddr_out)
{
	*naddr_out = 0;
	if (port == 0)
		return 0;
	char *addrs = kv_strndup(bind, strlen(bind));
	char *save = NULL;
	int naddr = 0, rc = 0;
	for (char *a = strtok_r(addrs, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
		bool optional = a[0] == '-';
		if (optional)
			a++;
		if (naddr >= 16) {
			log_warning("Too many bind addresses (at most 16)");
			rc = -EINVAL;
			break;
		}
		/* An address this server listens on already (CONFIG SET bind
		 * keeping it) is in use by us: the probe would refuse it. */
		bool ours = old_bind && port == old_port && server_bind_has(old_bind, a);
		uint32_t i;
		int fd = 0;
		for (i = 0; i < g_server.nshards; i++) {
			fd = server_listen_one(a, port, g_config.tcp_backlog, i == 0 && !ours, wait);
			if (fd < 0)
				break;
			fds[i][naddr] = fd;
		}
		if (fd >= 0) {
			naddr++;
			continue;
		}
		for (uint32_t j = 0; j < i; j++)
			close(fds[j][naddr]);
		if (optional)
			continue;
		log_warning("Could not create server TCP listening socket %s:%d: %s",
			    a, port, strerror(-fd));
		rc = fd;
		break;
	}
	free(addrs);
	if (rc == 0 && naddr == 0) {
		log_warning("No bind address could be used");
		rc = -EADDRNOTAVAIL;
	}
	if (rc < 0) {
		for (uint32_t i = 0; i < g_server.nshards; i++)
			for (int k = 0; k < naddr; k++)
				close(fds[i][k]);
		return rc;
	}
	*naddr_out = naddr;
	return 0;
}

/* Opens every shard's listeners.  A failure is fatal at startup, as in
 * Redis ("Could not create server TCP listening socket"). */
static int server_open_listeners(void)
{
	if (g_config.port == 0) {
		log_warning("Configured to not listen anywhere, exiting.");
		return -EINVAL;
	}
	int (*fds)[16] = kv_calloc(g_server.nshards, sizeof(*fds));
	int naddr;
	int rc = server_make_listeners(g_config.bind, g_config.port, true, NULL, 0, fds, &naddr);
	if (rc == 0) {
		for (uint32_t i = 0; i < g_server.nshards; i++) {
			memcpy(g_server.shards[i]->listen_fds, fds[i], sizeof(fds[i]));
			g_server.shards[i]->nlisten = naddr;
		}
	}
	free(fds);
	return rc;
}

/* CONFIG SET port/bind (config.c's listen hook): opens every shard's new
 * listeners first, so a port in use or an address that cannot be bound
 * fails with nothing changed and the old listeners still serving; then
 * leaves each shard its new ones, which it swaps in at its next turn
 * (shard_take_listeners), closing the old.  Runs on the shard that runs
 * CONFIG SET; config.c serializes the calls. */
static int server_relisten(const char *old_bind, int old_port, const char *bind, int port)
{
	int (*fds)[16] = kv_calloc(g_server.nshards, sizeof(*fds));
	int naddr;
	int rc = server_make_listeners(bind, port, false, old_bind, old_port, fds, &naddr);
	if (rc < 0) {
		free(fds);
		return rc;
	}
	pthread_mutex_lock(&g_server.listen_lock);
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *s = g_server.shards[i];
		/* A change the shard has not taken yet is superseded. */
		if (atomic_load(&s->listen_pending))
			for (int k = 0; k < s->npending; k++)
				close(s->pending_fds[k]);
		memcpy(s->pending_fds, fds[i], sizeof(fds[i]));
		s->npending = naddr;
		atomic_store(&s->listen_pending, true);
	}
	pthread_mutex_unlock(&g_server.listen_lock);
	for (uint32_t i = 0; i < g_server.nshards; i++)
		shard_wake(g_server.shards[i]);
	log_notice("Listening on %s port %d (CONFIG SET)", bind, port);
	free(fds);
	return 0;
}

static const struct reactor_ops *server_pick_reactor(void)
{
	static char reason[200];
	if (g_config.io == KV_IO_EPOLL) {
		g_server.info.io_reason = "io epoll requested by configuration";
		return &reactor_epoll_ops;
	}
	const char *why = reactor_uring_unavailable();
	if (!why) {
		g_server.info.io_reason = "";
		return &reactor_uring_ops;
	}
	snprintf(reason, sizeof(reason), "%s", why);
	g_server.info.io_reason = reason;
	if (g_config.io == KV_IO_URING)
		log_warning("io uring was requested but is unavailable (%s); using epoll", why);
	return &reactor_epoll_ops;
}

struct recover_job {
	struct shard *s;
	const struct dataset_info *ds;
	const struct aof_plan *plan;
	int rc;
	char err[2048];
};

static void *server_recover_shard(void *arg)
{
	struct recover_job *j = arg;
	char name[16];
	snprintf(name, sizeof(name), "kevy-load-%u", j->s->id);
	pthread_setname_np(pthread_self(), name);
	struct aof_skip skip = aof_plan_skip(j->plan, j->s->id);
	j->rc = aof_recover(&j->s->aof, g_config.dir, j->ds, j->s->id, g_server.nshards, &skip,
			    &j->s->dbs, j->err, sizeof(j->err));
	/* The RESOLVE record is durable before this returns: the main thread
	 * starts serving only after every shard's job ended. */
	if (j->rc == 0)
		j->rc = aof_plan_resolve(j->plan, j->s->id, &j->s->aof, j->err, sizeof(j->err));
	return NULL;
}

static uint32_t server_shard_count(void)
{
	if (g_config.threads > 0)
		return g_config.threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > SHARD_MAX)
		n = SHARD_MAX;
	return (uint32_t)n;
}

/* Held until exit (the fd stays open): one process per data directory. */
static struct kvio_file g_dir_lock;
static bool g_dir_locked;

static int server_lock_dir(void)
{
	char err[4400];
	if (g_dir_locked)
		kvio_close(&g_dir_lock);
	g_dir_locked = false;
	if (aof_dataset_lock(g_config.dir, true, &g_dir_lock, err, sizeof(err)) < 0) {
		log_warning("%s: refusing to start", err);
		return -1;
	}
	g_dir_locked = true;
	return 0;
}

/* The shard count, decided by the data directory when it holds a dataset
 * (docs/durability.md, "Shard count"): without `threads` set, the
 * dataset's own count, so a directory moved to a machine with more or
 * fewer CPUs keeps working; with `threads` set to another count, the
 * dataset is re-sharded first (aof_reshard: crash-safe, the old files stay
 * authoritative until the decision is recorded).  A re-shard a crash
 * interrupted is completed here before anything reads a shard file.
 * 0, or -1 after logging why not. */
static int server_prepare_dataset(uint32_t *nshards)
{
	char err[4800];
	struct dataset_info ds;
	*nshards = server_shard_count();
	/* A replica's full sync whose swap a crash interrupted is finished
	 * first, and a staged one never swapped in is dropped
	 * (docs/replication.md). */
	int rc = repl_swap_finish(g_config.dir);
	if (rc < 0) {
		log_warning("cannot finish installing a replica's full sync in %s: %s; refusing "
			    "to start", g_config.dir, kv_strerror(rc));
		return -1;
	}
	rc = aof_dataset_read(g_config.dir, &ds, err, sizeof(err));
	if (rc == -ENOENT)
		return 0;   /* a new dataset: server_recover creates it */
	if (rc < 0) {
		log_warning("%s; refusing to start (see: kevy-check %s)", err, g_config.dir);
		return -1;
	}
	if (server_lock_dir() < 0)
		return -1;
	rc = aof_reshard_recover(g_config.dir, true, NULL, NULL, err, sizeof(err));
	if (rc < 0) {
		log_warning("%s", err);
		return -1;
	}
	/* Completed: the lock is on the replaced kevy.dataset; take the new. */
	if (rc > 0 && (server_lock_dir() < 0 ||
		       aof_dataset_read(g_config.dir, &ds, err, sizeof(err)) < 0)) {
		log_warning("%s", err);
		return -1;
	}
	if (ds.shard_count > SHARD_MAX) {
		log_warning("the dataset in %s has %u shard(s), more than this kevy runs (%d)",
			    g_config.dir, ds.shard_count, SHARD_MAX);
		return -1;
	}
	if (g_config.threads == 0) {
		if (ds.shard_count != *nshards)
			log_notice("the dataset in %s has %u shard(s): running %u (this machine has "
				   "%u CPU(s); set threads to re-shard it)", g_config.dir,
				   ds.shard_count, ds.shard_count, *nshards);
		*nshards = ds.shard_count;
		return 0;
	}
	if (ds.shard_count == *nshards)
		return 0;
	/* Nothing half-moved may be read: a turn-on decided before a crash
	 * is committed first, as recovery would. */
	if (aof_turnon_recover(g_config.dir, &ds, true, NULL, NULL, err, sizeof(err)) < 0 ||
	    aof_reshard(g_config.dir, *nshards, err, sizeof(err)) < 0) {
		bool said = strstr(err, "refusing to start") != NULL;
		log_warning("re-sharding %s from %u to %u shard(s) failed: %s%s%s%s", g_config.dir,
			    ds.shard_count, *nshards, err,
			    said ? "" : " (refusing to start; kevy-check ", said ? "" : g_config.dir,
			    said ? "" : " says what the directory holds)");
		return -1;
	}
	return server_lock_dir();
}

/* Every shard's recovery through plan, one thread per shard.  0; -EAGAIN
 * when a shard met a record only a plan decides about and plan was not
 * built (aof_plan_build_recovery): nothing was written, the caller empties
 * the shards and loads again with a plan; or -1 after logging why not. */
static int server_recover_shards(const struct dataset_info *ds, const struct aof_plan *plan,
				 uint64_t *records, uint64_t *keys)
{
	struct recover_job *jobs = kv_calloc(g_server.nshards, sizeof(*jobs));
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		jobs[i].s = g_server.shards[i];
		jobs[i].ds = ds;
		jobs[i].plan = plan;
		int rc = pthread_create(&jobs[i].s->thread, NULL, server_recover_shard, &jobs[i]);
		kv_assert(rc == 0);
	}
	int failed = 0, again = 0;
	*records = *keys = 0;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		pthread_join(jobs[i].s->thread, NULL);
		if (jobs[i].rc == -EAGAIN && plan->unplanned) {
			log_notice("shard %u: %s", i, jobs[i].err);
			again++;
		} else if (jobs[i].rc < 0) {
			log_warning("shard %u: %s", i, jobs[i].err);
			failed++;
		} else {
			*records += atomic_load(&jobs[i].s->aof.info.replayed_records);
			*keys += dbs_size(&jobs[i].s->dbs);
		}
	}
	free(jobs);
	return failed ? -1 : again ? -EAGAIN : 0;
}

/* Load every shard from the data directory, all shards in parallel, before
 * any client is served.  Returns 0, or -1 after logging why not. */
static int server_recover(void)
{
	struct dataset_info ds;
	char err[2048];
	int64_t t0 = kv_mono_us();
	if (aof_dataset_open(g_config.dir, g_server.nshards, &ds, err, sizeof(err)) < 0) {
		log_warning("%s", err);
		return -1;
	}
	if (!g_dir_locked && server_lock_dir() < 0)
		return -1;
	/* Function libraries first (docs/scripting.md): a library is server
	 * state, the shards' data never needs one to replay. */
	if (script_functions_recover(err, sizeof(err)) < 0) {
		log_warning("%s: refusing to start (inspect with: kevy-check %s)", err, g_config.dir);
		return -1;
	}
	/* A replica restarting on its primary's files loads them its own way
	 * (server/replica.c): the records after each snapshot in unit order,
	 * touching no file, so it can resume from them. */
	if (replica_boot_prepare()) {
		if (replica_boot_load() < 0)
			return -1;
		g_server.info.load_us = kv_mono_us() - t0;
		return 0;
	}
	/* A crash while appendonly was being turned on may have left some
	 * shards' decided rewrites uncommitted: commit them first. */
	if (aof_turnon_recover(g_config.dir, &ds, true, NULL, NULL, err, sizeof(err)) < 0) {
		log_warning("%s", err);
		return -1;
	}
	/* The recovery rule for units across shards needs every shard's log
	 * before any shard applies one (docs/durability.md), unless it can
	 * drop nothing (one shard, segments older than units): then no plan
	 * is read, and a load that meets a record only a plan decides about
	 * says so (-EAGAIN) and the shards load again with the plan. */
	struct aof_plan plan;
	if (aof_plan_build_recovery(g_config.dir, &ds, &plan) < 0) {
		log_warning("%s", plan.err);
		aof_plan_free(&plan);
		return -1;
	}
	uint64_t records = 0, keys = 0;
	int rc = server_recover_shards(&ds, &plan, &records, &keys);
	if (rc == -EAGAIN) {
		for (uint32_t i = 0; i < g_server.nshards; i++) {
			struct shard *s = g_server.shards[i];
			aof_close(&s->aof);
			for (uint32_t d = 0; d < s->dbs.n; d++)
				db_flush(s->dbs.db[d]);
		}
		aof_plan_free(&plan);
		if (aof_plan_build(g_config.dir, &ds, &plan) < 0) {
			log_warning("%s", plan.err);
			aof_plan_free(&plan);
			return -1;
		}
		rc = server_recover_shards(&ds, &plan, &records, &keys);
	}
	aof_plan_free(&plan);
	if (rc < 0)
		return -1;
	g_server.info.load_us = kv_mono_us() - t0;
	log_notice("DB loaded from disk: %llu AOF record(s) replayed, %llu key(s), %.3f seconds",
		   (unsigned long long)records, (unsigned long long)keys,
		   (double)g_server.info.load_us / 1e6);
	return 0;
}

/* pidfile: written before the data is loaded and removed at a clean exit,
 * as redis-server does; a failure is only logged (the server still runs).
 * A plain file of the process, not data: it does not go through kvio. */
static void server_pidfile_write(void)
{
	if (!g_config.pidfile || !*g_config.pidfile)
		return;
	FILE *f = fopen(g_config.pidfile, "w");
	bool ok = f != NULL;
	if (f) {
		ok = fprintf(f, "%d\n", (int)getpid()) > 0;
		ok = fclose(f) == 0 && ok;
	}
	if (!ok)
		log_warning("Failed to write PID file %s: %s", g_config.pidfile, strerror(errno));
}

static void server_pidfile_remove(void)
{
	if (g_config.pidfile && *g_config.pidfile)
		unlink(g_config.pidfile);
}

int server_run(const char *executable)
{
	g_server.info.start_time_us = kv_time_us();
	g_server.info.start_mono_us = kv_mono_us();
	kv_ticks_init();
	g_server.info.executable = executable;
	g_server.info.config_file = g_config.config_file ? g_config.config_file : "";
	kv_random_id(g_server.info.run_id);
	/* INFO replication: a master's replication id, new at every start as
	 * Redis's is when it has no replication history to keep. */
	kv_random_id(g_server.info.replid);
	atomic_store(&g_server.next_conn_id, 1);
	atomic_store(&g_server.next_txn_id, 1);
	while (g_server.boot_id == 0) {
		char id[41];
		kv_random_id(id);
		g_server.boot_id = strtoull(id + 24, NULL, 16);
	}

	if (server_prepare_dataset(&g_server.nshards) < 0)
		return 1;
	pthread_mutex_init(&g_server.pause_lock, NULL);
	pthread_mutex_init(&g_server.listen_lock, NULL);
	pthread_mutex_init(&g_server.transit_lock, NULL);
	config_set_listen_hook(server_relisten);
	pthread_mutex_init(&g_server.turnon_lock, NULL);
	g_server.shards = kv_calloc(g_server.nshards, sizeof(*g_server.shards));
	for (uint32_t i = 0; i < g_server.nshards; i++)
		g_server.shards[i] = shard_create(i, g_server.nshards);

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	g_server.busy_poll_us = g_config.busy_poll_us >= 0 ? g_config.busy_poll_us
			       : ((long)g_server.nshards < cpus ? 50 : 0);
	const struct reactor_ops *reactor = server_pick_reactor();
	g_server.info.io_mode = reactor->name;
	if (reactor == &reactor_uring_ops)
		log_notice("I/O: io_uring (one ring per shard), busy-poll %lld us",
			   (long long)g_server.busy_poll_us);
	else
		log_notice("I/O: epoll (%s), busy-poll %lld us", g_server.info.io_reason,
			   (long long)g_server.busy_poll_us);

	/* Users (docs/acl.md): requirepass is the default user's password;
	 * then the config's `user` lines or the aclfile, which must load
	 * whole or the server does not start. */
	acl_init();
	acl_set_default_password(g_config.requirepass,
				 g_config.requirepass ? strlen(g_config.requirepass) : 0);
	acl_set_file(g_config.aclfile);
	acl_set_log_max_len((uint64_t)atomic_load(&g_config.acllog_max_len));
	char acl_err[4096];
	if (acl_load_startup(acl_err, sizeof(acl_err)) < 0) {
		log_warning("Aborting kevy startup because of ACL errors: %s", acl_err);
		fprintf(stderr, "Aborting kevy startup because of ACL errors: %s\n", acl_err);
		for (uint32_t i = 0; i < g_server.nshards; i++)
			dbs_free(&g_server.shards[i]->dbs);
		acl_fini();
		return 1;
	}
	acl_threads(g_server.nshards);

	/* As redis-server: supervision is settled (and systemd told that the
	 * server is loading) before the data directory is read. */
	g_server.info.supervised = supervise_init(g_config.supervised);
	server_pidfile_write();
	int rc = server_open_listeners();
	if (rc < 0) {
		server_pidfile_remove();
		return 1;
	}
	/* Redis's used_memory_startup: the heap before any data is loaded. */
	g_server.info.startup_memory = info_heap_bytes(0);
	if (server_recover() < 0) {
		/* Shards that did load hold keyspaces: free them as a clean exit
		 * does, so a refusal to start leaves nothing for a leak checker
		 * to report (see the end of this function). */
		for (uint32_t i = 0; i < g_server.nshards; i++) {
			dbs_free(&g_server.shards[i]->dbs);
		}
		server_pidfile_remove();
		return 1;
	}

	/* Shard threads inherit a mask that blocks the shutdown signals, so the
	 * main thread alone receives them through sigtimedwait. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* As redis-server: a hangup (the terminal closed) does not stop it. */
	signal(SIGHUP, SIG_IGN);

	/* replicaof in the config: writes are refused from the first command,
	 * and the link starts once the shards run. */
	replica_boot_start();
	/* Every key a serving shard changes is told to its key tags. */
	fx_set_touch_hook(shard_key_touched, shard_write_tags_on);
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *s = g_server.shards[i];
		s->reactor = reactor;
		rc = pthread_create(&s->thread, NULL, shard_thread_main, s);
		kv_assert(rc == 0);
	}
	log_notice("kevy %s ready to accept connections on port %d (%u shards, bind %s)",
		   KV_VERSION, g_config.port, g_server.nshards, g_config.bind);

	/* Ready, for a supervisor, once every shard runs its loop: recovery is
	 * done and every listener is served.  Until then the wait is short. */
	bool ready_told = false;
	while (!atomic_load(&g_server.shutdown)) {
		if (!ready_told && atomic_load(&g_server.shards_serving) == g_server.nshards) {
			supervise_ready();
			ready_told = true;
		}
		struct timespec ts = { .tv_sec = 0,
				       .tv_nsec = (ready_told ? 100 : 5) * 1000 * 1000 };
		int sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			log_warning("Received %s scheduling shutdown...",
				    sig == SIGTERM ? "SIGTERM" : "SIGINT");
			shard_stop_all();
		}
	}
	log_warning("User requested shutdown...");
	supervise_stopping();
	replica_shutdown();
	int status = 0;
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		pthread_join(g_server.shards[i]->thread, NULL);
		if (g_server.shards[i]->aof_exit_error)
			status = 1;
	}
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		struct shard *s = g_server.shards[i];
		for (int j = 0; j < s->nlisten; j++)
			close(s->listen_fds[j]);
		if (atomic_load(&s->listen_pending))
			for (int j = 0; j < s->npending; j++)
				close(s->pending_fds[j]);
	}
	/* Free every keyspace: a clean exit leaves nothing for a leak checker to
	 * report (the store keeps value pointers unaligned inside its entries,
	 * where LeakSanitizer cannot see them). */
	for (uint32_t i = 0; i < g_server.nshards; i++) {
		dbs_free(&g_server.shards[i]->dbs);
		monitor_shard_free(g_server.shards[i]);
		slowlog_free(&g_server.shards[i]->stats.slowlog);
		evict_pool_free(&g_server.shards[i]->evict_pool);
		aof_close(&g_server.shards[i]->aof);
		shard_key_tags_free(g_server.shards[i]);
	}
	server_pidfile_remove();
	acl_threads(0);
	acl_fini();
	if (status)
		log_warning("kevy exits with an error: the AOF of some shard could not be flushed");
	else
		log_warning("kevy is now ready to exit, bye bye...");
	return status;
}
