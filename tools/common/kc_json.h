/*
 * kc_json.h - a minimal streaming JSON writer shared by the offline tools
 * (kevy-check's and kevy-dump's --json): documents to a FILE, commas placed
 * by the writer, strings binary-safe.
 *
 * Not a general library: no parsing, no pretty-printing, nesting up to
 * KC_JSON_DEPTH.  Strings are arbitrary bytes, written one of two ways:
 *   text   (kc_json_string, kc_json_string_len) valid UTF-8 is copied,
 *          quotes, backslashes and control bytes are escaped, and every byte
 *          that is not part of valid UTF-8 is written as \u00XX (so a file
 *          name that is not UTF-8 still yields a document every parser
 *          accepts);
 *   bytes  (kc_json_bytes) every byte is one code point U+0000-U+00FF:
 *          printable ASCII is copied, everything else escaped, so
 *          json.loads(s).encode("latin-1") gives the bytes back exactly.
 */
#ifndef KC_JSON_H
#define KC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KC_JSON_DEPTH 8

struct kc_json {
	FILE *out;
	int depth;
	bool need_comma[KC_JSON_DEPTH];
	bool after_key;
};

void kc_json_init(struct kc_json *j, FILE *out);
void kc_json_begin_object(struct kc_json *j);
void kc_json_end_object(struct kc_json *j);
void kc_json_begin_array(struct kc_json *j);
void kc_json_end_array(struct kc_json *j);
/* A member's name; the next value written is its value. */
void kc_json_key(struct kc_json *j, const char *key);
void kc_json_string(struct kc_json *j, const char *s);
/* Text of n bytes (NULs included). */
void kc_json_string_len(struct kc_json *j, const void *p, size_t n);
/* Bytes, one code point per byte (see above). */
void kc_json_bytes(struct kc_json *j, const void *p, size_t n);
/* A member's name written as kc_json_bytes or kc_json_string_len. */
void kc_json_key_len(struct kc_json *j, const void *p, size_t n, bool bytes);
void kc_json_i64(struct kc_json *j, int64_t v);
/* A number already formatted as JSON (e.g. "%.17g" of a finite double). */
void kc_json_raw(struct kc_json *j, const char *number);
void kc_json_u64(struct kc_json *j, uint64_t v);
void kc_json_bool(struct kc_json *j, bool v);
void kc_json_null(struct kc_json *j);

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes there
 * are not one (RFC 3629: no overlongs, surrogates, or code points above
 * U+10FFFF).  s is NUL-terminated; the NUL itself is never part of one. */
int kc_utf8_len(const unsigned char *s);
/* The same for s[0..n) (n >= 1), which need not be NUL-terminated. */
int kc_utf8_len_n(const unsigned char *s, size_t n);
/* Whether p[0..n) is entirely valid UTF-8. */
bool kc_utf8_valid(const void *p, size_t n);

#endif
