/*
 * latency.h - the latency monitor of one shard (LATENCY LATEST, HISTORY,
 * RESET, GRAPH, DOCTOR) and the log-linear histograms behind LATENCY
 * HISTOGRAM and INFO latencystats.
 *
 * Monitor: named events ("command", "expire-cycle", "aof-fsync-always",
 * ...), each a ring of the last LAT_TS_LEN samples (unix second, ms) and an
 * all-time maximum, as Redis keeps them.  A sample is recorded only when
 * latency-monitor-threshold is above 0 and the duration reaches it; two
 * samples in the same second keep the larger.  Each shard has its own
 * monitor; the owner thread adds, any thread reads or resets, under the
 * monitor's mutex (taken only when something was slow).
 *
 * Histogram: counts of durations in nanoseconds, 8 buckets per power of
 * two (a bucket's width is at most 1/8 of its lower bound), single writer
 * (relaxed atomics), any thread reads.  Not here: which commands have one
 * (commands/runtime.h) or how they are printed (commands/cmd_introspect.c).
 */
#ifndef KV_LATENCY_H
#define KV_LATENCY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define LAT_TS_LEN 160
#define LAT_EVENT_MAX 32
#define LAT_NAME_MAX 32

/* latency-monitor-threshold in ms; 0 = the monitor is off. */
extern _Atomic int64_t lat_threshold_ms;
/* latency-tracking: 1 = every command's duration goes into its histogram. */
extern _Atomic int lat_tracking;

struct lat_sample {
	int64_t time_s;     /* 0: empty slot */
	uint32_t ms;
};

struct lat_event {
	char name[LAT_NAME_MAX];
	struct lat_sample s[LAT_TS_LEN];
	uint32_t idx;       /* the slot the next sample goes to */
	uint32_t max_ms;    /* all-time maximum (since the last reset) */
	bool used;          /* false after a reset: the name is free again */
};

struct lat_monitor {
	pthread_mutex_t lock;
	uint32_t n;         /* slots of ev in use (some may be !used) */
	struct lat_event ev[LAT_EVENT_MAX];
};

void lat_monitor_init(struct lat_monitor *m);
void lat_monitor_destroy(struct lat_monitor *m);
/* Record that `event` took ms milliseconds at unix second now_s, whatever
 * the threshold (callers use lat_note).  A full table drops the sample. */
void lat_add(struct lat_monitor *m, const char *event, uint32_t ms, int64_t now_s);
/* Record it when the monitor is on and ms reaches the threshold. */
void lat_note(struct lat_monitor *m, const char *event, int64_t ms);
/* Copy every used event into out (at most max); returns the count. */
uint32_t lat_snapshot(struct lat_monitor *m, struct lat_event *out, uint32_t max);
/* Forget one event (NULL: all); returns how many were forgotten. */
uint32_t lat_reset(struct lat_monitor *m, const char *event);

/* ---- histograms ---- */

#define LAT_HIST_SUB 8            /* buckets per power of two */
#define LAT_HIST_TOP 40           /* 2^40 ns (18 minutes) and above share the last */
#define LAT_HIST_BUCKETS (LAT_HIST_SUB + (LAT_HIST_TOP - 3 + 1) * LAT_HIST_SUB)

struct lat_hist {
	_Atomic uint64_t count;
	_Atomic uint64_t b[LAT_HIST_BUCKETS];
};

/* Single writer: only the owner thread records. */
void lat_hist_add(struct lat_hist *h, uint64_t ns);
/* The bucket of a duration, and the largest duration a bucket holds. */
unsigned lat_hist_bucket(uint64_t ns);
uint64_t lat_hist_bucket_high(unsigned i);
/* Sum of src into a plain array (LAT_HIST_BUCKETS counts); returns the
 * count added. */
uint64_t lat_hist_merge(uint64_t *dst, const struct lat_hist *src);
/* The duration (ns) at or below which pct percent of the total fall:
 * the upper bound of the bucket that reaches it; 0 when total is 0. */
uint64_t lat_hist_percentile(const uint64_t *b, uint64_t total, double pct);
void lat_hist_reset(struct lat_hist *h);

#endif
