/*
 * cmd_introspect.c - SLOWLOG and LATENCY: what every shard measured about
 * its own commands and stalls, merged into one server's answer.
 *
 * Both run on the client's shard (CMD_LOCAL) and read the other shards'
 * logs, monitors and histograms through c->rt->stats(): the logs and
 * monitors under their own mutexes, the histograms as relaxed atomics
 * (commands/runtime.h).  Not here: where durations are measured and
 * recorded (server/exec.c for commands, server/shard.c and persist/aof.c
 * for the loop's own stalls), or INFO latencystats (cmd_info.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/kv.h"
#include "base/latency.h"
#include "commands/cmd.h"
#include "commands/slowlog.h"


/* ------------------------------------------------------------------ */
/* SLOWLOG */

static struct slowlog **intro_slowlogs(const struct cmd_ctx *c)
{
	struct slowlog **logs = kv_calloc(c->nshards, sizeof(*logs));
	for (uint32_t i = 0; i < c->nshards; i++)
		logs[i] = &c->rt->stats(i)->slowlog;
	return logs;
}

static void cmd_slowlog_get(struct cmd_ctx *c)
{
	int64_t count = 10;
	if (c->argc > 3) {
		/* Redis's SLOWLOG checks this count itself, with its own words. */
		resp_errorf(c->out, "ERR unknown subcommand or wrong number of arguments for "
			    "'%.*s'. Try SLOWLOG HELP.",
			    (int)KV_MIN(c->argv[1].len, 128), c->argv[1].ptr);
		return;
	}
	if (c->argc == 3 && (!arg_to_int64(&c->argv[2], &count) || count < -1)) {
		resp_error(c->out, "ERR count should be greater than or equal to -1");
		return;
	}
	struct slowlog **logs = intro_slowlogs(c);
	slowlog_reply_get(c->out, logs, c->nshards, count);
	free(logs);
}

static void cmd_slowlog_len(struct cmd_ctx *c)
{
	struct slowlog **logs = intro_slowlogs(c);
	resp_int(c->out, (int64_t)slowlog_len(logs, c->nshards));
	free(logs);
}

static void cmd_slowlog_reset(struct cmd_ctx *c)
{
	for (uint32_t i = 0; i < c->nshards; i++)
		slowlog_reset(&c->rt->stats(i)->slowlog);
	resp_ok(c->out);
}

static const char *const slowlog_help_lines[] = {
	"GET [<count>]",
	"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
	"    Entries are made of:",
	"    id, timestamp, time in microseconds, arguments array, client IP and port,",
	"    client name",
	"LEN",
	"    Return the length of the slowlog.",
	"RESET",
	"    Reset the slowlog.",
	NULL,
};

static void cmd_slowlog_help(struct cmd_ctx *c)
{
	cmd_reply_help(c->out, "SLOWLOG", slowlog_help_lines);
}

#define INTRO_FLAGS (CMD_ADMIN | CMD_LOADING | CMD_STALE | CMD_LOCAL)

