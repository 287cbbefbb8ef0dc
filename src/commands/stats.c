/*
 * stats.c - counting error replies for INFO stats and INFO errorstats
 * (struct shard_stats, commands/runtime.h).
 *
 * The counters are per shard and single-writer: only the shard's own thread
 * calls stat_error() on its stats, so an increment is a relaxed load and
 * store, never a locked instruction.  INFO, on any thread, sums them.
 *
 * Also the instantaneous rates (instantaneous_ops_per_sec, ..._kbps): one
 * thread samples the totals every 100 ms, as Redis's cron does, and
 * publishes the mean of the last 16 samples.
 *
 * Not here: where errors are counted (server/exec.c and server/route.c
 * call this wherever an error reply is made) or how INFO prints them
 * (cmd_info.c).
 */
#include <string.h>

#include "commands/runtime.h"

/* The first word of an error reply, as Redis's afterErrorReply takes it:
 * the bytes after '-' up to the first space within the first 32 bytes;
 * "ERR" when there is none. */
static void stat_error_prefix(const char *reply, size_t len, const char **name, size_t *nlen)
{
	const char *space = len > 1 ? memchr(reply, ' ', len < 32 ? len : 32) : NULL;
	if (reply[0] != '-' || !space || space == reply + 1) {
		*name = "ERR";
		*nlen = 3;
		return;
	}
	*name = reply + 1;
	*nlen = (size_t)(space - reply) - 1;
}

void stat_error(struct shard_stats *st, const char *reply, size_t len)
{
	stat_add(&st->total_error_replies, 1);
	const char *name;
	size_t nlen;
	stat_error_prefix(reply, len, &name, &nlen);
	struct err_stats *es = &st->errors;
	uint32_t n = atomic_load_explicit(&es->n, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++) {
		struct err_stat *e = &es->e[i];
		if (strncmp(e->name, name, nlen) == 0 && e->name[nlen] == '\0') {
			stat_add(&e->count, 1);
			return;
		}
	}
	if (n == ERR_STATS_MAX || nlen >= ERR_STAT_NAME_MAX)
		return;
	struct err_stat *e = &es->e[n];
	memcpy(e->name, name, nlen);
	e->name[nlen] = '\0';
	atomic_store_explicit(&e->count, 1, memory_order_relaxed);
	/* Publishes the name: a reader that sees n + 1 sees it whole. */
	atomic_store_explicit(&es->n, n + 1, memory_order_release);
}

/* ---- instantaneous rates ---- */

#define STAT_INST_SAMPLES 16
#define STAT_INST_PERIOD_MS 100

enum { INST_OPS, INST_NET_IN, INST_NET_OUT, INST_N };

/* The sampler's own state: only the sampling thread touches it. */
static struct {
	int64_t last_ms;
	uint64_t last[INST_N];
	double samples[INST_N][STAT_INST_SAMPLES];
	unsigned idx;
} stat_inst_state;

/* The published means, as bits of a double. */
static _Atomic uint64_t stat_inst_value[INST_N];

static void stat_inst_publish(int which, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	atomic_store_explicit(&stat_inst_value[which], bits, memory_order_relaxed);
}

void stat_inst_sample(uint64_t ops, uint64_t net_in, uint64_t net_out, int64_t now_ms)
{
	const uint64_t now[INST_N] = { ops, net_in, net_out };
	int64_t dt = now_ms - stat_inst_state.last_ms;
	if (stat_inst_state.last_ms && dt < STAT_INST_PERIOD_MS)
		return;
	if (stat_inst_state.last_ms && dt > 0) {
		unsigned at = stat_inst_state.idx++ % STAT_INST_SAMPLES;
		for (int k = 0; k < INST_N; k++) {
			/* A reset (CONFIG RESETSTAT) makes a total go down: 0. */
			uint64_t d = now[k] >= stat_inst_state.last[k] ? now[k] - stat_inst_state.last[k] : 0;
			stat_inst_state.samples[k][at] = (double)d * 1000.0 / (double)dt;
			double sum = 0;
			for (unsigned j = 0; j < STAT_INST_SAMPLES; j++)
				sum += stat_inst_state.samples[k][j];
			stat_inst_publish(k, sum / STAT_INST_SAMPLES);
		}
	}
	stat_inst_state.last_ms = now_ms;
	memcpy(stat_inst_state.last, now, sizeof(now));
}

static double stat_inst_get(int which)
{
	uint64_t bits = atomic_load_explicit(&stat_inst_value[which], memory_order_relaxed);
	double v;
	memcpy(&v, &bits, sizeof(v));
	return v;
}

double stat_inst_ops_per_sec(void)
{
	return stat_inst_get(INST_OPS);
}

double stat_inst_input_kbps(void)
{
	return stat_inst_get(INST_NET_IN) / 1024.0;
}

double stat_inst_output_kbps(void)
{
	return stat_inst_get(INST_NET_OUT) / 1024.0;
}
