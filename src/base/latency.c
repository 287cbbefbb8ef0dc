/*
 * latency.c - the latency monitor and the duration histograms
 * (base/latency.h).  No I/O, no knowledge of commands: the runtime says
 * what an event is called and when it happened.
 */
#include <string.h>
#include <time.h>

#include "base/latency.h"

_Atomic int64_t lat_threshold_ms;
_Atomic int lat_tracking = 1;

void lat_monitor_init(struct lat_monitor *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void lat_monitor_destroy(struct lat_monitor *m)
{
	pthread_mutex_destroy(&m->lock);
}

static struct lat_event *lat_find(struct lat_monitor *m, const char *event, bool create)
{
	struct lat_event *free_slot = NULL;
	for (uint32_t i = 0; i < m->n; i++) {
		struct lat_event *e = &m->ev[i];
		if (e->used && strcmp(e->name, event) == 0)
			return e;
		if (!e->used && !free_slot)
			free_slot = e;
	}
	if (!create)
		return NULL;
	if (!free_slot) {
		if (m->n == LAT_EVENT_MAX)
			return NULL;
		free_slot = &m->ev[m->n++];
	}
	memset(free_slot, 0, sizeof(*free_slot));
	strncpy(free_slot->name, event, LAT_NAME_MAX - 1);
	free_slot->used = true;
	return free_slot;
}

void lat_add(struct lat_monitor *m, const char *event, uint32_t ms, int64_t now_s)
{
	pthread_mutex_lock(&m->lock);
	struct lat_event *e = lat_find(m, event, true);
	if (e) {
		if (ms > e->max_ms)
			e->max_ms = ms;
		/* A second sample in the same second keeps the larger, as Redis's
		 * latencyAddSample does. */
		uint32_t prev = (e->idx + LAT_TS_LEN - 1) % LAT_TS_LEN;
		if (e->s[prev].time_s == now_s) {
			if (ms > e->s[prev].ms)
				e->s[prev].ms = ms;
		} else {
			e->s[e->idx].time_s = now_s;
			e->s[e->idx].ms = ms;
			e->idx = (e->idx + 1) % LAT_TS_LEN;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void lat_note(struct lat_monitor *m, const char *event, int64_t ms)
{
	int64_t t = atomic_load_explicit(&lat_threshold_ms, memory_order_relaxed);
	if (t <= 0 || ms < t)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lat_add(m, event, ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms, (int64_t)ts.tv_sec);
}

uint32_t lat_snapshot(struct lat_monitor *m, struct lat_event *out, uint32_t max)
{
	uint32_t n = 0;
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < m->n && n < max; i++)
		if (m->ev[i].used)
			out[n++] = m->ev[i];
	pthread_mutex_unlock(&m->lock);
	return n;
}

uint32_t lat_reset(struct lat_monitor *m, const char *event)
{
	uint32_t n = 0;
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < m->n; i++) {
		struct lat_event *e = &m->ev[i];
		if (e->used && (!event || strcmp(e->name, event) == 0)) {
			e->used = false;
			n++;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* ---- histograms ---- */

unsigned lat_hist_bucket(uint64_t ns)
{
	if (ns < LAT_HIST_SUB)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns);
	if (e > LAT_HIST_TOP)
		return LAT_HIST_BUCKETS - 1;
	unsigned sub = (unsigned)(ns >> (e - 3)) & (LAT_HIST_SUB - 1);
	return LAT_HIST_SUB + (e - 3) * LAT_HIST_SUB + sub;
}

uint64_t lat_hist_bucket_high(unsigned i)
{
	if (i < LAT_HIST_SUB)
		return i;
	unsigned e = (i - LAT_HIST_SUB) / LAT_HIST_SUB + 3;
	uint64_t sub = (i - LAT_HIST_SUB) % LAT_HIST_SUB;
	return ((LAT_HIST_SUB + sub + 1) << (e - 3)) - 1;
}

void lat_hist_add(struct lat_hist *h, uint64_t ns)
{
	_Atomic uint64_t *b = &h->b[lat_hist_bucket(ns)];
	atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&h->count, atomic_load_explicit(&h->count, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

uint64_t lat_hist_merge(uint64_t *dst, const struct lat_hist *src)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) {
		uint64_t v = atomic_load_explicit(&src->b[i], memory_order_relaxed);
		dst[i] += v;
		n += v;
	}
	return n;
}

uint64_t lat_hist_percentile(const uint64_t *b, uint64_t total, double pct)
{
	if (total == 0)
		return 0;
	double want = pct / 100.0 * (double)total;
	uint64_t cum = 0;
	for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) {
		cum += b[i];
		if (b[i] && (double)cum >= want)
			return lat_hist_bucket_high(i);
	}
	return lat_hist_bucket_high(LAT_HIST_BUCKETS - 1);
}

void lat_hist_reset(struct lat_hist *h)
{
	for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++)
		atomic_store_explicit(&h->b[i], 0, memory_order_relaxed);
	atomic_store_explicit(&h->count, 0, memory_order_relaxed);
}