static const struct kv_command slowlog_subs[] = {
	{ .name = "slowlog|get", .arity = -2, .flags = INTRO_FLAGS, .proc = cmd_slowlog_get,
	  .group = "server", .since = "2.2.12", .summary = "Get the slow log's entries",
	  .complexity = "O(N) where N is the number of entries returned" },
	{ .name = "slowlog|len", .arity = 2, .flags = INTRO_FLAGS, .proc = cmd_slowlog_len,
	  .group = "server", .since = "2.2.12", .summary = "Get the slow log's length",
	  .complexity = "O(1)" },
	{ .name = "slowlog|reset", .arity = 2, .flags = INTRO_FLAGS, .proc = cmd_slowlog_reset,
	  .group = "server", .since = "2.2.12", .summary = "Clear all entries from the slow log",
	  .complexity = "O(N) where N is the number of entries in the slowlog" },
	{ .name = "slowlog|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_LOCAL,
	  .proc = cmd_slowlog_help, .group = "server", .since = "6.2.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = NULL },
};

static void cmd_slowlog(struct cmd_ctx *c)
{
	cmd_run_sub(c, slowlog_subs, "slowlog");
}

/* ------------------------------------------------------------------ */
/* LATENCY: events */

/* Every shard's events, one per name: samples of the same second merged
 * (the larger kept), in time order, the newest LAT_TS_LEN; max over all. */
struct intro_event {
	char name[LAT_NAME_MAX];
	struct lat_sample s[LAT_TS_LEN];
	uint32_t n;
	uint32_t max_ms;
};

static int intro_sample_cmp(const void *a, const void *b)
{
	const struct lat_sample *x = a, *y = b;
	return x->time_s < y->time_s ? -1 : x->time_s > y->time_s;
}

/* Returns the merged events (*n of them); the caller frees. */
static struct intro_event *intro_events(const struct cmd_ctx *c, uint32_t *n)
{
	struct lat_event *tmp = kv_malloc(sizeof(*tmp) * LAT_EVENT_MAX);
	struct intro_event *ev = kv_calloc(LAT_EVENT_MAX, sizeof(*ev));
	struct lat_sample *all = kv_malloc(sizeof(*all) * LAT_TS_LEN * (c->nshards + 1));
	uint32_t nev = 0;
	for (uint32_t i = 0; i < c->nshards; i++) {
		uint32_t m = lat_snapshot(&c->rt->stats(i)->latency, tmp, LAT_EVENT_MAX);
		for (uint32_t k = 0; k < m; k++) {
			uint32_t j = 0;
			while (j < nev && strcmp(ev[j].name, tmp[k].name) != 0)
				j++;
			if (j == nev) {
				if (nev == LAT_EVENT_MAX)
					continue;
				memcpy(ev[nev++].name, tmp[k].name, LAT_NAME_MAX);
			}
			struct intro_event *e = &ev[j];
			if (tmp[k].max_ms > e->max_ms)
				e->max_ms = tmp[k].max_ms;
			/* Merge: what e has plus this shard's samples, by time. */
			uint32_t na = 0;
			memcpy(all, e->s, sizeof(*all) * e->n);
			na = e->n;
			for (uint32_t t = 0; t < LAT_TS_LEN; t++)
				if (tmp[k].s[t].time_s)
					all[na++] = tmp[k].s[t];
			qsort(all, na, sizeof(*all), intro_sample_cmp);
			uint32_t w = 0;
			for (uint32_t t = 0; t < na; t++) {
				if (w && all[w - 1].time_s == all[t].time_s) {
					if (all[t].ms > all[w - 1].ms)
						all[w - 1].ms = all[t].ms;
				} else {
					all[w++] = all[t];
				}
			}
			uint32_t from = w > LAT_TS_LEN ? w - LAT_TS_LEN : 0;
			e->n = w - from;
			memcpy(e->s, all + from, sizeof(*all) * e->n);
		}
	}
	free(all);
	free(tmp);
	*n = nev;
	return ev;
}

static struct intro_event *intro_event_find(struct intro_event *ev, uint32_t n,
					    const struct kv_slice *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strlen(ev[i].name) == name->len && memcmp(ev[i].name, name->ptr, name->len) == 0)
			return &ev[i];
	return NULL;
}

static void cmd_latency_latest(struct cmd_ctx *c)
{
	uint32_t n;
	struct intro_event *ev = intro_events(c, &n);
	resp_array(c->out, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct lat_sample *last = &ev[i].s[ev[i].n - 1];
		resp_array(c->out, 4);
		resp_bulk_str(c->out, ev[i].name);
		resp_int(c->out, last->time_s);
		resp_int(c->out, last->ms);
		resp_int(c->out, ev[i].max_ms);
	}
	free(ev);
}

static void cmd_latency_history(struct cmd_ctx *c)
{
	uint32_t n;
	struct intro_event *ev = intro_events(c, &n);
	struct intro_event *e = intro_event_find(ev, n, &c->argv[2]);
	resp_array(c->out, e ? e->n : 0);
	for (uint32_t i = 0; e && i < e->n; i++) {
		resp_array(c->out, 2);
		resp_int(c->out, e->s[i].time_s);
		resp_int(c->out, e->s[i].ms);
	}
	free(ev);
}

static void cmd_latency_reset(struct cmd_ctx *c)
{
	/* An event counts once however many shards had it. */
	uint32_t n;
	struct intro_event *ev = intro_events(c, &n);
	int64_t resets = 0;
	if (c->argc == 2) {
		resets = n;
		for (uint32_t i = 0; i < c->nshards; i++)
			lat_reset(&c->rt->stats(i)->latency, NULL);
	}
	for (int a = 2; a < c->argc; a++) {
		struct intro_event *e = intro_event_find(ev, n, &c->argv[a]);
		if (!e)
			continue;
		for (uint32_t i = 0; i < c->nshards; i++)
			lat_reset(&c->rt->stats(i)->latency, e->name);
		e->name[0] = '\0';   /* a repeated name counts once */
		resets++;
	}
	free(ev);
	resp_int(c->out, resets);
}

