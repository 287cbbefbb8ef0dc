/*
 * resp.h - RESP: the incremental request parser (RESP2 requests, which RESP3
 * clients send too) and the reply writers (RESP2 and RESP3, by buffer).
 *
 * The parser reads one command at a time from the unconsumed front of a
 * connection's input buffer.  It accepts multibulk requests ("*N\r\n$L\r\n...")
 * and inline requests (a line of space-separated words, with Redis's quoting
 * rules), enforces the configured limits, and on a protocol error returns the
 * exact error text Redis sends for the same input.  It never asserts on input.
 *
 * The parser is resumable: when a request is incomplete it returns 0 and keeps
 * enough state that the next call (same buffer start, more bytes) does not
 * rescan the bulk payloads it already measured.  After a complete request the
 * state resets, so calling again on the same bytes parses the same request
 * again (the runtime relies on that to postpone a command without copying it).
 */
#ifndef KV_RESP_H
#define KV_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct resp_limits {
	int64_t max_bulk_len;        /* proto-max-bulk-len, default 512 MiB */
	int64_t max_multibulk_len;   /* most arguments in one request: INT_MAX in Redis */
	size_t max_inline_len;       /* longest inline request / header line: 64 KiB */
};

void resp_limits_default(struct resp_limits *lim);

struct resp_parser {
	/* Private to resp.c.  Offsets count from the start of the request, i.e.
	 * the buf passed to resp_parse, which may move between calls. */
	int state;                   /* what the next byte belongs to (RESP_ST_*) */
	int argc;                    /* arguments found so far */
	int argv_cap;                /* capacity of arg_off, arg_len and argv */
	int authenticated;           /* 0: the unauthenticated limits apply (see below) */
	int64_t multibulk_left;      /* arguments still to read */
	int64_t bulk_len;            /* length of the bulk being read, -1 if none */
	size_t pos;                  /* bytes of the current request already parsed */
	size_t scan;                 /* where the search for the current line's end resumes */
	size_t *arg_off;             /* offsets of arguments (buf or inline_store) */
	size_t *arg_len;
	struct kv_buf inline_store;  /* unescaped inline arguments */
	struct kv_slice *argv;       /* filled on completion */
	const struct resp_limits *lim;
	char errbuf[64];             /* formatted error text ("expected '$', got ...") */
};

/* lim must outlive the parser.  It is read on every header, so changing its
 * fields (CONFIG SET proto-max-bulk-len) applies from the next header on. */
void resp_parser_init(struct resp_parser *p, const struct resp_limits *lim);
void resp_parser_free(struct resp_parser *p);
/* Read limits from lim from now on (a connection that moved to another
 * shard reads that shard's copy). */
void resp_parser_set_limits(struct resp_parser *p, const struct resp_limits *lim);
/* Tell the parser whether the client is authenticated.  Like Redis 7, an
 * unauthenticated client (requirepass set, no AUTH yet) may send at most 10
 * arguments and bulks of at most 16384 bytes ("Protocol error:
 * unauthenticated multibulk length" / "... bulk length").  Default: 1. */
void resp_parser_set_authenticated(struct resp_parser *p, int authenticated);

enum {
	RESP_NEED_MORE = 0,
	RESP_ERROR = -1,
};

/*
 * Parse one request from buf[0..len).
 * Returns:
 *   > 0  bytes consumed by one complete request; *argc and *argv describe it.
 *        argv points into buf (multibulk) or parser storage (inline) and stays
 *        valid until the next call (and, for multibulk, while buf is).
 *        *argc may be 0 (a blank inline line, or a multibulk count <= 0 such
 *        as "*0" or "*-1"): Redis ignores such requests without a reply.
 *   0    (RESP_NEED_MORE) incomplete; call again once more bytes arrived,
 *        with the same request start and len no smaller than this time.
 *   < 0  (RESP_ERROR) protocol error; *errmsg is Redis's message for it
 *        without '-' and CRLF, e.g. "ERR Protocol error: invalid bulk length".
 *        The connection is answered with it and closed.  The message is a
 *        string literal or lives in the parser until the next call.
 * After a complete request or an error the parser starts afresh, so the
 * same bytes parse to the same result again.
 */
int64_t resp_parse(struct resp_parser *p, const char *buf, size_t len,
		   int *argc, struct kv_slice **argv, const char **errmsg);

/*
 * Redis's sdssplitargs one word at a time, as inline requests are split:
 * skips whitespace from s[*i], then appends the next word to out with its
 * quotes and escapes resolved.  Returns 1 with *i just past the word, 0 when
 * only whitespace is left, -1 on unbalanced quotes (sdssplitargs's NULL).
 * For other texts Redis splits the same way (a function library's
 * shebang line).
 */
