/*
 * t_list.h - the list value type: a doubly linked list of packed nodes.
 *
 * A list is a chain of nodes; each node is one allocation holding a header
 * and a byte array of encoded elements, up to LIST_NODE_MAX_BYTES (an element
 * larger than that sits alone in its node).  Small canonical integers are
 * stored in 1 to 9 bytes, strings with a 1, 2 or 5 byte length header; every
 * element ends with its own length written backwards so a node can be walked
 * in both directions.  Push and pop at either end are O(1) (plus a memmove
 * inside one node); an index is found from the nearer end, skipping whole
 * nodes by their element count.
 *
 * Not here: command semantics, replies, the keyspace.  The list keeps a byte
 * count of everything it allocates (list_mem) so the store can account it;
 * the caller reports changes with db_memory_adjust (cmd_list.c does it
 * around every mutation).
 *
 * A list is never shared between threads.  Element views (struct list_elem)
 * point into the list and are valid until the list is next modified.
 */
#ifndef KV_T_LIST_H
#define KV_T_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest data area of a node that holds more than one element: nodes are
 * 8 KiB allocations, Redis's default list-max-listpack-size -2. */
#define LIST_NODE_MAX_BYTES 8160u

enum list_where { LIST_HEAD = 0, LIST_TAIL = 1 };

struct list;
struct list_node;

/* One element as seen through the list: ptr/len are the element's bytes.
 * For an element stored as an integer, ptr points at ibuf. */
struct list_elem {
	const char *ptr;
	size_t len;
	char ibuf[24];
};

/* Walks elements from a start index towards the tail (forward) or head.
 * Between list_iter_next calls the list may be changed only through
 * list_iter_delete; any other change invalidates the iterator. */
struct list_iter {
	struct list *l;
	struct list_node *node;     /* node of the next element, NULL at the end */
	uint32_t off;               /* forward: start of the next element;
				     * backward: end of the next element */
	bool forward;
	struct list_node *cur_node; /* element last returned (for delete) */
	uint32_t cur_off;
};

/* An empty list; free with list_free. */
struct list *list_new(void);
/* Frees the list and its nodes (void * so it can be the store's free function). */
void list_free(void *obj);
/* Heap bytes the list holds (header and nodes, as malloc_usable_size plus the
 * allocator's chunk header).  O(1). */
size_t list_mem(const void *obj);
uint64_t list_len(const struct list *l);
/* OBJECT ENCODING name.  Redis 7.0 always says "quicklist" for lists. */
const char *list_encoding(const struct list *l);

void list_push(struct list *l, enum list_where where, const void *p, size_t n);
/* Removes the element at `where` (the list must not be empty), appending its
 * bytes to *dst (a struct kv_buf) when dst is not NULL. */
struct kv_buf;
void list_pop(struct list *l, enum list_where where, struct kv_buf *dst);

/* Element at index (0 = head; negative counts from the tail, -1 = last).
 * Returns false when out of range. */
bool list_index(struct list *l, int64_t index, struct list_elem *out);
/* Replaces the element at index (same convention).  False when out of range. */
bool list_set(struct list *l, int64_t index, const void *p, size_t n);
/* Removes `count` elements starting at index start (0 <= start, start +
 * count <= length). */
void list_delete_range(struct list *l, uint64_t start, uint64_t count);

/* Iterator at index (0 <= index < length, or any index on an empty list,
 * which yields nothing). */
void list_iter_init(struct list_iter *it, struct list *l, uint64_t index, bool forward);
/* The next element, or false at the end. */
bool list_iter_next(struct list_iter *it, struct list_elem *out);
/* Deletes the element last returned by list_iter_next; the walk continues
 * with the element after it (in the walk's direction). */
void list_iter_delete(struct list_iter *it);
/* Inserts an element right before (after = false) or after the element last
 * returned by list_iter_next.  Ends the walk: the iterator is invalid after. */
void list_iter_insert(struct list_iter *it, bool after, const void *p, size_t n);

/* Merges neighbouring nodes whose data fits in one node; called after bulk
 * deletions in the middle (LREM) so sparse nodes do not pile up. */
void list_compact(struct list *l);

/* Calls fn on every element from head to tail until fn returns non-zero;
 * returns that value, or 0.  fn must not modify the list. */
typedef int (*list_elem_fn)(void *arg, const char *p, size_t len);
int list_foreach(const void *obj, list_elem_fn fn, void *arg);

/* Checks every structural invariant (links, counts, byte sizes, encodings,
 * memory count); returns 0 or a negative line-specific code.  For tests. */
int list_verify(const struct list *l);
/* Number of nodes, for tests and diagnostics. */
size_t list_node_count(const struct list *l);
/* Bytes of element data in all nodes (DEBUG OBJECT's ql_uncompressed_size). */
size_t list_data_bytes(const struct list *l);

/* ---- command-level helpers (cmd_list.c), shared with the blocking
 * variants the runtime will add (BLPOP, BLMOVE, BLMPOP) ---- */

struct kv_db;
struct kv_slice;

/* The reply shapes of the pop family. */
enum list_pop_style {
	LIST_POP_BULK,       /* LPOP key:          $elem */
	LIST_POP_ARRAY,      /* LPOP key count:    *n $elem... */
	LIST_POP_KEY_BULK,   /* BLPOP:             *2 $key $elem */
	LIST_POP_KEY_ARRAY,  /* LMPOP/BLMPOP:      *2 $key *n $elem... */
};

/* The list stored at key in db, or NULL if the key is absent, expired
 * (now_ms > 0) or not a list; *wrongtype tells the last case apart. */
struct list *list_lookup(struct kv_db *db, const char *key, size_t klen, int64_t now_ms,
			 bool *wrongtype);
/* Pops up to `count` elements (1 for the BULK styles) from `where` of the
 * non-empty list at key, appends the reply in `style` to out, accounts the
 * memory change and deletes the key when the list empties.  Returns the
 * number of elements popped. */
uint64_t list_pop_reply(struct kv_db *db, const char *key, size_t klen, enum list_where where,
			uint64_t count, enum list_pop_style style, struct kv_buf *out);
/* LMOVE's effect: moves one element from `from` of the non-empty list at
 * src (in sdb) to `to` of the list at dst (in ddb; created if absent, which
 * the caller has checked is absent or a list), replies with the element as
 * a bulk and deletes src if it empties.  src and dst may be the same key. */
void list_move_reply(struct kv_db *sdb, const char *src, size_t slen, struct kv_db *ddb,
		     const char *dst, size_t dlen, enum list_where from, enum list_where to,
		     int64_t now_ms, struct kv_buf *out);

/* list_move_reply plus its effect (fx.h): LMOVE src dst FROM TO when both
 * keys live in one keyspace (sdb == ddb), else the pop on src's shard and the
 * push of the moved element on dst's, so a move out of a big list never logs
 * the whole list.  c is the handler's context (the effect replaces the
 * command's default), or NULL outside a handler (a blocked client served by
 * another command's write). */
struct cmd_ctx;
void list_move_logged(struct cmd_ctx *c, struct kv_db *sdb, const struct kv_slice *src,
		      struct kv_db *ddb, const struct kv_slice *dst, enum list_where from,
		      enum list_where to, int64_t now_ms, struct kv_buf *out);

#endif