/* "12s", "3m", "2h", "1d": how long ago, as a graph's column label. */
static void intro_ago(char *buf, size_t cap, int64_t s)
{
	if (s < 60)
		snprintf(buf, cap, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, cap, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, cap, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, cap, "%lldd", (long long)(s / 86400));
}

/* LATENCY GRAPH event: one column per sample (the newest 80), bars of '#'
 * four rows high scaled between the lowest and highest sample, and under
 * each column how long ago it was, written downwards. */
#define INTRO_GRAPH_COLS 80
#define INTRO_GRAPH_ROWS 4
static void cmd_latency_graph(struct cmd_ctx *c)
{
	uint32_t n;
	struct intro_event *ev = intro_events(c, &n);
	struct intro_event *e = intro_event_find(ev, n, &c->argv[2]);
	if (!e) {
		free(ev);
		resp_errorf(c->out, "ERR No samples available for event '%.*s'",
			    (int)c->argv[2].len, c->argv[2].ptr);
		return;
	}
	uint32_t from = e->n > INTRO_GRAPH_COLS ? e->n - INTRO_GRAPH_COLS : 0;
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint32_t i = from; i < e->n; i++) {
		lo = KV_MIN(lo, e->s[i].ms);
		hi = KV_MAX(hi, e->s[i].ms);
	}
	struct kv_buf b = KV_BUF_INIT;
	kv_buf_printf(&b, "%s - high %u ms, low %u ms (all time high %u ms)\n", e->name, hi, lo,
		      e->max_ms);
	for (int i = 0; i < INTRO_GRAPH_COLS; i++)
		kv_buf_append_char(&b, '-');
	kv_buf_append_char(&b, '\n');
	for (int row = INTRO_GRAPH_ROWS; row >= 1; row--) {
		for (uint32_t i = from; i < e->n; i++) {
			uint32_t h = hi == lo ? INTRO_GRAPH_ROWS
					      : 1 + (uint32_t)((uint64_t)(e->s[i].ms - lo) *
							       (INTRO_GRAPH_ROWS - 1) / (hi - lo));
			kv_buf_append_char(&b, (int)h >= row ? '#' : ' ');
		}
		kv_buf_append_char(&b, '\n');
	}
	char labels[INTRO_GRAPH_COLS][24];
	size_t longest = 0;
	int64_t now = (int64_t)time(NULL);
	for (uint32_t i = from; i < e->n; i++) {
		intro_ago(labels[i - from], sizeof(labels[0]), now - e->s[i].time_s);
		longest = KV_MAX(longest, strlen(labels[i - from]));
	}
	for (size_t row = 0; row < longest; row++) {
		for (uint32_t i = from; i < e->n; i++) {
			const char *l = labels[i - from];
			kv_buf_append_char(&b, row < strlen(l) ? l[row] : ' ');
		}
		kv_buf_append_char(&b, '\n');
	}
	resp_verbatim(c->out, "txt", b.data, b.len);
	kv_buf_free(&b);
	free(ev);
}

/* What each event means and what to look at, for DOCTOR. */
static const struct {
	const char *event;
	const char *advice;
} intro_advice[] = {
	{ "command", "slow commands: check SLOWLOG GET for O(N) commands on big values" },
	{ "fast-command", "O(1) or O(log N) commands were slow: the host may be overloaded "
			  "or swapping" },
	{ "expire-cycle", "active expiry deleted big keys or many keys at once" },
	{ "eviction-cycle", "eviction freed much memory at once: consider a larger maxmemory" },
	{ "aof-write", "AOF writes were slow: the disk is busy or slow" },
	{ "aof-fsync-always", "fsyncs under appendfsync always were slow: the disk's flush "
			      "latency is the floor of every write's latency" },
	{ "aof-fsync", "AOF fsyncs were slow: the disk's flush latency is high" },
	{ "snapshot-write", "snapshot block writes were slow: the disk is busy" },
	{ "snapshot-turn", "serializing a snapshot slice held the shard's loop: lower "
			   "snapshot-inflight-blocks or snapshot less often" },
};

