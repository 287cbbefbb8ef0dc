/*
 * test_spsc.c - the inter-shard ring: FIFO order, full/empty reporting,
 * wrap-around, and a two-thread stress run (bounded) where the consumer
 * checks it sees every value exactly once, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "base/spsc.h"

static void test_spsc_fifo_and_full(void **state)
{
	(void)state;
	struct spsc_ring r;
	spsc_init(&r, 8);
	assert_null(spsc_pop(&r));
	for (uintptr_t i = 1; i <= 8; i++)
		assert_true(spsc_push(&r, (void *)i));
	assert_false(spsc_push(&r, (void *)9));
	assert_true(spsc_nonempty(&r));
	for (uintptr_t i = 1; i <= 8; i++)
		assert_int_equal((uintptr_t)spsc_pop(&r), i);
	assert_null(spsc_pop(&r));
	assert_false(spsc_nonempty(&r));
	spsc_destroy(&r);
}

static void test_spsc_wraps_around(void **state)
{
	(void)state;
	struct spsc_ring r;
	spsc_init(&r, 4);
	uintptr_t next_in = 1, next_out = 1;
	for (int round = 0; round < 1000; round++) {
		int n = 1 + round % 4;
		for (int i = 0; i < n; i++)
			assert_true(spsc_push(&r, (void *)next_in++));
		for (int i = 0; i < n; i++)
			assert_int_equal((uintptr_t)spsc_pop(&r), next_out++);
	}
	assert_null(spsc_pop(&r));
	spsc_destroy(&r);
}

#define STRESS_COUNT 2000000u

static void *stress_producer(void *arg)
{
	struct spsc_ring *r = arg;
	for (uintptr_t i = 1; i <= STRESS_COUNT;) {
		if (spsc_push(r, (void *)i))
			i++;
	}
	return NULL;
}

static void test_spsc_two_threads_in_order(void **state)
{
	(void)state;
	struct spsc_ring r;
	spsc_init(&r, 64);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stress_producer, &r), 0);
	uintptr_t expect = 1;
	while (expect <= STRESS_COUNT) {
		void *p = spsc_pop(&r);
		if (!p)
			continue;
		if ((uintptr_t)p != expect)
			fail_msg("expected %lu got %lu", (unsigned long)expect, (unsigned long)(uintptr_t)p);
		expect++;
	}
	pthread_join(t, NULL);
	assert_null(spsc_pop(&r));
	spsc_destroy(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spsc_fifo_and_full),
		cmocka_unit_test(test_spsc_wraps_around),
		cmocka_unit_test(test_spsc_two_threads_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
