/*
 * test_latency.c - base/latency.c: the histogram's buckets cover every
 * duration without gaps and are at most 1/8 wide, percentiles are bucket
 * upper bounds, the monitor keeps the larger of two samples in a second,
 * keeps the last 160, and resets by name or all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/latency.h"

static void test_latency_buckets_are_contiguous(void **state)
{
	(void)state;
	/* Each bucket starts right after the previous one ends. */
	uint64_t prev_high = 0;
	for (unsigned i = 0; i + 1 < LAT_HIST_BUCKETS; i++) {
		uint64_t high = lat_hist_bucket_high(i);
		if (i > 0)
			assert_true(high > prev_high);
		assert_int_equal(lat_hist_bucket(high), i);
		assert_int_equal(lat_hist_bucket(high + 1), i + 1);
		prev_high = high;
	}
	/* Powers of two open a new group of 8 buckets. */
	for (unsigned e = 3; e <= LAT_HIST_TOP; e++)
		assert_int_equal(lat_hist_bucket(1ull << e), LAT_HIST_SUB + (e - 3) * LAT_HIST_SUB);
}

static void test_latency_bucket_width_bounded(void **state)
{
	(void)state;
	for (uint64_t v = 8; v < (1ull << 36); v = v * 3 + 1) {
		unsigned i = lat_hist_bucket(v);
		uint64_t high = lat_hist_bucket_high(i);
		assert_true(high >= v);
		assert_true((double)(high - v) <= (double)v / 8.0);
	}
	/* Beyond the top, everything lands in the last bucket. */
	assert_int_equal(lat_hist_bucket(UINT64_MAX), LAT_HIST_BUCKETS - 1);
}

static void test_latency_percentiles(void **state)
{
	(void)state;
	struct lat_hist *h = calloc(1, sizeof(*h));
	for (int i = 0; i < 90; i++)
		lat_hist_add(h, 1000);          /* 1 µs */
	for (int i = 0; i < 10; i++)
		lat_hist_add(h, 1000000);       /* 1 ms */
	uint64_t sum[LAT_HIST_BUCKETS] = { 0 };
	assert_int_equal(lat_hist_merge(sum, h), 100);
	assert_int_equal(atomic_load(&h->count), 100);
	uint64_t p50 = lat_hist_percentile(sum, 100, 50.0);
	uint64_t p99 = lat_hist_percentile(sum, 100, 99.0);
	assert_true(p50 >= 1000 && p50 <= 1125);
	assert_true(p99 >= 1000000 && p99 <= 1125000);
	assert_int_equal(lat_hist_percentile(sum, 0, 50.0), 0);
	/* A second shard's histogram adds up. */
	assert_int_equal(lat_hist_merge(sum, h), 100);
	assert_int_equal(lat_hist_percentile(sum, 200, 90.0), p50);
	lat_hist_reset(h);
	memset(sum, 0, sizeof(sum));
	assert_int_equal(lat_hist_merge(sum, h), 0);
	free(h);
}

static void test_latency_monitor_samples(void **state)
{
	(void)state;
	struct lat_monitor *m = malloc(sizeof(*m));
	lat_monitor_init(m);
	lat_add(m, "command", 10, 1000);
	lat_add(m, "command", 30, 1000);   /* same second: the larger stays */
	lat_add(m, "command", 20, 1000);
	lat_add(m, "aof-fsync-always", 5, 1001);
	struct lat_event ev[LAT_EVENT_MAX];
	assert_int_equal(lat_snapshot(m, ev, LAT_EVENT_MAX), 2);
	assert_string_equal(ev[0].name, "command");
	assert_int_equal(ev[0].max_ms, 30);
	assert_int_equal(ev[0].s[0].time_s, 1000);
	assert_int_equal(ev[0].s[0].ms, 30);
	assert_int_equal(ev[0].s[1].time_s, 0);
	/* The ring keeps the newest LAT_TS_LEN seconds. */
	for (int t = 0; t < LAT_TS_LEN + 5; t++)
		lat_add(m, "command", (uint32_t)t + 1, 2000 + t);
	assert_int_equal(lat_snapshot(m, ev, LAT_EVENT_MAX), 2);
	int64_t oldest = INT64_MAX;
	for (int i = 0; i < LAT_TS_LEN; i++)
		if (ev[0].s[i].time_s && ev[0].s[i].time_s < oldest)
			oldest = ev[0].s[i].time_s;
	assert_int_equal(oldest, 2005);
	assert_int_equal(ev[0].max_ms, LAT_TS_LEN + 5);
	/* Reset by name, then everything; a reset name is new again. */
	assert_int_equal(lat_reset(m, "nosuch"), 0);
	assert_int_equal(lat_reset(m, "command"), 1);
	assert_int_equal(lat_snapshot(m, ev, LAT_EVENT_MAX), 1);
	lat_add(m, "command", 7, 3000);
	assert_int_equal(lat_snapshot(m, ev, LAT_EVENT_MAX), 2);
	assert_int_equal(lat_reset(m, NULL), 2);
	assert_int_equal(lat_snapshot(m, ev, LAT_EVENT_MAX), 0);
	lat_monitor_destroy(m);
	free(m);
}

static void test_latency_threshold(void **state)
{
	(void)state;
	struct lat_monitor *m = malloc(sizeof(*m));
	lat_monitor_init(m);
	struct lat_event ev[LAT_EVENT_MAX];
	atomic_store(&lat_threshold_ms, 0);
	lat_note(m, "command", 1000);          /* off: nothing */
	assert_int_equal(lat_snapshot(m, ev, LAT_EVENT_MAX), 0);
	atomic_store(&lat_threshold_ms, 100);
	lat_note(m, "command", 99);
	assert_int_equal(lat_snapshot(m, ev, LAT_EVENT_MAX), 0);
	lat_note(m, "command", 100);
	assert_int_equal(lat_snapshot(m, ev, LAT_EVENT_MAX), 1);
	atomic_store(&lat_threshold_ms, 0);
	lat_monitor_destroy(m);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_buckets_are_contiguous),
		cmocka_unit_test(test_latency_bucket_width_bounded),
		cmocka_unit_test(test_latency_percentiles),
		cmocka_unit_test(test_latency_monitor_samples),
		cmocka_unit_test(test_latency_threshold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