static void cmd_latency_doctor(struct cmd_ctx *c)
{
	uint32_t n;
	struct intro_event *ev = intro_events(c, &n);
	struct kv_buf b = KV_BUF_INIT;
	int64_t threshold = atomic_load_explicit(&lat_threshold_ms, memory_order_relaxed);
	if (threshold <= 0) {
		kv_buf_append_str(&b, "The latency monitor is off: set latency-monitor-threshold "
				      "(ms) with CONFIG SET to record events slower than it.\n");
	} else if (n == 0) {
		kv_buf_printf(&b, "No event took %lld ms or longer since the monitor was last "
				  "reset: nothing to report.\n", (long long)threshold);
	} else {
		kv_buf_printf(&b, "Latency report (events of %lld ms or longer, every shard):\n\n",
			      (long long)threshold);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t sum = 0;
			for (uint32_t k = 0; k < ev[i].n; k++)
				sum += ev[i].s[k].ms;
			kv_buf_printf(&b, "%u. %s: %u samples, average %llu ms, highest %u ms.\n",
				      i + 1, ev[i].name, ev[i].n,
				      (unsigned long long)(ev[i].n ? sum / ev[i].n : 0), ev[i].max_ms);
			for (size_t k = 0; k < KV_ARRAY_LEN(intro_advice); k++)
				if (strcmp(intro_advice[k].event, ev[i].name) == 0)
					kv_buf_printf(&b, "   Likely cause: %s.\n", intro_advice[k].advice);
		}
	}
	resp_verbatim(c->out, "txt", b.data, b.len);
	kv_buf_free(&b);
	free(ev);
}

/* ------------------------------------------------------------------ */
/* LATENCY HISTOGRAM */

/* Every shard's histogram of stat id `id` summed into b; returns the count. */
static uint64_t intro_hist_sum(const struct cmd_ctx *c, uint32_t id, uint64_t *b)
{
	memset(b, 0, sizeof(uint64_t) * LAT_HIST_BUCKETS);
	uint64_t total = 0;
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct cmd_stat *cs = c->rt->stats(i)->cmds;
		if (!cs)
			continue;
		struct lat_hist *h = atomic_load_explicit(&cs[id].hist, memory_order_acquire);
		if (h)
			total += lat_hist_merge(b, h);
	}
	return total;
}

/* Redis's cumulative distribution: at 1024 ns and each power of two above
 * it (printed in whole µs), the count of calls at or below it, only where
 * it grew. */
static void intro_reply_cdf(struct kv_buf *out, const uint64_t *b, uint64_t total)
{
	resp_map(out, 2);
	resp_bulk_str(out, "calls");
	resp_int(out, (int64_t)total);
	resp_bulk_str(out, "histogram_usec");
	size_t mark = resp_array_begin(out);
	int64_t samples = 0;
	uint64_t cum = 0, prev = 0;
	unsigned i = 0;
	for (unsigned e = 10; e <= LAT_HIST_TOP + 1 && prev < total; e++) {
		/* Buckets below 2^e ns. */
		unsigned end = e <= LAT_HIST_TOP ? LAT_HIST_SUB + (e - 3) * LAT_HIST_SUB
						 : LAT_HIST_BUCKETS;
		for (; i < end; i++)
			cum += b[i];
		if (cum > prev) {
			resp_int(out, (int64_t)((1ull << e) / 1000));
			resp_int(out, (int64_t)cum);
			samples++;
		}
		prev = cum;
	}
	resp_map_end(out, mark, samples);
}

/* Emit id when it has calls; returns 1 if it did. */
static int intro_hist_one(struct cmd_ctx *c, uint32_t id, uint64_t *b)
{
	if (id == UINT32_MAX)
		return 0;
	uint64_t total = intro_hist_sum(c, id, b);
	if (!total)
		return 0;
	resp_bulk_str(c->out, cmd_stat_at(id)->name);
	intro_reply_cdf(c->out, b, total);
	return 1;
}

/* The command a name denotes: "get", or "client|id" for a subcommand. */
static const struct kv_command *intro_lookup(const struct kv_slice *name)
{
	const char *bar = memchr(name->ptr, '|', name->len);
	if (!bar)
		return cmd_lookup(name->ptr, name->len);
	const struct kv_command *cmd = cmd_lookup(name->ptr, (size_t)(bar - name->ptr));
	if (!cmd || !cmd->subcommands)
		return NULL;
	struct kv_slice sub = { bar + 1, name->len - (size_t)(bar - name->ptr) - 1 };
	return cmd_find_sub(cmd->subcommands, &sub);
}