int resp_split_word(struct kv_buf *out, const char *s, size_t n, size_t *i);

/* ---- reply writers: append one value to b ----
 *
 * Every writer speaks the protocol of its buffer, b->proto (base/buf.h):
 * RESP2 unless it is 3.  A handler writes the type Redis 7.0 replies with
 * (resp_map, resp_set, resp_double, ...) and gets RESP2's rendering of it
 * on a RESP2 connection (a flat array, a bulk) and the typed frame on a
 * RESP3 one, so no handler tests the protocol except where Redis's reply
 * changes shape (pairs nested as arrays in RESP3: resp_pair).  The
 * runtime sets b->proto from the connection for the length of a command. */
#define RESP_PROTO_2 2
#define RESP_PROTO_3 3
static inline bool resp_is3(const struct kv_buf *b) { return b->proto >= RESP_PROTO_3; }
/* Set the protocol of b, returning the one it had (to put back). */
static inline unsigned char resp_set_proto(struct kv_buf *b, unsigned char proto)
{
	unsigned char old = b->proto;
	b->proto = proto;
	return old;
}

void resp_simple(struct kv_buf *b, const char *s);                 /* +s */
void resp_ok(struct kv_buf *b);                                    /* +OK */
/* Error reply; msg starts with the code: "ERR syntax error", "WRONGTYPE ...".
 * CR/LF inside msg are replaced by spaces, as Redis does. */
void resp_error(struct kv_buf *b, const char *msg);
void resp_errorf(struct kv_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void resp_int(struct kv_buf *b, int64_t v);                        /* :v */
void resp_bulk(struct kv_buf *b, const void *p, size_t n);         /* $n p */
void resp_bulk_str(struct kv_buf *b, const char *s);
void resp_bulk_int(struct kv_buf *b, int64_t v);                   /* integer as bulk */
void resp_null(struct kv_buf *b);                                  /* $-1 | _ */
void resp_null_array(struct kv_buf *b);                            /* *-1 | _ */
void resp_array(struct kv_buf *b, int64_t n);                      /* *n header */
/* A map of n pairs: "*<2n>" in RESP2, "%n" in RESP3; then 2n values. */
void resp_map(struct kv_buf *b, int64_t n);
/* A set of n members: "*n" in RESP2, "~n" in RESP3. */
void resp_set(struct kv_buf *b, int64_t n);
/* A push frame of n values (pub/sub messages): "*n" | ">n". */
void resp_push(struct kv_buf *b, int64_t n);
/* An attribute map of n pairs, RESP3 only ("|n"): RESP2 has no such type,
 * so the caller writes none there (asserts b is RESP3). */
void resp_attribute(struct kv_buf *b, int64_t n);
/* One of the n elements of a WITHSCORES / WITHVALUES reply: in RESP3 Redis
 * nests each pair as a 2-element array, in RESP2 it is flat.  Call before
 * the pair's two values. */
void resp_pair(struct kv_buf *b);
/* Redis's addReplyDouble: "%.17g" (inf, -inf) as a bulk | ",d". */
void resp_double(struct kv_buf *b, double v);
/* A double already formatted (GEOPOS's human long doubles, scores printed
 * by the store): a bulk | ",text". */
void resp_double_text(struct kv_buf *b, const char *s, size_t n);
void resp_bool(struct kv_buf *b, bool v);                          /* :0/:1 | #f/#t */
/* A big number given as decimal digits: a bulk | "(digits". */
void resp_bignum(struct kv_buf *b, const char *s, size_t n);
/* A verbatim string of format fmt (3 letters, "txt"): a bulk | "=n+4 fmt:s". */
void resp_verbatim(struct kv_buf *b, const char *fmt, const void *s, size_t n);
/* Writes "*" header whose count is filled in later by resp_array_end: for
 * replies whose length is known only after producing the elements. */
size_t resp_array_begin(struct kv_buf *b);
void resp_array_end(struct kv_buf *b, size_t mark, int64_t n);
/* The same for a map (n pairs) and a set (n members): the hole is
 * resp_array_begin's, the header written is resp_map's / resp_set's. */
void resp_map_end(struct kv_buf *b, size_t mark, int64_t n);
void resp_set_end(struct kv_buf *b, size_t mark, int64_t n);

/* Redis's common error texts, byte for byte. */
#define RESP_ERR_SYNTAX "ERR syntax error"
#define RESP_ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define RESP_ERR_NOT_INT "ERR value is not an integer or out of range"
#define RESP_ERR_NOT_FLOAT "ERR value is not a valid float"
#define RESP_ERR_OVERFLOW "ERR increment or decrement would overflow"
#define RESP_ERR_NO_KEY "ERR no such key"
#define RESP_ERR_NOAUTH "NOAUTH Authentication required."

#endif
