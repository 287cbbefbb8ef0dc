/*
 * snap_raw.c - a test helper: a snapshot's blocks as raw bytes and back.
 *
 * Tests that need a snapshot whose records break a rule *behind valid
 * checksums* (what the loader must refuse, not the block checksum) edit the
 * decompressed records and seal them again with the format's own low-level
 * writers (snap_block_append_raw, snap_footer_append_raw, snap_chain_next),
 * so the blocks, the footer and its chain verify exactly as the server's
 * writer would have made them.  It judges nothing: the server and kevy-check
 * do that.
 *
 *   snap_raw unpack IN.snap OUT.raw
 *       every block's decompressed bytes, in block order, each as a u32 LE
 *       length and that many bytes (IN must verify block by block)
 *   snap_raw seal TEMPLATE.snap IN.raw OUT.snap
 *       TEMPLATE's header (so the file is for the same dataset, shard,
 *       generation and cut), one block per chunk of IN.raw, and a footer
 *       with TEMPLATE's key count and the new block count and chain
 *
 * Exit: 0 done, 1 a file that is not as expected, 2 usage or I/O error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "base/kv.h"
#include "base/le.h"
#include "persist/file_header.h"
#include "persist/snap_format.h"

static int slurp(const char *path, struct kv_buf *b)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		kv_buf_append(b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "%s: read error\n", path);
		return -1;
	}
	return 0;
}

static int spill(const char *path, const struct kv_buf *b)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* The template's header: its length and checksum (the blocks' seed). */
static int header_of(const struct kv_buf *b, struct file_header *h)
{
	char msg[200];
	if (snap_header_decode(b->data, b->len, NULL, h, NULL, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "not a snapshot header: %s\n", msg);
		return -1;
	}
	return 0;
}

static int unpack(const char *in, const char *out)
{
	struct kv_buf f = KV_BUF_INIT, raw = KV_BUF_INIT;
	struct file_header h;
	int rc = 2;
	if (slurp(in, &f) < 0)
		goto done;
	rc = 1;
	if (header_of(&f, &h) < 0)
		goto done;
	const uint8_t *p = (const uint8_t *)f.data;
	size_t at = SNAP_HEADER_SIZE;
	for (;;) {
		if (f.len - at < SNAP_BLOCK_HEADER_SIZE) {
			fprintf(stderr, "%s: ends at %zu without a footer\n", in, at);
			goto done;
		}
		if (p[at + 8] == SNAP_FRAME_FOOTER)
			break;
		uint32_t raw_len = le_get32(p + at + 16), comp_len = le_get32(p + at + 20);
		if (f.len - at - SNAP_BLOCK_HEADER_SIZE < comp_len) {
			fprintf(stderr, "%s: block at %zu ends past the file\n", in, at);
			goto done;
		}
		uint8_t len4[4];
		le_put32(len4, raw_len);
		kv_buf_append(&raw, len4, 4);
		void *dst = kv_buf_reserve(&raw, raw_len);
		size_t got = ZSTD_decompress(dst, raw_len, p + at + SNAP_BLOCK_HEADER_SIZE, comp_len);
		if (ZSTD_isError(got) || got != raw_len) {
			fprintf(stderr, "%s: block at %zu does not decompress to %u bytes\n", in, at,
				raw_len);
			goto done;
		}
		raw.len += raw_len;
		at += SNAP_BLOCK_HEADER_SIZE + comp_len;
	}
	rc = spill(out, &raw) < 0 ? 2 : 0;
done:
	kv_buf_free(&f);
	kv_buf_free(&raw);
	return rc;
}

static int seal(const char *tmpl, const char *in, const char *out)
{
	struct kv_buf t = KV_BUF_INIT, raw = KV_BUF_INIT, o = KV_BUF_INIT;
	struct file_header h;
	void *comp = NULL;
	int rc = 2;
	if (slurp(tmpl, &t) < 0 || slurp(in, &raw) < 0)
		goto done;
	rc = 1;
	if (header_of(&t, &h) < 0 || t.len < SNAP_HEADER_SIZE + SNAP_FOOTER_SIZE)
		goto done;
	uint64_t entries = le_get64((const uint8_t *)t.data + t.len - SNAP_FOOTER_SIZE + 16);
	kv_buf_append(&o, t.data, SNAP_HEADER_SIZE);
	uint64_t chain = h.checksum;
	uint32_t blocks = 0;
	const uint8_t *p = (const uint8_t *)raw.data;
	for (size_t at = 0; at < raw.len; blocks++) {
		if (raw.len - at < 4 || raw.len - at - 4 < le_get32(p + at)) {
			fprintf(stderr, "%s: chunk at %zu runs past the file\n", in, at);
			goto done;
		}
		uint32_t n = le_get32(p + at);
		size_t cap = ZSTD_compressBound(n);
		comp = realloc(comp, cap ? cap : 1);
		ZSTD_CCtx *c = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		size_t clen = ZSTD_compress2(c, comp, cap, p + at + 4, n);
		ZSTD_freeCCtx(c);
		if (ZSTD_isError(clen)) {
			fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(clen));
			goto done;
		}
		size_t bat = o.len;
		snap_block_append_raw(&o, h.checksum, blocks, n, comp, clen);
		chain = snap_chain_next(chain, le_get64((const uint8_t *)o.data + bat + 24));
		at += 4 + (size_t)n;
	}
	snap_footer_append_raw(&o, h.checksum, entries, blocks, chain);
	rc = spill(out, &o) < 0 ? 2 : 0;
done:
	free(comp);
	kv_buf_free(&t);
	kv_buf_free(&raw);
	kv_buf_free(&o);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "unpack") == 0)
		return unpack(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "seal") == 0)
		return seal(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: snap_raw unpack IN.snap OUT.raw\n"
			"       snap_raw seal TEMPLATE.snap IN.raw OUT.snap\n");
	return 2;
}
