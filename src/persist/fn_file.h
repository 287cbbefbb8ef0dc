/*
 * fn_file.h - the function libraries' file (functions.kevy) and the
 * FUNCTION DUMP payload it holds: one format, shared by the server
 * (server/script.c) and the tools (kevy-check, kevy-dump).
 *
 * Byte layouts: the top of fn_file.c and docs/format.md.
 */
#ifndef KV_FN_FILE_H
#define KV_FN_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define FN_FILE "functions.kevy"

/* ---- the DUMP payload (Redis's format) ---- */

/* Append one library's code, then (once, after the last) the footer. */
void fn_payload_put(struct kv_buf *b, const char *code, size_t len);
void fn_payload_end(struct kv_buf *b);

/* One library of a payload: its code, a NUL-terminated copy. */
struct fn_code {
	char *code;
	size_t len;
};

/* Parse a payload: 0 with *items (n of them; free with fn_codes_free), or
 * -1 with Redis's error reply text in err (nothing allocated). */
int fn_payload_parse(const uint8_t *p, size_t len, struct fn_code **items, size_t *n, char *err,
		     size_t cap);
void fn_codes_free(struct fn_code *items, size_t n);

/* The name a library's code declares on its first line ("#!lua name=X");
 * false when it declares none. */
bool fn_code_name(const char *code, size_t len, const char **name, size_t *name_len);

/* ---- the file ---- */

/* The file's bytes for a payload (appended to out). */
void fn_file_encode(const void *payload, size_t len, struct kv_buf *out);
/* Read and check path: 0 with the payload in *payload, -ENOENT when there
 * is no file (no library), KV_ECORRUPT or -errno with a line in msg. */
int fn_file_read(const char *path, struct kv_buf *payload, char *msg, size_t cap);

#endif
