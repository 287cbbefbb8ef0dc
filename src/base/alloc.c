/*
 * alloc.c - the allocator's name, counts, report and purge (alloc.h), for
 * jemalloc (mallctl) and glibc (mallinfo2, malloc_info, malloc_trim).
 */
#include "base/alloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef KEVY_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#define ALLOC_STR_(x) #x
#define ALLOC_STR(x) ALLOC_STR_(x)

const char *kv_alloc_name(void)
{
#ifdef KEVY_JEMALLOC
	return "jemalloc-" ALLOC_STR(JEMALLOC_VERSION_MAJOR) "." ALLOC_STR(
		JEMALLOC_VERSION_MINOR) "." ALLOC_STR(JEMALLOC_VERSION_BUGFIX);
#else
	return "libc";
#endif
}

#ifdef KEVY_JEMALLOC
static uint64_t je_stat(const char *name)
{
	size_t v = 0, len = sizeof(v);
	if (mallctl(name, &v, &len, NULL, 0) != 0)
		return 0;
	return v;
}
#endif

int kv_alloc_counts(struct kv_alloc_counts *out)
{
	memset(out, 0, sizeof(*out));
#ifdef KEVY_JEMALLOC
	/* jemalloc's statistics are a snapshot taken when the epoch moves. */
	uint64_t epoch = 1;
	size_t len = sizeof(epoch);
	if (mallctl("epoch", &epoch, &len, &epoch, len) != 0)
		return -ENOTSUP;
	out->allocated = je_stat("stats.allocated");
	out->active = je_stat("stats.active");
	out->resident = je_stat("stats.resident");
	return out->allocated ? 0 : -ENOTSUP;
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	uint64_t n = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
	if (!n)
		return -ENOTSUP;
	out->allocated = out->active = n;
	return 0;
#else
	return -ENOTSUP;
#endif
}

#ifdef KEVY_JEMALLOC
static void je_report_write(void *arg, const char *text)
{
	kv_buf_append((struct kv_buf *)arg, text, strlen(text));
}
#endif

int kv_alloc_report(struct kv_buf *out)
{
#ifdef KEVY_JEMALLOC
	malloc_stats_print(je_report_write, out, NULL);
	return 0;
#elif defined(__GLIBC__)
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -errno;
	int rc = malloc_info(0, f);
	fclose(f);
	if (rc == 0)
		kv_buf_append(out, text, len);
	free(text);
	return rc == 0 ? 0 : -ENOTSUP;
#else
	(void)out;
	return -ENOTSUP;
#endif
}

void kv_alloc_purge(void)
{
#ifdef KEVY_JEMALLOC
	mallctl("arena." ALLOC_STR(MALLCTL_ARENAS_ALL) ".purge", NULL, NULL, NULL, 0);
#elif defined(__GLIBC__)
	malloc_trim(0);
#endif
}
