/*
 * kc_json.c - kevy-check's JSON writer (see kc_json.h).
 */
#include "kc_json.h"

#include "kv.h"

void kc_json_init(struct kc_json *j, FILE *out)
{
	*j = (struct kc_json){ .out = out };
}

/* Before any value: the comma that separates it from its predecessor. */
static void kc_json_value_start(struct kc_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0 && j->need_comma[j->depth - 1])
		fputc(',', j->out);
	if (j->depth > 0)
		j->need_comma[j->depth - 1] = true;
}

static void kc_json_open(struct kc_json *j, char c)
{
	kc_json_value_start(j);
	kv_assert(j->depth < KC_JSON_DEPTH);
	j->need_comma[j->depth++] = false;
	fputc(c, j->out);
}

static void kc_json_close(struct kc_json *j, char c)
{
	kv_assert(j->depth > 0 && !j->after_key);
	j->depth--;
	fputc(c, j->out);
}

void kc_json_begin_object(struct kc_json *j) { kc_json_open(j, '{'); }
void kc_json_end_object(struct kc_json *j) { kc_json_close(j, '}'); }
void kc_json_begin_array(struct kc_json *j) { kc_json_open(j, '['); }
void kc_json_end_array(struct kc_json *j) { kc_json_close(j, ']'); }

int kc_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	int n;
	unsigned char lo = 0x80, hi = 0xbf;   /* bounds of the second byte */
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;            /* no overlongs */
		else if (c == 0xed)
			hi = 0x9f;            /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;            /* no overlongs */
		else if (c == 0xf4)
			hi = 0x8f;            /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void kc_json_string(struct kc_json *j, const char *str)
{
	kc_json_value_start(j);
	FILE *out = j->out;
	fputc('"', out);
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned char c = *s;
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			s++;
		} else if (c == '\n') {
			fputs("\\n", out);
			s++;
		} else if (c == '\t') {
			fputs("\\t", out);
			s++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			s++;
		} else {
			int n = kc_utf8_len(s);
			if (n == 0) {
				fprintf(out, "\\u%04x", c);   /* not UTF-8: the byte as U+00XX */
				s++;
			} else {
				fwrite(s, 1, (size_t)n, out);
				s += n;
			}
		}
	}
	fputc('"', out);
}

void kc_json_key(struct kc_json *j, const char *key)
{
	kc_json_string(j, key);
	fputc(':', j->out);
	j->after_key = true;
}

void kc_json_u64(struct kc_json *j, uint64_t v)
{
	kc_json_value_start(j);
	fprintf(j->out, "%llu", (unsigned long long)v);
}

void kc_json_bool(struct kc_json *j, bool v)
{
	kc_json_value_start(j);
	fputs(v ? "true" : "false", j->out);
}

void kc_json_null(struct kc_json *j)
{
	kc_json_value_start(j);
	fputs("null", j->out);
}
