/*
 * fn_file.c - functions.kevy and the FUNCTION DUMP payload (see fn_file.h).
 *
 * THE FILE, replaced whole on every change (temporary file, fsync, rename,
 * directory fsync; server/script.c writes it):
 *
 *   offset 0   8 bytes  "KVFUNC01" (magic and format version 1)
 *   offset 8   8 bytes  payload length, little-endian
 *   offset 16  8 bytes  XXH3-64 (seed 0) of the payload, little-endian
 *   offset 24  payload  FUNCTION DUMP's payload, below
 *
 * The file is exactly 24 + length bytes.  A short file, a bad magic or a
 * checksum mismatch is corruption: the server refuses to start, naming it.
 *
 * THE PAYLOAD (Redis 7.0's FUNCTION DUMP, byte for byte): per library the
 * byte 245 (RDB_OPCODE_FUNCTION2) and its code as an RDB string (a length
 * in RDB's encoding, then the bytes; an LZF-compressed string is accepted
 * when reading), then the RDB version (2 bytes LE, 10) and a CRC-64 (Jones,
 * as RDB's, 8 bytes LE) of every byte before it.
 */
#include "persist/fn_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "base/le.h"
#include "persist/kvio.h"
#include "store/rdb_prim.h"

#define FN_MAGIC "KVFUNC01"
#define FN_HEADER 24
#define FN_RDB_OPCODE 245
#define FN_RDB_VERSION 10
#define FN_FILE_MAX ((uint64_t)1 << 32)

static void rdb_put_len(struct kv_buf *b, uint64_t n)
{
	uint8_t t[9];
	if (n < 64) {
		t[0] = (uint8_t)n;
		kv_buf_append(b, t, 1);
	} else if (n < 16384) {
		t[0] = (uint8_t)(0x40 | (n >> 8));
		t[1] = (uint8_t)n;
		kv_buf_append(b, t, 2);
	} else if (n <= UINT32_MAX) {
		t[0] = 0x80;
		for (int i = 0; i < 4; i++)
			t[1 + i] = (uint8_t)(n >> (24 - 8 * i));
		kv_buf_append(b, t, 5);
	} else {
		t[0] = 0x81;
		for (int i = 0; i < 8; i++)
			t[1 + i] = (uint8_t)(n >> (56 - 8 * i));
		kv_buf_append(b, t, 9);
	}
}

/* An RDB length at *p; -1 on truncation; *enc set for a special encoding. */
static int rdb_get_len(const uint8_t **p, const uint8_t *end, uint64_t *n, bool *enc)
{
	if (*p >= end)
		return -1;
	uint8_t t = *(*p)++;
	*enc = false;
	switch (t >> 6) {
	case 0:
		*n = t & 0x3f;
		return 0;
	case 1:
		if (*p >= end)
			return -1;
		*n = ((uint64_t)(t & 0x3f) << 8) | *(*p)++;
		return 0;
	case 2: {
		int w = t == 0x80 ? 4 : t == 0x81 ? 8 : 0;
		if (!w || end - *p < w)
			return -1;
		uint64_t v = 0;
		for (int i = 0; i < w; i++)
			v = v << 8 | *(*p)++;
		*n = v;
		return 0;
	}
	default:
		*enc = true;
		*n = t & 0x3f;
		return 0;
	}
}

/* An RDB string (plain or LZF) into a new buffer; NULL when malformed. */
static char *rdb_get_string(const uint8_t **p, const uint8_t *end, size_t *len)
{
	uint64_t n;
	bool enc;
	if (rdb_get_len(p, end, &n, &enc) < 0)
		return NULL;
	if (!enc) {
		if ((uint64_t)(end - *p) < n)
			return NULL;
		char *s = kv_malloc(n + 1);
		memcpy(s, *p, n);
		s[n] = '\0';
		*p += n;
		*len = n;
		return s;
	}
	if (n != 3)   /* only LZF strings carry code; integers never do */
		return NULL;
	uint64_t clen, ulen;
	if (rdb_get_len(p, end, &clen, &enc) < 0 || enc || rdb_get_len(p, end, &ulen, &enc) < 0 ||
	    enc || (uint64_t)(end - *p) < clen || ulen > (1u << 30))
		return NULL;
	char *s = kv_malloc(ulen + 1);
	if (rdb_lzf_decompress(*p, clen, s, ulen) != (int)ulen) {
		free(s);
		return NULL;
	}
	s[ulen] = '\0';
	*p += clen;
	*len = ulen;
	return s;
}

void fn_payload_put(struct kv_buf *b, const char *code, size_t len)
{
	uint8_t op = FN_RDB_OPCODE;
	kv_buf_append(b, &op, 1);
	rdb_put_len(b, len);
	kv_buf_append(b, code, len);
}

