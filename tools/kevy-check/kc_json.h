/*
 * kc_json.h - a minimal streaming JSON writer for kevy-check's --json: one
 * document to a FILE, commas placed by the writer, strings binary-safe.
 *
 * Not a general library: no parsing, no pretty-printing, nesting up to
 * KC_JSON_DEPTH.  Strings are C strings of arbitrary bytes: valid UTF-8 is
 * copied, quotes, backslashes and control bytes are escaped, and every byte
 * that is not part of valid UTF-8 is written as \u00XX (so a file name that
 * is not UTF-8 still yields a document every parser accepts).
 */
#ifndef KC_JSON_H
#define KC_JSON_H

#include <stdbool.h>
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
void kc_json_u64(struct kc_json *j, uint64_t v);
void kc_json_bool(struct kc_json *j, bool v);
void kc_json_null(struct kc_json *j);

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes there
 * are not one (RFC 3629: no overlongs, surrogates, or code points above
 * U+10FFFF).  s is NUL-terminated; the NUL itself is never part of one. */
int kc_utf8_len(const unsigned char *s);

#endif
