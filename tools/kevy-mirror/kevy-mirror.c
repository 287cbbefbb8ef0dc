/*
 * kevy-mirror - keep a byte for byte copy of a kevy primary's data
 * directory over its replication stream.
 *
 *   kevy-mirror --host H --port P --dir D --threads N [--auth PASS]
 *               [--user NAME] [--timeout SECONDS]
 *   kevy-mirror --version
 *
 * It is the receiving half of a kevy replica without the keyspace: it
 * speaks the replica's handshake (REPLCONF capa kevy1, kevy-shards N,
 * PSYNC), verifies every frame (repl_format.c) and writes the files with
 * repl_mirror.c, the code a replica's link thread uses.  After a full sync
 * it writes kevy.replica (the primary's replication id); after a lost link
 * or a restart it asks for a partial resync from its own files (each
 * shard's newest segment, cut back to its last whole verified record).  A
 * frame that does not verify drops the link, is logged, and the next sync
 * is a full one.  A kevy started on the directory (after kevy-mirror
 * stops) loads the primary's data.  It reconnects with a backoff until
 * SIGTERM or SIGINT.  Exit: 0 on a signal, 2 on bad arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/kv.h"
#include "persist/repl_format.h"
#include "persist/repl_link.h"
#include "persist/repl_mirror.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void say(const char *fmt, ...)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s kevy-mirror: ", ts);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct opts {
	const char *host, *port, *dir, *auth, *user;
	uint32_t threads;
	int timeout_s;
};

/* The hooks of the shared link (repl_link.c): kevy-mirror writes a full
 * sync straight into its directory (nothing else reads it meanwhile) and
 * applies nothing. */
static const char *mirror_full_begin(void *arg, const char *replid)
{
	const struct opts *o = arg;
	(void)replid;
	/* Until the sync ends the directory is no one's whole copy. */
	repl_state_remove(o->dir);
	return o->dir;
}

static int mirror_continue(void *arg, const char *replid)
{
	(void)arg;
	(void)replid;
	return 0;
}

static int mirror_synced(void *arg, const char *replid, uint64_t offset)
{
	const struct opts *o = arg;
	struct repl_state st;
	(void)offset;
	memset(&st, 0, sizeof(st));
	memcpy(st.replid, replid, REPL_REPLID_LEN);
	st.shard_count = o->threads;
	st.synced_ms = kv_time_ms();
	if (repl_state_write(o->dir, &st) < 0) {
		say("cannot write kevy.replica in %s", o->dir);
		return -EIO;
	}
	return 0;
}

static void mirror_say(void *arg, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	(void)arg;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say("%s", msg);
}

static void usage(void)
{
	fprintf(stderr, "usage: kevy-mirror --host H --port P --dir D --threads N [--auth PASS] "
			"[--user NAME] [--timeout SECONDS]\n       kevy-mirror --version\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .timeout_s = 60 };
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("kevy-mirror %s\n", KV_VERSION);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		const char *k = argv[i], *v = argv[++i];
		char *end;
		if (!strcmp(k, "--host")) o.host = v;
		else if (!strcmp(k, "--port")) o.port = v;
		else if (!strcmp(k, "--dir")) o.dir = v;
		else if (!strcmp(k, "--auth")) o.auth = v;
		else if (!strcmp(k, "--user")) o.user = v;
		else if (!strcmp(k, "--threads")) {
			unsigned long n = strtoul(v, &end, 10);
			if (*end || n < 1 || n > 1024)
				usage();
			o.threads = (uint32_t)n;
		} else if (!strcmp(k, "--timeout")) {
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 3600)
				usage();
			o.timeout_s = (int)n;
		} else {
			usage();
		}
	}
	if (!o.host || !o.port || !o.dir || !o.threads)
		usage();
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bool full_next = false;
	int backoff_ms = 100;
	struct repl_link_cfg lc = {
		.host = o.host, .port = o.port, .auth = o.auth, .user = o.user, .dir = o.dir,
		.nshards = o.threads, .timeout_s = o.timeout_s, .stop = (volatile int *)&g_stop,
		.arg = &o, .full_begin = mirror_full_begin, .continue_begin = mirror_continue,
		.synced = mirror_synced, .say = mirror_say,
	};
	while (!g_stop) {
		bool synced = false;
		if (repl_link_run(&lc, &full_next, &synced) == 0)
			break;
		if (synced)
			backoff_ms = 100;
		for (int waited = 0; waited < backoff_ms && !g_stop; waited += 50) {
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL);
		}
		backoff_ms = backoff_ms < 1000 ? backoff_ms * 2 : 2000;
	}
	say("stopping");
	return 0;
}