static void cmd_latency_histogram(struct cmd_ctx *c)
{
	uint64_t *b = kv_malloc(sizeof(uint64_t) * LAT_HIST_BUCKETS);
	size_t mark = resp_array_begin(c->out);
	int64_t n = 0;
	if (c->argc == 2) {
		for (uint32_t id = 0; id < cmd_stat_count(); id++)
			n += intro_hist_one(c, id, b);
	}
	for (int a = 2; a < c->argc; a++) {
		const struct kv_command *cmd = intro_lookup(&c->argv[a]);
		if (!cmd)
			continue;
		n += intro_hist_one(c, cmd_stat_id(cmd), b);
		for (const struct kv_command *s = cmd->subcommands; s && s->name; s++)
			n += intro_hist_one(c, cmd_stat_id(s), b);
	}
	resp_map_end(c->out, mark, n);
	free(b);
}

static const char *const latency_help_lines[] = {
	"DOCTOR",
	"    Return a human readable latency analysis report.",
	"GRAPH <event>",
	"    Return an ASCII latency graph for the <event> class.",
	"HISTORY <event>",
	"    Return time-latency samples for the <event> class.",
	"LATEST",
	"    Return the latest latency samples for all events.",
	"RESET [<event> ...]",
	"    Reset latency data of one or more <event> classes.",
	"    (default: reset all data for all event classes)",
	"HISTOGRAM [COMMAND ...]",
	"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
	"    If no commands are specified then all histograms are replied.",
	NULL,
};

static void cmd_latency_help(struct cmd_ctx *c)
{
	cmd_reply_help(c->out, "LATENCY", latency_help_lines);
}

#define LATENCY_FLAGS (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_LOCAL)

static const struct kv_command latency_subs[] = {
	{ .name = "latency|doctor", .arity = 2, .flags = LATENCY_FLAGS, .proc = cmd_latency_doctor,
	  .group = "server", .since = "2.8.13", .summary = "Return a human readable latency analysis report.",
	  .complexity = "O(1)" },
	{ .name = "latency|graph", .arity = 3, .flags = LATENCY_FLAGS, .proc = cmd_latency_graph,
	  .group = "server", .since = "2.8.13", .summary = "Return a latency graph for the event.",
	  .complexity = "O(1)" },
	{ .name = "latency|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_LOCAL,
	  .proc = cmd_latency_help, .group = "server", .since = "2.8.13",
	  .summary = "Show helpful text about the different subcommands.", .complexity = "O(1)" },
	{ .name = "latency|histogram", .arity = -2, .flags = LATENCY_FLAGS,
	  .proc = cmd_latency_histogram, .group = "server", .since = "7.0.0",
	  .summary = "Return the cumulative distribution of latencies of a subset of commands or all.",
	  .complexity = "O(N) where N is the number of commands with latency information being retrieved." },
	{ .name = "latency|history", .arity = 3, .flags = LATENCY_FLAGS,
	  .proc = cmd_latency_history, .group = "server", .since = "2.8.13",
	  .summary = "Return timestamp-latency samples for the event.", .complexity = "O(1)" },
	{ .name = "latency|latest", .arity = 2, .flags = LATENCY_FLAGS, .proc = cmd_latency_latest,
	  .group = "server", .since = "2.8.13",
	  .summary = "Return the latest latency samples for all events.", .complexity = "O(1)" },
	{ .name = "latency|reset", .arity = -2, .flags = LATENCY_FLAGS, .proc = cmd_latency_reset,
	  .group = "server", .since = "2.8.13", .summary = "Reset latency data for one or more events.",
	  .complexity = "O(1)" },
	{ .name = NULL },
};

static void cmd_latency(struct cmd_ctx *c)
{
	cmd_run_sub(c, latency_subs, "latency");
}

const struct kv_command cmd_table_introspect[] = {
	{ .name = "slowlog", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_slowlog,
	  .group = "server", .since = "2.2.12", .summary = "A container for slow log commands",
	  .complexity = "Depends on subcommand.", .subcommands = slowlog_subs },
	{ .name = "latency", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_latency,
	  .group = "server", .since = "2.8.13",
	  .summary = "A container for latency diagnostics commands",
	  .complexity = "Depends on subcommand.", .subcommands = latency_subs },
	{ .name = NULL },
};
