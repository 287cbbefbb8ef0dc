/*
 * effect_argv.c - building effect commands (see effect_argv.h).
 */
#include "store/effect_argv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "base/util_num.h"

struct kv_slice effect_int(char *buf, int64_t v)
{
	_Static_assert(EFFECT_NUM_MAX >= FMT_INT64_MAX, "room for an int64");
	return (struct kv_slice){ buf, fmt_int64(buf, v) };
}

struct kv_slice effect_score(char *buf, double v)
{
	kv_assert(!isnan(v));
	if (isinf(v)) {
		const char *s = v > 0 ? "inf" : "-inf";
		strcpy(buf, s);
		return (struct kv_slice){ buf, strlen(s) };
	}
	/* %.17g always round-trips; fewer digits usually do too and read
	 * better ("0.1", not "0.10000000000000001"). */
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, EFFECT_NUM_MAX, "%.*g", prec, v);
		kv_assert(n > 0 && n < EFFECT_NUM_MAX);
		double back = strtod(buf, NULL);
		if (memcmp(&back, &v, sizeof(v)) == 0)
			break;
	}
	return (struct kv_slice){ buf, (size_t)n };
}

void effect_argv_init(struct effect_argv *a)
{
	memset(a, 0, sizeof(*a));
	kv_buf_init(&a->bytes);
}

void effect_argv_free(struct effect_argv *a)
{
	kv_buf_free(&a->bytes);
	free(a->spans);
	free(a->slices);
	memset(a, 0, sizeof(*a));
}

void effect_argv_reset(struct effect_argv *a)
{
	a->argc = 0;
	a->bytes.len = 0;
}

void effect_argv_add(struct effect_argv *a, const void *p, size_t n)
{
	if (a->argc == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->spans = kv_realloc(a->spans, 2 * (size_t)a->cap * sizeof(*a->spans));
	}
	a->spans[2 * a->argc] = a->bytes.len;
	a->spans[2 * a->argc + 1] = n;
	a->argc++;
	kv_buf_append(&a->bytes, p, n);
}

void effect_argv_add_str(struct effect_argv *a, const char *s)
{
	effect_argv_add(a, s, strlen(s));
}

void effect_argv_add_int(struct effect_argv *a, int64_t v)
{
	char buf[EFFECT_NUM_MAX];
	struct kv_slice s = effect_int(buf, v);
	effect_argv_add(a, s.ptr, s.len);
}

void effect_argv_add_score(struct effect_argv *a, double v)
{
	char buf[EFFECT_NUM_MAX];
	struct kv_slice s = effect_score(buf, v);
	effect_argv_add(a, s.ptr, s.len);
}

const struct kv_slice *effect_argv_slices(struct effect_argv *a)
{
	if (a->slices_cap < a->argc) {
		a->slices_cap = a->cap;
		a->slices = kv_realloc(a->slices, (size_t)a->slices_cap * sizeof(*a->slices));
	}
	/* Arguments that are all empty leave bytes unallocated. */
	const char *base = a->bytes.data ? a->bytes.data : "";
	for (int i = 0; i < a->argc; i++)
		a->slices[i] = (struct kv_slice){ base + a->spans[2 * i],
						  a->spans[2 * i + 1] };
	return a->slices;
}