void fn_payload_end(struct kv_buf *b)
{
	uint8_t ver[2] = { FN_RDB_VERSION & 0xff, FN_RDB_VERSION >> 8 };
	kv_buf_append(b, ver, 2);
	uint8_t cb[8];
	le_put64(cb, rdb_crc64(0, b->data, b->len));
	kv_buf_append(b, cb, 8);
}

void fn_codes_free(struct fn_code *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i].code);
	free(items);
}

int fn_payload_parse(const uint8_t *p, size_t len, struct fn_code **items_out, size_t *n_out,
		     char *err, size_t cap)
{
	*items_out = NULL;
	*n_out = 0;
	if (len < 10) {
		snprintf(err, cap, "ERR DUMP payload version or checksum are wrong");
		return -1;
	}
	const uint8_t *foot = p + len - 10;
	uint16_t ver = (uint16_t)(foot[0] | foot[1] << 8);
	if (ver > FN_RDB_VERSION || rdb_crc64(0, p, len - 8) != le_get64(foot + 2)) {
		snprintf(err, cap, "ERR DUMP payload version or checksum are wrong");
		return -1;
	}
	struct fn_code *items = NULL;
	size_t n = 0, ncap = 0;
	while (p < foot) {
		if (*p++ != FN_RDB_OPCODE) {
			snprintf(err, cap, "ERR given type is not a function");
			fn_codes_free(items, n);
			return -1;
		}
		size_t l;
		char *code = rdb_get_string(&p, foot, &l);
		if (!code) {
			snprintf(err, cap, "ERR can not read data type");
			fn_codes_free(items, n);
			return -1;
		}
		if (n == ncap) {
			ncap = ncap ? ncap * 2 : 4;
			items = kv_realloc(items, ncap * sizeof(*items));
		}
		items[n].code = code;
		items[n++].len = l;
	}
	*items_out = items;
	*n_out = n;
	return 0;
}

bool fn_code_name(const char *code, size_t len, const char **name, size_t *name_len)
{
	const char *end = memchr(code, '\n', len);
	if (!end)
		end = code + len;
	if (end - code < 5 || memcmp(code, "#!lua", 5) != 0)
		return false;
	for (const char *p = code + 5; p < end;) {
		while (p < end && *p == ' ')
			p++;
		const char *w = p;
		while (p < end && *p != ' ')
			p++;
		if (p - w > 5 && memcmp(w, "name=", 5) == 0) {
			*name = w + 5;
			*name_len = (size_t)(p - w - 5);
			return true;
		}
	}
	return false;
}

void fn_file_encode(const void *payload, size_t len, struct kv_buf *out)
{
	uint8_t head[FN_HEADER];
	memcpy(head, FN_MAGIC, 8);
	le_put64(head + 8, len);
	le_put64(head + 16, kv_hash64(payload, len, 0));
	kv_buf_append(out, head, sizeof(head));
	kv_buf_append(out, payload, len);
}

int fn_file_read(const char *path, struct kv_buf *payload, char *msg, size_t cap)
{
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc == -ENOENT)
		return rc;
	if (rc < 0) {
		snprintf(msg, cap, "%s: %s", path, kv_strerror(rc));
		return rc;
	}
	uint8_t head[FN_HEADER];
	ssize_t n = kvio_pread(&f, head, sizeof(head), 0);
	if (n != (ssize_t)sizeof(head) || memcmp(head, FN_MAGIC, 8) != 0) {
		kvio_close(&f);
		snprintf(msg, cap, "%s: not a kevy function libraries file (bad header)", path);
		return n < 0 ? (int)n : KV_ECORRUPT;
	}
	uint64_t len = le_get64(head + 8);
	if (len > FN_FILE_MAX) {
		kvio_close(&f);
		snprintf(msg, cap, "%s: payload length %llu is implausible", path,
			 (unsigned long long)len);
		return KV_ECORRUPT;
	}
	payload->len = 0;
	char *p = kv_buf_reserve(payload, len + 1);
	n = kvio_pread(&f, p, len + 1, sizeof(head));
	kvio_close(&f);
	if (n < 0) {
		snprintf(msg, cap, "%s: %s", path, kv_strerror((int)n));
		return (int)n;
	}
	if ((uint64_t)n != len || kv_hash64(p, len, 0) != le_get64(head + 16)) {
		snprintf(msg, cap, "%s: payload %s", path,
			 (uint64_t)n < len ? "truncated" : (uint64_t)n > len ? "followed by extra bytes"
										: "checksum mismatch");
		return KV_ECORRUPT;
	}
	payload->len = len;
	return 0;
}
