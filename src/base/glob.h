/*
 * glob.h - glob-style pattern matching with Redis 7.0's stringmatchlen()
 * results (KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE); glob.c says which.
 */
#ifndef KV_GLOB_H
#define KV_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s matches pat (*, ?, [...], \\), ASCII case folded when nocase. */
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

#endif
