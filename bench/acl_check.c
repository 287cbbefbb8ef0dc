/*
 * acl_check.c - nanoseconds per acl_check() call (bench/acl.sh): SET and
 * GET of "key:<n>" as the default user (the fast path) and as a user with
 * ~key:* (one glob per key), in one thread, no server.  Prints one line per
 * case.  Not a test.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands/acl.h"
#include "commands/cmd.h"
#include "server/server.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#define NKEYS 65536
static char keys[NKEYS][20];

/* Best of 5 runs of iters checks, in ns per check. */
static double per_call(struct acl_user *u, const char *name, int argc, long iters)
{
	struct kv_slice argv[3] = { { name, strlen(name) }, { NULL, 16 }, { "v", 1 } };
	const struct kv_command *cmd = cmd_lookup(name, strlen(name));
	double best = 1e9;
	for (int r = 0; r < 5; r++) {
		int pos;
		long denied = 0;
		double t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			argv[1].ptr = keys[i & (NKEYS - 1)];
			denied += acl_check(u, cmd, argc, argv, &pos) != ACL_OK;
		}
		double ns = (now_ns() - t0) / (double)iters;
		if (denied)
			fprintf(stderr, "unexpected denials: %ld\n", denied);
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(void)
{
	server_commands_init();
	acl_init();
	const struct kv_command *acl = cmd_lookup("acl", 3);
	struct kv_buf out = KV_BUF_INIT;
	struct kv_slice argv[] = { { "acl", 3 }, { "setuser", 7 }, { "bench", 5 }, { "on", 2 },
				   { ">pw", 3 }, { "~key:*", 6 }, { "+@all", 5 } };
	struct cmd_ctx c = { .argc = 7, .argv = argv, .out = &out };
	acl->proc(&c);
	struct acl_user *u = acl_authenticate("bench", 5, "pw", 2);
	if (!u) {
		fprintf(stderr, "setup failed: %.*s\n", (int)out.len, out.data);
		return 1;
	}
	for (int i = 0; i < NKEYS; i++)
		snprintf(keys[i], sizeof(keys[i]), "key:%012d", i);
	long iters = 10000000;
	printf("%-24s %8s\n", "case", "ns/check");
	printf("%-24s %8.1f\n", "default user, SET", per_call(acl_default_user(), "set", 3, iters));
	printf("%-24s %8.1f\n", "default user, GET", per_call(acl_default_user(), "get", 2, iters));
	printf("%-24s %8.1f\n", "~key:* user, SET", per_call(u, "set", 3, iters));
	printf("%-24s %8.1f\n", "~key:* user, GET", per_call(u, "get", 2, iters));
	acl_user_unref(u);
	kv_buf_free(&out);
	return 0;
}
