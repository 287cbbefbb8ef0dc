/*
 * test_lru.c - the per-key access clock (store/lru.h): LRU seconds and
 * idle time across the 24-bit wrap, LFU decay per lfu-decay-time, the
 * logarithmic increment's probability, and what a store lookup does to an
 * entry's clock under each policy (db_lookup touches, db_lookup_notouch
 * does not).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/lru.h"
#include "store/store.h"

#define NOW 1700000000000LL   /* the fake clock, in ms */

static void test_lru_clock_idle(void **state)
{
	(void)state;
	uint32_t c = lru_clock_at(NOW);
	assert_int_equal(c, (uint32_t)((NOW / 1000) & LRU_CLOCK_MAX));
	assert_int_equal(lru_idle_ms(c, NOW), 0);
	assert_int_equal(lru_idle_ms(c, NOW + 999), 0);        /* second resolution */
	assert_int_equal(lru_idle_ms(c, NOW + 61000), 61000);
	/* A clock taken just before the 24-bit wrap is still seen as recent. */
	int64_t wrap_ms = ((NOW / 1000) | LRU_CLOCK_MAX) * 1000;  /* clock = MAX */
	uint32_t before = lru_clock_at(wrap_ms - 5000);
	assert_int_equal(before, LRU_CLOCK_MAX - 5);
	uint64_t idle = lru_idle_ms(before, wrap_ms + 10000);
	/* Redis's formula counts the wrap as MAX steps: 5 + 9 seconds. */
	assert_int_equal(idle, 14000);
}

static void test_lfu_decay(void **state)
{
	(void)state;
	uint32_t min = lfu_minutes_at(NOW);
	uint32_t c = lfu_make(min, 20);
	assert_int_equal(lfu_decayed(c, NOW, 1), 20);
	assert_int_equal(lfu_decayed(c, NOW + 3 * 60000, 1), 17);   /* one per minute */
	assert_int_equal(lfu_decayed(c, NOW + 3 * 60000, 2), 19);   /* one per 2 minutes */
	assert_int_equal(lfu_decayed(c, NOW + 3 * 60000, 0), 20);   /* never */
	assert_int_equal(lfu_decayed(c, NOW + 100 * 60000, 1), 0);  /* floors at 0 */
	/* Minutes wrap at 2^16. */
	uint32_t late = lfu_make(0xffff, 10);
	int64_t t = (NOW / 60000 / 0x10000 + 1) * 0x10000 * 60000 + 2 * 60000; /* minute 2 */
	assert_int_equal(lfu_minutes_at(t), 2);
	assert_int_equal(lfu_decayed(late, t, 1), 8);
}

static void test_lfu_log_incr(void **state)
{
	(void)state;
	/* At or below LFU_INIT_VAL every access counts. */
	assert_int_equal(lfu_log_incr(0, 10, 0.999), 1);
	assert_int_equal(lfu_log_incr(LFU_INIT_VAL, 10, 0.999), LFU_INIT_VAL + 1);
	/* Above it, p = 1 / ((c - 5) * factor + 1): c = 15, factor 10 -> 1/101. */
	assert_int_equal(lfu_log_incr(15, 10, 0.0098), 16);
	assert_int_equal(lfu_log_incr(15, 10, 0.0100), 15);
	/* lfu-log-factor 0: always increments; 255 saturates. */
	assert_int_equal(lfu_log_incr(200, 0, 0.999), 201);
	assert_int_equal(lfu_log_incr(255, 0, 0.0), 255);
}

static void set_policy(enum evict_policy p)
{
	atomic_store(&kv_memory.policy, (int)p);
}

static void test_lookup_touches_clock(void **state)
{
	(void)state;
	set_policy(EVICT_ALLKEYS_LRU);
	struct kv_db *db = db_create();
	db_lookup(db, "x", 1, NOW);                   /* sets the store's clock */
	db_set_string(db, "k", 1, "v", 1, KV_NO_EXPIRE);
	struct kv_entry *e = db_lookup_notouch(db, "k", 1, NOW + 5000);
	assert_int_equal(lru_idle_ms(entry_clock(e), NOW + 5000), 5000);
	e = db_lookup(db, "k", 1, NOW + 7000);
	assert_int_equal(lru_idle_ms(entry_clock(e), NOW + 7000), 0);
	e = db_lookup_notouch(db, "k", 1, NOW + 9000);
	assert_int_equal(lru_idle_ms(entry_clock(e), NOW + 9000), 2000);

	/* Under LFU a new key starts at LFU_INIT_VAL and each access may count
	 * (always at first, with p = 1 just above the initial value). */
	set_policy(EVICT_ALLKEYS_LFU);
	db_set_string(db, "f", 1, "v", 1, KV_NO_EXPIRE);
	e = db_lookup_notouch(db, "f", 1, NOW + 9000);
	assert_int_equal(lfu_decayed(entry_clock(e), NOW + 9000, 1), LFU_INIT_VAL);
	db_lookup(db, "f", 1, NOW + 9000);
	e = db_lookup_notouch(db, "f", 1, NOW + 9000);
	assert_int_equal(entry_clock(e) & 0xff, LFU_INIT_VAL + 1);
	/* Overwriting keeps the counter (Redis's dbOverwrite) and counts. */
	entry_set_clock(e, lfu_make(lfu_minutes_at(NOW), 40));
	db_set_string(db, "f", 1, "w", 1, KV_NO_EXPIRE);
	e = db_lookup_notouch(db, "f", 1, NOW);
	assert_in_range(entry_clock(e) & 0xff, 40, 41);
	db_destroy(db);
	set_policy(EVICT_NOEVICTION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lru_clock_idle),
		cmocka_unit_test(test_lfu_decay),
		cmocka_unit_test(test_lfu_log_incr),
		cmocka_unit_test(test_lookup_touches_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
