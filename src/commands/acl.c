/*
 * acl.c - Redis 7.0's access control lists: rules, users, the check, ACL
 * LOG, the aclfile and the ACL command (see acl.h for the sharing scheme).
 *
 * A user's rules are flags (on/off, nopass), password hashes (SHA-256 hex,
 * as Redis stores them), and selectors: the root one (the rules written
 * outside parentheses) and any number of `(...)` ones.  A call is allowed
 * when one selector allows the command and every key and channel it names.
 * A selector's commands are a bitmap over the command table's dense ids
 * (cmd_stat_id: every command and subcommand), plus one bit past the end
 * that +@all sets and any removal clears: it tells ACL LIST whether to
 * describe the rules as "+@all minus ..." or "-@all plus ...", as Redis's
 * reserved bit does.
 *
 * What it is not: the per-connection state and where the check is called
 * (server/route.c before routing, server/script.c for redis.call).
 */
#include "commands/acl.h"
#include "commands/cmd_docs.h"

#include "base/glob.h"
#include "base/kv.h"
#include "base/log.h"
#include "base/sha256.h"
#include "commands/cmd.h"
#include "persist/kvio.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Categories */

enum {
	CAT_KEYSPACE, CAT_READ, CAT_WRITE, CAT_SET, CAT_SORTEDSET, CAT_LIST, CAT_HASH,
	CAT_STRING, CAT_BITMAP, CAT_HYPERLOGLOG, CAT_GEO, CAT_STREAM, CAT_PUBSUB, CAT_ADMIN,
	CAT_FAST, CAT_SLOW, CAT_BLOCKING, CAT_DANGEROUS, CAT_CONNECTION, CAT_TRANSACTION,
	CAT_SCRIPTING,
};
_Static_assert(CAT_SCRIPTING + 1 == ACL_CAT_COUNT, "category count");

static const char *const acl_cat_names[ACL_CAT_COUNT] = {
	"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
	"hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
	"dangerous", "connection", "transaction", "scripting",
};

const char *acl_category_name(int i)
{
	kv_assert(i >= 0 && i < ACL_CAT_COUNT);
	return acl_cat_names[i];
}

#define CAT(x) (1u << (x))

static const struct {
	const char *group;
	int cat;
} acl_group_cat[] = {
	{ "generic", CAT_KEYSPACE }, { "string", CAT_STRING }, { "list", CAT_LIST },
	{ "set", CAT_SET }, { "sorted-set", CAT_SORTEDSET }, { "hash", CAT_HASH },
	{ "bitmap", CAT_BITMAP }, { "hyperloglog", CAT_HYPERLOGLOG }, { "geo", CAT_GEO },
	{ "stream", CAT_STREAM }, { "pubsub", CAT_PUBSUB }, { "connection", CAT_CONNECTION },
	{ "transactions", CAT_TRANSACTION }, { "scripting", CAT_SCRIPTING },
};

/* Where Redis's categories are not what the group and flags say: commands
 * outside the "generic" group that touch the whole keyspace, SORT's data
 * types, @dangerous and @admin commands without the admin flag, read-only
 * scripts that are not @read, connection-level cluster commands, and a
 * pubsub subcommand that is not itself @pubsub.  With these, the derivation
 * gives Redis 7.0.15's categories for all of its 366 commands and
 * subcommands (checked from Redis's own flags and groups). */
static const struct {
	const char *name;
	uint32_t add, drop;
} acl_cat_fixups[] = {
	{ "dbsize", CAT(CAT_KEYSPACE), 0 },
	{ "flushdb", CAT(CAT_KEYSPACE) | CAT(CAT_DANGEROUS), 0 },
	{ "flushall", CAT(CAT_KEYSPACE) | CAT(CAT_DANGEROUS), 0 },
	{ "swapdb", CAT(CAT_KEYSPACE) | CAT(CAT_DANGEROUS), 0 },
	{ "restore-asking", CAT(CAT_KEYSPACE) | CAT(CAT_DANGEROUS), 0 },
	{ "sort", CAT(CAT_SET) | CAT(CAT_SORTEDSET) | CAT(CAT_LIST) | CAT(CAT_DANGEROUS),
	  CAT(CAT_KEYSPACE) },
	{ "sort_ro", CAT(CAT_SET) | CAT(CAT_SORTEDSET) | CAT(CAT_LIST) | CAT(CAT_DANGEROUS),
	  CAT(CAT_KEYSPACE) },
	{ "wait", CAT(CAT_CONNECTION), CAT(CAT_KEYSPACE) },
	{ "readonly", CAT(CAT_CONNECTION), 0 },
	{ "readwrite", CAT(CAT_CONNECTION), 0 },
	{ "asking", CAT(CAT_CONNECTION), 0 },
	{ "info", CAT(CAT_DANGEROUS), 0 },
	{ "keys", CAT(CAT_DANGEROUS), 0 },
	{ "migrate", CAT(CAT_DANGEROUS), 0 },
	{ "restore", CAT(CAT_DANGEROUS), 0 },
	{ "role", CAT(CAT_ADMIN) | CAT(CAT_DANGEROUS), 0 },
	{ "lastsave", CAT(CAT_ADMIN) | CAT(CAT_DANGEROUS), 0 },
	{ "eval_ro", 0, CAT(CAT_READ) },
	{ "evalsha_ro", 0, CAT(CAT_READ) },
	{ "fcall_ro", 0, CAT(CAT_READ) },
	{ "pfdebug", CAT(CAT_DANGEROUS), 0 },
	{ "pfselftest", CAT(CAT_DANGEROUS), 0 },
	{ "pubsub|help", 0, CAT(CAT_PUBSUB) },
	/* kevy's PUBSUB parses its subcommands itself: a container to Redis. */
	{ "pubsub", 0, CAT(CAT_PUBSUB) },
};

/* struct kv_command has no ACL field, so the categories are derived: the
 * group's category (not for containers, as in Redis), read/write, admin
 * (which Redis always pairs with dangerous), fast or slow, then the fixups
 * above and COMMAND's @connection. */
uint32_t acl_categories(const struct kv_command *cmd)
{
	uint32_t m = 0;
	for (size_t i = 0; cmd->group && !cmd->subcommands && i < KV_ARRAY_LEN(acl_group_cat); i++)
		if (strcmp(cmd->group, acl_group_cat[i].group) == 0)
			m |= CAT(acl_group_cat[i].cat);
	/* A container's flags describe its subcommands (kevy routes by them);
	 * Redis gives the container itself none of these categories. */
	uint32_t flags = cmd->subcommands ? cmd->flags & ~(uint32_t)(CMD_READONLY | CMD_WRITE |
								     CMD_PUBSUB)
					  : cmd->flags;
	if (flags & CMD_READONLY)
		m |= CAT(CAT_READ);
	if (flags & CMD_WRITE)
		m |= CAT(CAT_WRITE);
	if (flags & CMD_PUBSUB)
		m |= CAT(CAT_PUBSUB);
	if (cmd->flags & CMD_ADMIN)
		m |= CAT(CAT_ADMIN) | CAT(CAT_DANGEROUS);
	m |= CAT((cmd->flags & CMD_FAST) ? CAT_FAST : CAT_SLOW);
	if (cmd->flags & CMD_BLOCKING)
		m |= CAT(CAT_BLOCKING);
	for (size_t i = 0; i < KV_ARRAY_LEN(acl_cat_fixups); i++)
		if (strcmp(cmd->name, acl_cat_fixups[i].name) == 0)
			m = (m | acl_cat_fixups[i].add) & ~acl_cat_fixups[i].drop;
	if (strcmp(cmd->name, "command") == 0 || strncmp(cmd->name, "command|", 8) == 0)
		m |= CAT(CAT_CONNECTION);
	return m;
}

static int acl_cat_lookup(const char *name, size_t len)
{
	for (int i = 0; i < ACL_CAT_COUNT; i++)
		if (strlen(acl_cat_names[i]) == len && strncasecmp(acl_cat_names[i], name, len) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Rules: selectors and perms */

#define SEL_ALLKEYS (1u << 0)
#define SEL_ALLCHANNELS (1u << 1)
#define SEL_ALLCOMMANDS (1u << 2)

#define USER_ON (1u << 0)
#define USER_NOPASS (1u << 1)
#define USER_SANITIZE (1u << 2)
#define USER_SKIP_SANITIZE (1u << 3)

#define KEY_R 1u
#define KEY_W 2u

#define ACL_HASH_LEN 64

struct acl_pat {
	char *s;
	size_t len;
	uint32_t flags;  /* keys: KEY_R | KEY_W */
	/* The check's shortcut for the common patterns: PAT_PREFIX ("key:*":
	 * the text before the one trailing star, len - 1 bytes) and PAT_EXACT
	 * (no glob character at all); PAT_GLOB runs glob_match. */
	uint8_t kind;
};

enum { PAT_GLOB, PAT_PREFIX, PAT_EXACT };

static uint8_t pat_kind(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '*' && i == len - 1)
			return PAT_PREFIX;
		if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '\\')
			return PAT_GLOB;
	}
	return PAT_EXACT;
}

/* Whether text matches pattern p, as glob_match decides. */
static bool pat_match(const struct acl_pat *p, const char *text, size_t len)
{
	switch (p->kind) {
	case PAT_PREFIX:
		return len >= p->len - 1 && memcmp(text, p->s, p->len - 1) == 0;
	case PAT_EXACT:
		return len == p->len && memcmp(text, p->s, len) == 0;
	default:
		return glob_match(p->s, p->len, text, len, false);
	}
}

/* "+select|0": a first argument allowed for a command otherwise denied
 * (Redis accepts it for commands without subcommands, with a deprecation
 * warning). */
struct acl_firstarg {
	uint32_t id;
	struct acl_pat *args;
	uint32_t n;
};

struct acl_selector {
	uint32_t flags;
	uint64_t *bits;           /* acl_nbits bits; the last is "future commands" */
	struct acl_firstarg *fa;
	uint32_t nfa;
	struct acl_pat *keys;
	uint32_t nkeys;
	struct acl_pat *chans;
	uint32_t nchans;
};

/* A user's rules, immutable once published (acl.h). */
struct acl_perm {
	uint32_t flags;
	char (*pass)[ACL_HASH_LEN + 1];
	uint32_t npass;
	struct acl_selector *sel;  /* sel[0] is the root selector */
	uint32_t nsel;
};

struct acl_user {
	char *name;
	size_t nlen;
	_Atomic(struct acl_perm *) perm;   /* NULL once deleted */
	_Atomic uint32_t refs;             /* the table's and the connections' */
	_Atomic bool deleted;
};

static uint32_t acl_nbits;   /* commands and subcommands, plus the future bit */
static size_t acl_nwords;

static bool bit_get(const uint64_t *b, uint32_t i)
{
	return (b[i / 64] >> (i % 64)) & 1;
}

static void bit_set(uint64_t *b, uint32_t i, bool v)
{
	if (v)
		b[i / 64] |= 1ull << (i % 64);
	else
		b[i / 64] &= ~(1ull << (i % 64));
}

static void pat_free(struct acl_pat *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(p[i].s);
	free(p);
}

static void fa_reset_all(struct acl_selector *s)
{
	for (uint32_t i = 0; i < s->nfa; i++)
		pat_free(s->fa[i].args, s->fa[i].n);
	free(s->fa);
	s->fa = NULL;
	s->nfa = 0;
}

static void fa_reset(struct acl_selector *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->nfa; i++) {
		if (s->fa[i].id == id) {
			pat_free(s->fa[i].args, s->fa[i].n);
			s->fa[i] = s->fa[--s->nfa];
			return;
		}
	}
}

static const struct acl_firstarg *fa_find(const struct acl_selector *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->nfa; i++)
		if (s->fa[i].id == id)
			return &s->fa[i];
	return NULL;
}

static void fa_add(struct acl_selector *s, uint32_t id, const char *arg, size_t len)
{
	struct acl_firstarg *f = (struct acl_firstarg *)fa_find(s, id);
	if (!f) {
		s->fa = kv_realloc(s->fa, (s->nfa + 1) * sizeof(*s->fa));
		f = &s->fa[s->nfa++];
		*f = (struct acl_firstarg){ id, NULL, 0 };
	}
	for (uint32_t i = 0; i < f->n; i++)
		if (f->args[i].len == len && strncasecmp(f->args[i].s, arg, len) == 0)
			return;
	f->args = kv_realloc(f->args, (f->n + 1) * sizeof(*f->args));
	f->args[f->n++] = (struct acl_pat){ kv_strndup(arg, len), len, 0 };
}

static void sel_free_inner(struct acl_selector *s)
{
	fa_reset_all(s);
	free(s->bits);
	pat_free(s->keys, s->nkeys);
	pat_free(s->chans, s->nchans);
}

static void sel_init(struct acl_selector *s)
{
	memset(s, 0, sizeof(*s));
	s->bits = kv_calloc(acl_nwords, sizeof(uint64_t));
}

static struct acl_pat *pat_dup(const struct acl_pat *p, uint32_t n)
{
	if (n == 0)
		return NULL;
	struct acl_pat *d = kv_malloc(n * sizeof(*d));
	for (uint32_t i = 0; i < n; i++) {
		d[i] = p[i];
		d[i].s = kv_strndup(p[i].s, p[i].len);
	}
	return d;
}

static void sel_copy(struct acl_selector *d, const struct acl_selector *s)
{
	d->flags = s->flags;
	d->bits = kv_malloc(acl_nwords * sizeof(uint64_t));
	memcpy(d->bits, s->bits, acl_nwords * sizeof(uint64_t));
	d->keys = pat_dup(s->keys, s->nkeys);
	d->nkeys = s->nkeys;
	d->chans = pat_dup(s->chans, s->nchans);
	d->nchans = s->nchans;
	d->fa = NULL;
	d->nfa = 0;
	if (s->nfa) {
		d->fa = kv_malloc(s->nfa * sizeof(*d->fa));
		for (uint32_t i = 0; i < s->nfa; i++)
			d->fa[i] = (struct acl_firstarg){ s->fa[i].id,
							  pat_dup(s->fa[i].args, s->fa[i].n),
							  s->fa[i].n };
		d->nfa = s->nfa;
	}
}

static void perm_free(struct acl_perm *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nsel; i++)
		sel_free_inner(&p->sel[i]);
	free(p->sel);
	free(p->pass);
	free(p);
}

/* A new user's rules: off, no password, no keys, channels or commands. */
static struct acl_perm *perm_new(void)
{
	struct acl_perm *p = kv_calloc(1, sizeof(*p));
	p->sel = kv_calloc(1, sizeof(*p->sel));
	p->nsel = 1;
	sel_init(&p->sel[0]);
	return p;
}

static struct acl_perm *perm_dup(const struct acl_perm *s)
{
	struct acl_perm *p = kv_calloc(1, sizeof(*p));
	p->flags = s->flags;
	p->npass = s->npass;
	if (s->npass) {
		p->pass = kv_malloc(s->npass * sizeof(*p->pass));
		memcpy(p->pass, s->pass, s->npass * sizeof(*p->pass));
	}
	p->nsel = s->nsel;
	p->sel = kv_calloc(s->nsel, sizeof(*p->sel));
	for (uint32_t i = 0; i < s->nsel; i++)
		sel_copy(&p->sel[i], &s->sel[i]);
	return p;
}

/* Allow or deny one command; a container's subcommands follow it, as in
 * Redis.  Denying anything clears ALLCOMMANDS (the fast path); the future
 * bit stays, as Redis's reserved bit does: only -@all clears it. */
static void sel_cmd(struct acl_selector *s, const struct kv_command *cmd, bool allow)
{
	uint32_t id = cmd_stat_id(cmd);
	kv_assert(id != UINT32_MAX);
	bit_set(s->bits, id, allow);
	fa_reset(s, id);
	for (const struct kv_command *sub = cmd->subcommands; sub && sub->name; sub++)
		bit_set(s->bits, cmd_stat_id(sub), allow);
	if (!allow)
		s->flags &= ~SEL_ALLCOMMANDS;
}

static void sel_category(struct acl_selector *s, int cat, bool allow)
{
	uint32_t n = cmd_stat_count();
	for (uint32_t id = 0; id < n; id++) {
		const struct kv_command *cmd = cmd_stat_at(id);
		if (acl_categories(cmd) & CAT(cat))
			sel_cmd(s, cmd, allow);
	}
}

static bool has_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (isspace((unsigned char)s[i]) || s[i] == 0)
			return true;
	return false;
}

static bool is_hash(const char *s, size_t len)
{
	if (len != ACL_HASH_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool op_is(const char *op, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(op, word, len) == 0;
}

/* The table lookup that ACL rules use: "name" or "container|sub". */
static const struct kv_command *acl_lookup_cmd(const char *name, size_t len)
{
	const char *bar = memchr(name, '|', len);
	if (!bar)
		return cmd_lookup(name, len);
	const struct kv_command *c = cmd_lookup(name, (size_t)(bar - name));
	if (!c || !c->subcommands)
		return NULL;
	struct kv_slice sub = { bar + 1, len - (size_t)(bar - name) - 1 };
	return cmd_find_sub(c->subcommands, &sub);
}

/* Errors of a rule, Redis's errno values turned into its messages. */
enum rule_err {
	RULE_OK, RULE_SYNTAX, RULE_UNKNOWN, RULE_KEY_AFTER_ALL, RULE_CHAN_AFTER_ALL,
	RULE_NO_PASS, RULE_BAD_HASH, RULE_FIRSTARG_SUB,
};

static const char *rule_err_text(enum rule_err e)
{
	switch (e) {
	case RULE_UNKNOWN: return "Unknown command or category name in ACL";
	case RULE_SYNTAX: return "Syntax error";
	case RULE_KEY_AFTER_ALL:
		return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid "
		       "and does not have any effect. Try 'resetkeys' to start with an empty list "
		       "of patterns";
	case RULE_CHAN_AFTER_ALL:
		return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not "
		       "valid and does not have any effect. Try 'resetchannels' to start with an "
		       "empty list of channels";
	case RULE_NO_PASS:
		return "The password you are trying to remove from the user does not exist";
	case RULE_BAD_HASH:
		return "The password hash must be exactly 64 characters and contain only lowercase "
		       "hexadecimal characters";
	case RULE_FIRSTARG_SUB: return "Allowing first-arg of a subcommand is not supported";
	case RULE_OK: break;
	}
	return "Wrong format";
}

static void pat_add(struct acl_pat **v, uint32_t *n, const char *s, size_t len, uint32_t flags)
{
	for (uint32_t i = 0; i < *n; i++) {
		if ((*v)[i].len == len && memcmp((*v)[i].s, s, len) == 0) {
			(*v)[i].flags |= flags;
			return;
		}
	}
	*v = kv_realloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = (struct acl_pat){ kv_strndup(s, len), len, flags, pat_kind(s, len) };
	(*n)++;
}

static enum rule_err sel_apply(struct acl_selector *s, const char *op, size_t len)
{
	if (op_is(op, len, "allkeys") || op_is(op, len, "~*")) {
		s->flags |= SEL_ALLKEYS;
		pat_free(s->keys, s->nkeys);
		s->keys = NULL;
		s->nkeys = 0;
	} else if (op_is(op, len, "resetkeys")) {
		s->flags &= ~SEL_ALLKEYS;
		pat_free(s->keys, s->nkeys);
		s->keys = NULL;
		s->nkeys = 0;
	} else if (op_is(op, len, "allchannels") || op_is(op, len, "&*")) {
		s->flags |= SEL_ALLCHANNELS;
		pat_free(s->chans, s->nchans);
		s->chans = NULL;
		s->nchans = 0;
	} else if (op_is(op, len, "resetchannels")) {
		s->flags &= ~SEL_ALLCHANNELS;
		pat_free(s->chans, s->nchans);
		s->chans = NULL;
		s->nchans = 0;
	} else if (op_is(op, len, "allcommands") || op_is(op, len, "+@all")) {
		memset(s->bits, 0xff, acl_nwords * sizeof(uint64_t));
		s->flags |= SEL_ALLCOMMANDS;
		fa_reset_all(s);
	} else if (op_is(op, len, "nocommands") || op_is(op, len, "-@all")) {
		memset(s->bits, 0, acl_nwords * sizeof(uint64_t));
		s->flags &= ~SEL_ALLCOMMANDS;
		fa_reset_all(s);
	} else if (len > 0 && (op[0] == '~' || op[0] == '%')) {
		if (s->flags & SEL_ALLKEYS)
			return RULE_KEY_AFTER_ALL;
		uint32_t flags = 0;
		size_t off = 1;
		if (op[0] == '%') {
			bool tilde = false;
			for (; off < len; off++) {
				char ch = (char)toupper((unsigned char)op[off]);
				if (ch == 'R' && !(flags & KEY_R)) {
					flags |= KEY_R;
				} else if (ch == 'W' && !(flags & KEY_W)) {
					flags |= KEY_W;
				} else if (op[off] == '~') {
					off++;
					tilde = true;
					break;
				} else {
					return RULE_SYNTAX;
				}
			}
			/* Redis accepts "%R" without "~" (an empty pattern); so
			 * does kevy, to describe it back the same way. */
			(void)tilde;
		} else {
			flags = KEY_R | KEY_W;
		}
		if (has_space(op + off, len - off))
			return RULE_SYNTAX;
		pat_add(&s->keys, &s->nkeys, op + off, len - off, flags);
		s->flags &= ~SEL_ALLKEYS;
	} else if (len > 0 && op[0] == '&') {
		if (s->flags & SEL_ALLCHANNELS)
			return RULE_CHAN_AFTER_ALL;
		if (has_space(op + 1, len - 1))
			return RULE_SYNTAX;
		pat_add(&s->chans, &s->nchans, op + 1, len - 1, 0);
		s->flags &= ~SEL_ALLCHANNELS;
	} else if (len > 1 && (op[0] == '+' || op[0] == '-') && op[1] == '@') {
		int cat = acl_cat_lookup(op + 2, len - 2);
		if (cat < 0)
			return RULE_UNKNOWN;
		sel_category(s, cat, op[0] == '+');
	} else if (len > 0 && op[0] == '+') {
		const char *bar = NULL;
		for (size_t i = len; i > 1; i--)
			if (op[i - 1] == '|') {
				bar = op + i - 1;
				break;
			}
		if (!bar) {
			const struct kv_command *cmd = cmd_lookup(op + 1, len - 1);
			if (!cmd)
				return RULE_UNKNOWN;
			sel_cmd(s, cmd, true);
			return RULE_OK;
		}
		const struct kv_command *parent = acl_lookup_cmd(op + 1, (size_t)(bar - op - 1));
		if (!parent)
			return RULE_UNKNOWN;
		if (memchr(op + 1, '|', (size_t)(bar - op - 1)))
			return RULE_FIRSTARG_SUB;
		if (bar + 1 == op + len)
			return RULE_SYNTAX;
		if (!parent->subcommands) {
			fa_add(s, cmd_stat_id(parent), bar + 1, (size_t)(op + len - bar - 1));
			return RULE_OK;
		}
		const struct kv_command *sub = acl_lookup_cmd(op + 1, len - 1);
		if (!sub)
			return RULE_UNKNOWN;
		sel_cmd(s, sub, true);
	} else if (len > 0 && op[0] == '-') {
		const struct kv_command *cmd = acl_lookup_cmd(op + 1, len - 1);
		if (!cmd)
			return RULE_UNKNOWN;
		sel_cmd(s, cmd, false);
	} else {
		return RULE_SYNTAX;
	}
	return RULE_OK;
}

static void perm_clear_pass(struct acl_perm *p)
{
	free(p->pass);
	p->pass = NULL;
	p->npass = 0;
}

static void perm_clear_selectors(struct acl_perm *p)
{
	for (uint32_t i = 1; i < p->nsel; i++)
		sel_free_inner(&p->sel[i]);
	p->nsel = 1;
}

/* Split "(a b c)" on spaces into a new selector. */
static enum rule_err perm_add_selector(struct acl_perm *p, const char *op, size_t len)
{
	struct acl_selector s;
	sel_init(&s);
	size_t i = 1, end = len - 1;
	while (i < end) {
		while (i < end && isspace((unsigned char)op[i]))
			i++;
		size_t j = i;
		while (j < end && !isspace((unsigned char)op[j]))
			j++;
		if (j > i) {
			enum rule_err e = sel_apply(&s, op + i, j - i);
			if (e != RULE_OK) {
				sel_free_inner(&s);
				return e;
			}
		}
		i = j;
	}
	p->sel = kv_realloc(p->sel, (p->nsel + 1) * sizeof(*p->sel));
	p->sel[p->nsel++] = s;
	return RULE_OK;
}

static enum rule_err perm_apply(struct acl_perm *p, const char *op, size_t len)
{
	if (len == 0)
		return RULE_OK;
	if (op_is(op, len, "on")) {
		p->flags |= USER_ON;
	} else if (op_is(op, len, "off")) {
		p->flags &= ~USER_ON;
	} else if (op_is(op, len, "skip-sanitize-payload")) {
		p->flags = (p->flags | USER_SKIP_SANITIZE) & ~USER_SANITIZE;
	} else if (op_is(op, len, "sanitize-payload")) {
		p->flags = (p->flags | USER_SANITIZE) & ~USER_SKIP_SANITIZE;
	} else if (op_is(op, len, "nopass")) {
		p->flags |= USER_NOPASS;
		perm_clear_pass(p);
	} else if (op_is(op, len, "resetpass")) {
		p->flags &= ~USER_NOPASS;
		perm_clear_pass(p);
	} else if (op[0] == '>' || op[0] == '#' || op[0] == '<' || op[0] == '!') {
		char h[ACL_HASH_LEN + 1];
		if (op[0] == '>' || op[0] == '<') {
			sha256_hex(op + 1, len - 1, h);
		} else {
			if (!is_hash(op + 1, len - 1))
				return RULE_BAD_HASH;
			memcpy(h, op + 1, ACL_HASH_LEN);
			h[ACL_HASH_LEN] = 0;
		}
		uint32_t at = p->npass;
		for (uint32_t i = 0; i < p->npass; i++)
			if (memcmp(p->pass[i], h, ACL_HASH_LEN) == 0)
				at = i;
		if (op[0] == '>' || op[0] == '#') {
			if (at == p->npass) {
				p->pass = kv_realloc(p->pass, (p->npass + 1) * sizeof(*p->pass));
				memcpy(p->pass[p->npass++], h, sizeof(h));
			}
			p->flags &= ~USER_NOPASS;
		} else {
			if (at == p->npass)
				return RULE_NO_PASS;
			memmove(p->pass[at], p->pass[at + 1], (p->npass - at - 1) * sizeof(*p->pass));
			p->npass--;
		}
	} else if (op[0] == '(' && op[len - 1] == ')') {
		return perm_add_selector(p, op, len);
	} else if (op_is(op, len, "clearselectors")) {
		perm_clear_selectors(p);
	} else if (op_is(op, len, "reset")) {
		p->flags &= ~(USER_NOPASS | USER_ON | USER_SKIP_SANITIZE);
		p->flags |= USER_SANITIZE;
		perm_clear_pass(p);
		perm_clear_selectors(p);
		struct acl_selector *r = &p->sel[0];
		kv_assert(sel_apply(r, "resetkeys", 9) == RULE_OK);
		kv_assert(sel_apply(r, "resetchannels", 13) == RULE_OK);
		kv_assert(sel_apply(r, "-@all", 5) == RULE_OK);
	} else {
		return sel_apply(&p->sel[0], op, len);
	}
	return RULE_OK;
}

/* Redis joins rules split by spaces back into one "(...)" selector: an
 * argument that opens a parenthesis and does not close it takes the
 * following ones up to the one that closes.  Returns the merged count, or
 * -1 with *bad the index of the unmatched opener. */
static int merge_selectors(int argc, const struct kv_slice *argv, struct kv_buf *merged,
			   size_t *starts, size_t *lens, int *bad)
{
	int n = 0, open = -1;
	for (int j = 0; j < argc; j++) {
		const struct kv_slice *a = &argv[j];
		if (open < 0 && a->len > 0 && a->ptr[0] == '(' && a->ptr[a->len - 1] != ')') {
			open = j;
			starts[n] = merged->len;
			kv_buf_append(merged, a->ptr, a->len);
			continue;
		}
		if (open >= 0) {
			kv_buf_append_char(merged, ' ');
			kv_buf_append(merged, a->ptr, a->len);
			if (a->len > 0 && a->ptr[a->len - 1] == ')') {
				lens[n] = merged->len - starts[n];
				n++;
				open = -1;
			}
			continue;
		}
		starts[n] = merged->len;
		kv_buf_append(merged, a->ptr, a->len);
		lens[n++] = a->len;
	}
	if (open >= 0) {
		*bad = open;
		return -1;
	}
	return n;
}

/* How perm_build words an error: ACL SETUSER's, a config file's `user`
 * line's, or an aclfile line's (the caller adds "file:line: "). */
enum build_style { STYLE_SETUSER, STYLE_CONFIG, STYLE_FILE };

/* Apply a rule list to a copy of base (NULL: a new user).  Returns the new
 * perm, or NULL with Redis's error in err: nothing is half-applied. */
static struct acl_perm *perm_build(const struct acl_perm *base, int argc,
				   const struct kv_slice *argv, enum build_style style,
				   char *err, size_t cap)
{
	struct kv_buf merged;
	kv_buf_init(&merged);
	size_t *starts = kv_calloc((size_t)argc + 1, sizeof(size_t));
	size_t *lens = kv_calloc((size_t)argc + 1, sizeof(size_t));
	int bad = 0;
	int n = merge_selectors(argc, argv, &merged, starts, lens, &bad);
	struct acl_perm *p = NULL;
	if (n < 0) {
		if (style == STYLE_FILE)
			snprintf(err, cap, "Unmatched parenthesis in selector definition");
		else
			snprintf(err, cap, "Unmatched parenthesis in acl selector starting at '%.*s'.",
				 (int)argv[bad].len, argv[bad].ptr);
		goto out;
	}
	p = base ? perm_dup(base) : perm_new();
	for (int j = 0; j < n; j++) {
		const char *op = merged.data + starts[j];
		enum rule_err e = perm_apply(p, op, lens[j]);
		if (e == RULE_OK)
			continue;
		if (style == STYLE_SETUSER)
			snprintf(err, cap, "Error in ACL SETUSER modifier '%.*s': %s", (int)lens[j], op,
				 rule_err_text(e));
		else if (style == STYLE_CONFIG)
			snprintf(err, cap, "Error in user declaration '%.*s': %s", (int)lens[j], op,
				 rule_err_text(e));
		else if (e == RULE_UNKNOWN)
			snprintf(err, cap, "Error in applying operation '%.*s': %s", (int)lens[j], op,
				 rule_err_text(e));
		else
			snprintf(err, cap, "%s", rule_err_text(e));
		perm_free(p);
		p = NULL;
		goto out;
	}
out:
	free(starts);
	free(lens);
	kv_buf_free(&merged);
	return p;
}

/* ------------------------------------------------------------------ */
/* The table, reclamation */

static pthread_mutex_t acl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct acl_user **acl_users;   /* sorted by name, bytewise (Redis's rax order) */
static uint32_t acl_nusers;
static struct acl_user *acl_default;
static _Atomic bool acl_need_auth;

#define ACL_THREADS_MAX 256
static _Atomic uint64_t acl_epoch = 1;
static _Atomic uint64_t acl_seen[ACL_THREADS_MAX];
static uint32_t acl_nthreads;
static struct acl_retired {
	struct acl_perm *p;
	uint64_t epoch;
} *acl_retired;
static uint32_t acl_nretired;
static _Atomic uint32_t acl_retired_pending;

void acl_threads(uint32_t n)
{
	kv_assert(n <= ACL_THREADS_MAX);
	pthread_mutex_lock(&acl_lock);
	acl_nthreads = n;
	uint64_t e = atomic_load(&acl_epoch);
	for (uint32_t i = 0; i < n; i++)
		atomic_store(&acl_seen[i], e);
	pthread_mutex_unlock(&acl_lock);
}

/* Under acl_lock: free the retired perms every thread has moved past. */
static void acl_reclaim_locked(void)
{
	uint64_t min = UINT64_MAX;
	for (uint32_t i = 0; i < acl_nthreads; i++) {
		uint64_t s = atomic_load_explicit(&acl_seen[i], memory_order_acquire);
		if (s < min)
			min = s;
	}
	uint32_t keep = 0;
	for (uint32_t i = 0; i < acl_nretired; i++) {
		if (acl_nthreads == 0 || acl_retired[i].epoch <= min)
			perm_free(acl_retired[i].p);
		else
			acl_retired[keep++] = acl_retired[i];
	}
	acl_nretired = keep;
	atomic_store(&acl_retired_pending, keep);
}

/* Under acl_lock, after the pointer swap. */
static void acl_retire_locked(struct acl_perm *p)
{
	if (!p)
		return;
	uint64_t e = atomic_fetch_add(&acl_epoch, 1) + 1;
	acl_retired = kv_realloc(acl_retired, (acl_nretired + 1) * sizeof(*acl_retired));
	acl_retired[acl_nretired++] = (struct acl_retired){ p, e };
	atomic_store(&acl_retired_pending, acl_nretired);
	acl_reclaim_locked();
}

void acl_quiescent(uint32_t thread)
{
	uint64_t e = atomic_load_explicit(&acl_epoch, memory_order_acquire);
	if (atomic_load_explicit(&acl_seen[thread], memory_order_relaxed) == e)
		return;
	atomic_store_explicit(&acl_seen[thread], e, memory_order_release);
	if (atomic_load_explicit(&acl_retired_pending, memory_order_relaxed)) {
		pthread_mutex_lock(&acl_lock);
		acl_reclaim_locked();
		pthread_mutex_unlock(&acl_lock);
	}
}

static void acl_user_free(struct acl_user *u)
{
	perm_free(atomic_load(&u->perm));
	free(u->name);
	free(u);
}

void acl_user_ref(struct acl_user *u)
{
	atomic_fetch_add(&u->refs, 1);
}

void acl_user_unref(struct acl_user *u)
{
	if (u && atomic_fetch_sub(&u->refs, 1) == 1)
		acl_user_free(u);
}

const char *acl_user_name(const struct acl_user *u)
{
	return u->name;
}

bool acl_user_deleted(const struct acl_user *u)
{
	return atomic_load_explicit(&u->deleted, memory_order_relaxed);
}

struct acl_user *acl_default_user(void)
{
	return acl_default;
}

bool acl_auth_required(void)
{
	return atomic_load_explicit(&acl_need_auth, memory_order_relaxed);
}

bool acl_default_has_password(void)
{
	return !(atomic_load(&acl_default->perm)->flags & USER_NOPASS);
}

static uint32_t acl_find_locked(const char *name, size_t len, bool *found);

bool acl_user_exists(const char *name, size_t len)
{
	pthread_mutex_lock(&acl_lock);
	bool found;
	acl_find_locked(name, len, &found);
	pthread_mutex_unlock(&acl_lock);
	return found;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Under acl_lock: the index of name, or where it would go (*found false). */
static uint32_t acl_find_locked(const char *name, size_t len, bool *found)
{
	uint32_t lo = 0, hi = acl_nusers;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = name_cmp(acl_users[mid]->name, acl_users[mid]->nlen, name, len);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static void acl_update_need_auth_locked(void)
{
	const struct acl_perm *p = atomic_load(&acl_default->perm);
	atomic_store(&acl_need_auth, !(p->flags & USER_NOPASS) || !(p->flags & USER_ON));
}

/* Under acl_lock: publish perm p for name (creating the user). */
static struct acl_user *acl_put_locked(const char *name, size_t len, struct acl_perm *p)
{
	bool found;
	uint32_t at = acl_find_locked(name, len, &found);
	struct acl_user *u;
	if (found) {
		u = acl_users[at];
		struct acl_perm *old = atomic_exchange_explicit(&u->perm, p, memory_order_acq_rel);
		acl_retire_locked(old);
	} else {
		u = kv_calloc(1, sizeof(*u));
		u->name = kv_strndup(name, len);
		u->nlen = len;
		atomic_store(&u->perm, p);
		atomic_store(&u->refs, 1);
		acl_users = kv_realloc(acl_users, (acl_nusers + 1) * sizeof(*acl_users));
		memmove(acl_users + at + 1, acl_users + at, (acl_nusers - at) * sizeof(*acl_users));
		acl_users[at] = u;
		acl_nusers++;
	}
	if (u == acl_default)
		acl_update_need_auth_locked();
	return u;
}

/* Under acl_lock: remove user at index i from the table; its clients are
 * the caller's to close. */
static void acl_remove_locked(uint32_t i)
{
	struct acl_user *u = acl_users[i];
	kv_assert(u != acl_default);
	memmove(acl_users + i, acl_users + i + 1, (acl_nusers - i - 1) * sizeof(*acl_users));
	acl_nusers--;
	atomic_store(&u->deleted, true);
	struct acl_perm *old = atomic_exchange(&u->perm, NULL);
	acl_retire_locked(old);
	acl_user_unref(u);
}

static uint64_t acl_log_max = 128;
static char *acl_file_path;

void acl_init(void)
{
	/* Rules name commands: the table must exist (the server builds it,
	 * with its own families, before reading the config). */
	cmd_table_init();
	pthread_mutex_lock(&acl_lock);
	if (acl_default) {
		pthread_mutex_unlock(&acl_lock);
		return;
	}
	acl_nbits = cmd_stat_count() + 1;
	acl_nwords = (acl_nbits + 63) / 64;
	char err[256];
	static const struct kv_slice rules[] = {
		{ "+@all", 5 }, { "~*", 2 }, { "&*", 2 }, { "on", 2 }, { "nopass", 6 },
	};
	struct acl_perm *p = perm_build(NULL, (int)KV_ARRAY_LEN(rules), rules, STYLE_SETUSER, err,
					sizeof(err));
	kv_assert(p);
	acl_default = kv_calloc(1, sizeof(*acl_default));
	acl_default->name = kv_strndup("default", 7);
	acl_default->nlen = 7;
	atomic_store(&acl_default->perm, p);
	atomic_store(&acl_default->refs, 1);
	acl_users = kv_calloc(1, sizeof(*acl_users));
	acl_users[0] = acl_default;
	acl_nusers = 1;
	acl_update_need_auth_locked();
	pthread_mutex_unlock(&acl_lock);
}

struct acl_log_entry;
static void acl_log_clear(void);

void acl_fini(void)
{
	pthread_mutex_lock(&acl_lock);
	for (uint32_t i = 0; i < acl_nusers; i++)
		if (acl_users[i] != acl_default)
			acl_user_unref(acl_users[i]);
	free(acl_users);
	acl_users = NULL;
	acl_nusers = 0;
	if (acl_default)
		acl_user_free(acl_default);
	acl_default = NULL;
	for (uint32_t i = 0; i < acl_nretired; i++)
		perm_free(acl_retired[i].p);
	free(acl_retired);
	acl_retired = NULL;
	acl_nretired = 0;
	pthread_mutex_unlock(&acl_lock);
	acl_log_clear();
	free(acl_file_path);
	acl_file_path = NULL;
}

/* ------------------------------------------------------------------ */
/* Authentication and the check */

static bool perm_password_ok(const struct acl_perm *p, const char *pass, size_t plen)
{
	if (p->flags & USER_NOPASS)
		return true;
	char h[ACL_HASH_LEN + 1];
	sha256_hex(pass, plen, h);
	bool ok = false;
	for (uint32_t i = 0; i < p->npass; i++) {
		/* Every stored hash is compared in full: no early exit. */
		unsigned diff = 0;
		for (int k = 0; k < ACL_HASH_LEN; k++)
			diff |= (unsigned)(h[k] ^ p->pass[i][k]);
		ok |= diff == 0;
	}
	return ok;
}

struct acl_user *acl_authenticate(const char *name, size_t nlen, const char *pass, size_t plen)
{
	pthread_mutex_lock(&acl_lock);
	bool found;
	uint32_t at = acl_find_locked(name, nlen, &found);
	struct acl_user *u = NULL;
	if (found) {
		const struct acl_perm *p = atomic_load(&acl_users[at]->perm);
		if ((p->flags & USER_ON) && perm_password_ok(p, pass, plen)) {
			u = acl_users[at];
			acl_user_ref(u);
		}
	}
	pthread_mutex_unlock(&acl_lock);
	return u;
}

static bool sel_key_ok(const struct acl_selector *s, const struct kv_slice *key, uint32_t need)
{
	if (s->flags & SEL_ALLKEYS)
		return true;
	for (uint32_t i = 0; i < s->nkeys; i++) {
		const struct acl_pat *p = &s->keys[i];
		if ((p->flags & need) == need && pat_match(p, key->ptr, key->len))
			return true;
	}
	return false;
}

static bool sel_chan_ok(const struct acl_selector *s, const struct kv_slice *ch, bool literal)
{
	if (s->flags & SEL_ALLCHANNELS)
		return true;
	for (uint32_t i = 0; i < s->nchans; i++) {
		const struct acl_pat *p = &s->chans[i];
		if (literal ? (p->len == ch->len && memcmp(p->s, ch->ptr, ch->len) == 0)
			    : pat_match(p, ch->ptr, ch->len))
			return true;
	}
	return false;
}

/* The channels a pub/sub call names: first..argc-1 (step 1) or just
 * argv[1] for the publishers; patterns are compared literally, as Redis
 * does, so &news.* allows PSUBSCRIBE news.* but not PSUBSCRIBE news.a*. */
static bool acl_channels(const struct kv_command *cmd, int argc, int *first, int *last,
			 bool *literal)
{
	const char *n = cmd->name;
	*literal = false;
	if (!(cmd->flags & CMD_PUBSUB))   /* the common case, without a compare */
		return false;
	if (!strcmp(n, "publish") || !strcmp(n, "spublish")) {
		*first = *last = 1;
		return argc >= 2;
	}
	if (!strcmp(n, "subscribe") || !strcmp(n, "ssubscribe") || !strcmp(n, "psubscribe")) {
		*first = 1;
		*last = argc - 1;
		*literal = n[0] == 'p';
		return true;
	}
	return false;
}

#define ACL_MAX_KEYS 64

static enum acl_verdict sel_check(const struct acl_selector *s, const struct kv_command *cmd,
				  const struct kv_command *target, int argc,
				  const struct kv_slice *argv, int *errpos)
{
	if (!(s->flags & SEL_ALLCOMMANDS) && !(cmd->flags & CMD_NOAUTH)) {
		uint32_t id = cmd_stat_id(target);
		if (id == UINT32_MAX)
			return ACL_DENIED_CMD;
		if (!bit_get(s->bits, id)) {
			const struct acl_firstarg *f = s->nfa ? fa_find(s, id) : NULL;
			int at = target != cmd ? 2 : 1;
			bool ok = false;
			for (uint32_t i = 0; f && at < argc && i < f->n && !ok; i++)
				ok = f->args[i].len == argv[at].len &&
				     strncasecmp(f->args[i].s, argv[at].ptr, argv[at].len) == 0;
			if (!ok)
				return ACL_DENIED_CMD;
		}
	}
	if (!(s->flags & SEL_ALLKEYS) && (cmd->first_key || cmd->keys)) {
		/* Room for every argument: a key left out would go unchecked. */
		int idx_stack[ACL_MAX_KEYS];
		int *idx = argc <= ACL_MAX_KEYS ? idx_stack : kv_malloc((size_t)argc * sizeof(int));
		int n = cmd_get_keys(cmd, argc, argv, idx, argc > ACL_MAX_KEYS ? argc : ACL_MAX_KEYS);
		uint32_t kf_stack[ACL_MAX_KEYS];
		uint32_t *kf = n <= ACL_MAX_KEYS ? kf_stack : kv_malloc((size_t)n * sizeof(*kf));
		/* Each key needs what its key spec does, as Redis's
		 * ACLSelectorCheckKey asks: read access to a key the call
		 * reads (access), write access to one it changes (insert,
		 * delete, update).  A call whose key count does not fit
		 * names no key for Redis, so none is checked. */
		int known = n > 0 ? cmd_docs_key_flags(target, argc, argv, idx, n, kf) : 0;
		if (known < 0)
			n = 0;
		enum acl_verdict v = ACL_OK;
		for (int i = 0; i < n; i++) {
			uint32_t need = known > 0 ? ((cmd->flags & CMD_WRITE) ? KEY_W : KEY_R)
				: ((kf[i] & CMD_KEY_ACCESS) ? KEY_R : 0) |
				  ((kf[i] & (CMD_KEY_INSERT | CMD_KEY_DELETE | CMD_KEY_UPDATE)) ? KEY_W : 0);
			if (!sel_key_ok(s, &argv[idx[i]], need)) {
				*errpos = idx[i];
				v = ACL_DENIED_KEY;
				break;
			}
		}
		if (kf != kf_stack)
			free(kf);
		if (idx != idx_stack)
			free(idx);
		if (v != ACL_OK)
			return v;
	}
	int first, last;
	bool literal;
	if (!(s->flags & SEL_ALLCHANNELS) && acl_channels(cmd, argc, &first, &last, &literal)) {
		for (int i = first; i <= last; i++) {
			if (!sel_chan_ok(s, &argv[i], literal)) {
				*errpos = i;
				return ACL_DENIED_CHANNEL;
			}
		}
	}
	return ACL_OK;
}

enum acl_verdict acl_check(const struct acl_user *u, const struct kv_command *cmd, int argc,
			   const struct kv_slice *argv, int *errpos)
{
	*errpos = 0;
	const struct acl_perm *p = atomic_load_explicit(&u->perm, memory_order_acquire);
	if (!p)
		return ACL_DENIED_CMD;
	const struct acl_selector *root = &p->sel[0];
	/* The default user's common case: everything allowed. */
	if (p->nsel == 1 &&
	    (root->flags & (SEL_ALLCOMMANDS | SEL_ALLKEYS | SEL_ALLCHANNELS)) ==
		    (SEL_ALLCOMMANDS | SEL_ALLKEYS | SEL_ALLCHANNELS))
		return ACL_OK;
	const struct kv_command *target = cmd_stat_target(cmd, argc, argv);
	/* Redis picks one error: a command denial unless some selector got
	 * further, then the key or channel at the highest position. */
	enum acl_verdict best = ACL_DENIED_CMD;
	int best_pos = 0;
	for (uint32_t i = 0; i < p->nsel; i++) {
		int pos = 0;
		enum acl_verdict v = sel_check(&p->sel[i], cmd, target, argc, argv, &pos);
		if (v == ACL_OK)
			return ACL_OK;
		if (v > best || (v == best && pos > best_pos)) {
			best = v;
			best_pos = pos;
		}
	}
	*errpos = best_pos;
	return best;
}

const char *acl_verdict_text(enum acl_verdict v)
{
	switch (v) {
	case ACL_DENIED_CMD: return "can't run this command or subcommand";
	case ACL_DENIED_KEY:
		return "can't access at least one of the keys mentioned in the command arguments";
	case ACL_DENIED_CHANNEL: return "can't publish to the channel mentioned in the command";
	default: return "lacking the permissions for the command";
	}
}

void acl_reply_denied(struct kv_buf *out, enum acl_verdict v, const struct kv_command *target)
{
	switch (v) {
	case ACL_DENIED_CMD:
		resp_errorf(out, "NOPERM this user has no permissions to run the '%s' command",
			    target->name);
		break;
	case ACL_DENIED_KEY:
		resp_error(out, "NOPERM this user has no permissions to access one of the keys "
				"used as arguments");
		break;
	case ACL_DENIED_CHANNEL:
		resp_error(out, "NOPERM this user has no permissions to access one of the channels "
				"used as arguments");
		break;
	default:
		resp_error(out, "NOPERM no permission");
		break;
	}
}

/* ------------------------------------------------------------------ */
/* ACL LOG */

struct acl_log_entry {
	uint64_t count;
	enum acl_verdict reason;
	enum acl_log_ctx ctx;
	char *object, *user, *cinfo;
	size_t olen, ulen, cilen;
	int64_t ctime_ms;
};

/* Newest first; under its own lock (a denial on any shard adds to it). */
static pthread_mutex_t acl_log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct acl_log_entry *acl_log;
static uint32_t acl_log_len, acl_log_cap;

#define ACL_LOG_GROUP_MS 60000
#define ACL_LOG_SCAN 10

static void log_entry_free(struct acl_log_entry *e)
{
	free(e->object);
	free(e->user);
	free(e->cinfo);
}

static void acl_log_clear(void)
{
	pthread_mutex_lock(&acl_log_lock);
	for (uint32_t i = 0; i < acl_log_len; i++)
		log_entry_free(&acl_log[i]);
	free(acl_log);
	acl_log = NULL;
	acl_log_len = acl_log_cap = 0;
	pthread_mutex_unlock(&acl_log_lock);
}

static void acl_log_trim_locked(void)
{
	while (acl_log_len > acl_log_max)
		log_entry_free(&acl_log[--acl_log_len]);
}

void acl_set_log_max_len(uint64_t n)
{
	pthread_mutex_lock(&acl_log_lock);
	acl_log_max = n;
	acl_log_trim_locked();
	pthread_mutex_unlock(&acl_log_lock);
}

void acl_log_add(enum acl_verdict reason, enum acl_log_ctx ctx, const char *object, size_t olen,
		 const char *user, size_t ulen, const char *cinfo, size_t cilen)
{
	int64_t now = kv_time_ms();
	pthread_mutex_lock(&acl_log_lock);
	for (uint32_t i = 0; i < acl_log_len && i < ACL_LOG_SCAN; i++) {
		struct acl_log_entry *e = &acl_log[i];
		int64_t d = now - e->ctime_ms;
		if (e->reason == reason && e->ctx == ctx && (d < 0 ? -d : d) <= ACL_LOG_GROUP_MS &&
		    e->olen == olen && memcmp(e->object, object, olen) == 0 && e->ulen == ulen &&
		    memcmp(e->user, user, ulen) == 0) {
			struct acl_log_entry m = *e;
			free(m.cinfo);
			m.cinfo = kv_strndup(cinfo, cilen);
			m.cilen = cilen;
			m.ctime_ms = now;
			m.count++;
			memmove(acl_log + 1, acl_log, i * sizeof(*acl_log));
			acl_log[0] = m;
			pthread_mutex_unlock(&acl_log_lock);
			return;
		}
	}
	if (acl_log_len == acl_log_cap) {
		acl_log_cap = acl_log_cap ? acl_log_cap * 2 : 16;
		acl_log = kv_realloc(acl_log, acl_log_cap * sizeof(*acl_log));
	}
	memmove(acl_log + 1, acl_log, acl_log_len * sizeof(*acl_log));
	acl_log[0] = (struct acl_log_entry){
		.count = 1, .reason = reason, .ctx = ctx,
		.object = kv_strndup(object, olen), .olen = olen,
		.user = kv_strndup(user, ulen), .ulen = ulen,
		.cinfo = kv_strndup(cinfo, cilen), .cilen = cilen,
		.ctime_ms = now,
	};
	acl_log_len++;
	acl_log_trim_locked();
	pthread_mutex_unlock(&acl_log_lock);
}

static void acl_log_reply(struct kv_buf *out, int64_t count)
{
	static const char *const reasons[] = { "unknown", "command", "key", "auth", "channel" };
	static const char *const ctxs[] = { "toplevel", "lua", "multi" };
	int64_t now = kv_time_ms();
	pthread_mutex_lock(&acl_log_lock);
	if (count > (int64_t)acl_log_len)
		count = acl_log_len;
	resp_array(out, count);
	for (int64_t i = 0; i < count; i++) {
		const struct acl_log_entry *e = &acl_log[i];
		resp_map(out, 7);
		resp_bulk_str(out, "count");
		resp_int(out, (int64_t)e->count);
		resp_bulk_str(out, "reason");
		resp_bulk_str(out, reasons[e->reason <= ACL_DENIED_CHANNEL ? e->reason : 0]);
		resp_bulk_str(out, "context");
		resp_bulk_str(out, ctxs[e->ctx]);
		resp_bulk_str(out, "object");
		resp_bulk(out, e->object, e->olen);
		resp_bulk_str(out, "username");
		resp_bulk(out, e->user, e->ulen);
		resp_bulk_str(out, "age-seconds");
		resp_double(out, (double)(now - e->ctime_ms) / 1000);
		resp_bulk_str(out, "client-info");
		resp_bulk(out, e->cinfo, e->cilen);
	}
	pthread_mutex_unlock(&acl_log_lock);
}

/* ------------------------------------------------------------------ */
/* Describing rules (ACL LIST, GETUSER, SAVE) */

static void cat_count(const uint64_t *bits, int cat, uint32_t *on, uint32_t *off)
{
	*on = *off = 0;
	uint32_t n = cmd_stat_count();
	for (uint32_t id = 0; id < n; id++) {
		if (!(acl_categories(cmd_stat_at(id)) & CAT(cat)))
			continue;
		if (bit_get(bits, id))
			(*on)++;
		else
			(*off)++;
	}
}

/* The command rules as Redis writes them: +@all or -@all, then the
 * categories that best fit what differs (most in common, fewest
 * differences), then single commands; replayed on a scratch selector as it
 * goes, which must end equal to the described one. */
static void describe_commands(const struct acl_selector *s, struct kv_buf *out)
{
	struct acl_selector fake, temp;
	sel_init(&fake);
	sel_init(&temp);
	memcpy(temp.bits, s->bits, acl_nwords * sizeof(uint64_t));
	bool additive = !bit_get(s->bits, acl_nbits - 1);
	kv_buf_append_str(out, additive ? "-@all " : "+@all ");
	sel_apply(&fake, additive ? "-@all" : "+@all", 5);
	bool applied[ACL_CAT_COUNT] = { false };
	for (;;) {
		int best = -1;
		uint32_t mindiff = UINT32_MAX, maxsame = 0;
		for (int j = 0; j < ACL_CAT_COUNT; j++) {
			if (applied[j])
				continue;
			uint32_t on, off;
			cat_count(temp.bits, j, &on, &off);
			uint32_t diff = additive ? off : on, same = additive ? on : off;
			if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
				best = j;
				mindiff = diff;
				maxsame = same;
			}
		}
		if (best < 0)
			break;
		sel_category(&fake, best, additive);
		sel_category(&temp, best, !additive);
		kv_buf_printf(out, "%s@%s ", additive ? "+" : "-", acl_cat_names[best]);
		applied[best] = true;
	}
	uint32_t n = cmd_stat_count();
	for (uint32_t id = 0; id < n; id++) {
		const struct kv_command *cmd = cmd_stat_at(id);
		bool ub = bit_get(s->bits, id), fb = bit_get(fake.bits, id);
		if (ub != fb) {
			kv_buf_printf(out, "%s%s ", ub ? "+" : "-", cmd->name);
			sel_cmd(&fake, cmd, ub);
		}
		const struct acl_firstarg *f = ub ? NULL : fa_find(s, id);
		for (uint32_t i = 0; f && i < f->n; i++)
			kv_buf_printf(out, "+%s|%.*s ", cmd->name, (int)f->args[i].len, f->args[i].s);
	}
	out->len--;   /* the last space */
	/* The future bit is not a command: compare the commands only. */
	for (uint32_t id = 0; id < n; id++)
		kv_assert(bit_get(fake.bits, id) == bit_get(s->bits, id));
	sel_free_inner(&fake);
	sel_free_inner(&temp);
}

static void describe_key(const struct acl_pat *p, struct kv_buf *out)
{
	if (p->flags == (KEY_R | KEY_W))
		kv_buf_append_char(out, '~');
	else if (p->flags == KEY_R)
		kv_buf_append_str(out, "%R~");
	else
		kv_buf_append_str(out, "%W~");
	kv_buf_append(out, p->s, p->len);
}

static void describe_selector(const struct acl_selector *s, struct kv_buf *out)
{
	if (s->flags & SEL_ALLKEYS) {
		kv_buf_append_str(out, "~* ");
	} else {
		for (uint32_t i = 0; i < s->nkeys; i++) {
			describe_key(&s->keys[i], out);
			kv_buf_append_char(out, ' ');
		}
	}
	if (s->flags & SEL_ALLCHANNELS) {
		kv_buf_append_str(out, "&* ");
	} else {
		kv_buf_append_str(out, "resetchannels ");
		for (uint32_t i = 0; i < s->nchans; i++) {
			kv_buf_append_char(out, '&');
			kv_buf_append(out, s->chans[i].s, s->chans[i].len);
			kv_buf_append_char(out, ' ');
		}
	}
	describe_commands(s, out);
}

static const struct {
	uint32_t flag;
	const char *name;
	bool set;   /* shown when the flag is set (else when clear) */
} acl_user_flags[] = {
	{ USER_ON, "on", true }, { USER_ON, "off", false }, { USER_NOPASS, "nopass", true },
	{ USER_SKIP_SANITIZE, "skip-sanitize-payload", true },
	{ USER_SANITIZE, "sanitize-payload", true },
};

static void describe_perm(const struct acl_perm *p, struct kv_buf *out)
{
	for (size_t j = 0; j < KV_ARRAY_LEN(acl_user_flags); j++) {
		if (((p->flags & acl_user_flags[j].flag) != 0) == acl_user_flags[j].set) {
			kv_buf_append_str(out, acl_user_flags[j].name);
			kv_buf_append_char(out, ' ');
		}
	}
	for (uint32_t i = 0; i < p->npass; i++)
		kv_buf_printf(out, "#%s ", p->pass[i]);
	describe_selector(&p->sel[0], out);
	for (uint32_t i = 1; i < p->nsel; i++) {
		kv_buf_append_str(out, " (");
		describe_selector(&p->sel[i], out);
		kv_buf_append_char(out, ')');
	}
}

static void describe_user_locked(const struct acl_user *u, struct kv_buf *out)
{
	kv_buf_append_str(out, "user ");
	kv_buf_append(out, u->name, u->nlen);
	kv_buf_append_char(out, ' ');
	describe_perm(atomic_load(&u->perm), out);
}

void acl_config_lines(struct kv_buf *out)
{
	pthread_mutex_lock(&acl_lock);
	for (uint32_t i = 0; i < acl_nusers; i++) {
		describe_user_locked(acl_users[i], out);
		kv_buf_append_char(out, '\n');
	}
	pthread_mutex_unlock(&acl_lock);
}

bool acl_describe_user(const char *name, struct kv_buf *out)
{
	pthread_mutex_lock(&acl_lock);
	bool found;
	uint32_t at = acl_find_locked(name, strlen(name), &found);
	if (found)
		describe_user_locked(acl_users[at], out);
	pthread_mutex_unlock(&acl_lock);
	return found;
}

static void reply_selector(struct kv_buf *out, const struct acl_selector *s)
{
	struct kv_buf b;
	kv_buf_init(&b);
	resp_bulk_str(out, "commands");
	describe_commands(s, &b);
	resp_bulk(out, b.data, b.len);
	resp_bulk_str(out, "keys");
	kv_buf_clear(&b);
	if (s->flags & SEL_ALLKEYS) {
		kv_buf_append_str(&b, "~*");
	} else {
		for (uint32_t i = 0; i < s->nkeys; i++) {
			if (i)
				kv_buf_append_char(&b, ' ');
			describe_key(&s->keys[i], &b);
		}
	}
	resp_bulk(out, b.data, b.len);
	resp_bulk_str(out, "channels");
	kv_buf_clear(&b);
	if (s->flags & SEL_ALLCHANNELS) {
		kv_buf_append_str(&b, "&*");
	} else {
		for (uint32_t i = 0; i < s->nchans; i++) {
			if (i)
				kv_buf_append_char(&b, ' ');
			kv_buf_append_char(&b, '&');
			kv_buf_append(&b, s->chans[i].s, s->chans[i].len);
		}
	}
	resp_bulk(out, b.data, b.len);
	kv_buf_free(&b);
}

static void reply_getuser_locked(struct kv_buf *out, const struct acl_perm *p)
{
	resp_map(out, 6);
	resp_bulk_str(out, "flags");
	int nf = 0;
	for (size_t j = 0; j < KV_ARRAY_LEN(acl_user_flags); j++)
		nf += ((p->flags & acl_user_flags[j].flag) != 0) == acl_user_flags[j].set;
	resp_set(out, nf);
	for (size_t j = 0; j < KV_ARRAY_LEN(acl_user_flags); j++)
		if (((p->flags & acl_user_flags[j].flag) != 0) == acl_user_flags[j].set)
			resp_bulk_str(out, acl_user_flags[j].name);
	resp_bulk_str(out, "passwords");
	resp_array(out, p->npass);
	for (uint32_t i = 0; i < p->npass; i++)
		resp_bulk(out, p->pass[i], ACL_HASH_LEN);
	reply_selector(out, &p->sel[0]);
	resp_bulk_str(out, "selectors");
	resp_array(out, p->nsel - 1);
	for (uint32_t i = 1; i < p->nsel; i++) {
		resp_map(out, 3);
		reply_selector(out, &p->sel[i]);
	}
}

/* ------------------------------------------------------------------ */
/* Passwords from the config, the aclfile */

void acl_set_default_password(const char *pass, size_t len)
{
	pthread_mutex_lock(&acl_lock);
	if (!acl_default) {   /* before acl_init: the server hands it over then */
		pthread_mutex_unlock(&acl_lock);
		return;
	}
	struct acl_perm *p = perm_dup(atomic_load(&acl_default->perm));
	perm_clear_pass(p);
	if (pass && len) {
		p->flags &= ~USER_NOPASS;
		p->pass = kv_malloc(sizeof(*p->pass));
		sha256_hex(pass, len, p->pass[0]);
		p->npass = 1;
	} else {
		p->flags |= USER_NOPASS;
	}
	acl_put_locked("default", 7, p);
	pthread_mutex_unlock(&acl_lock);
}

void acl_set_file(const char *path)
{
	pthread_mutex_lock(&acl_lock);
	free(acl_file_path);
	acl_file_path = path && *path ? kv_strndup(path, strlen(path)) : NULL;
	pthread_mutex_unlock(&acl_lock);
}

const char *acl_file(void)
{
	return acl_file_path ? acl_file_path : "";
}

/* `user` lines of the config file, kept until acl_load_startup. */
static struct kv_buf acl_conf_users;   /* lines "name rule rule...\n" */
static uint32_t acl_conf_nusers;

int acl_rules_check(int argc, const struct kv_slice *argv, char *err, size_t cap)
{
	struct acl_perm *p = perm_build(NULL, argc, argv, STYLE_SETUSER, err, cap);
	if (!p)
		return -1;
	perm_free(p);
	return 0;
}

int acl_config_user(int argc, const struct kv_slice *argv, char *err, size_t cap)
{
	acl_init();
	if (argc < 1) {
		snprintf(err, cap, "Wrong number of arguments");
		return -1;
	}
	if (has_space(argv[0].ptr, argv[0].len)) {
		snprintf(err, cap, "Usernames can't contain spaces or null characters");
		return -1;
	}
	struct acl_perm *p = perm_build(NULL, argc - 1, argv + 1, STYLE_CONFIG, err, cap);
	if (!p)
		return -1;
	perm_free(p);
	/* Remembered split by spaces; a duplicate name is refused at load. */
	for (int i = 0; i < argc; i++) {
		if (i)
			kv_buf_append_char(&acl_conf_users, ' ');
		kv_buf_append(&acl_conf_users, argv[i].ptr, argv[i].len);
	}
	kv_buf_append_char(&acl_conf_users, '\n');
	acl_conf_nusers++;
	return 0;
}

/* Split a line on spaces and tabs into at most max slices. */
static int split_words(char *line, size_t len, struct kv_slice *w, int max)
{
	int n = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i >= len)
			break;
		size_t j = i;
		while (j < len && line[j] != ' ' && line[j] != '\t' && line[j] != '\r')
			j++;
		if (n == max)
			return -1;
		w[n++] = (struct kv_slice){ line + i, j - i };
		i = j;
	}
	return n;
}

#define ACL_LINE_WORDS 4096

/* Parse a whole users text (an aclfile, or the config's user lines) into a
 * fresh table: a list of (name, perm).  Returns 0, or -1 with Redis's
 * message naming the line.  Nothing is published here. */
struct acl_staged {
	char *name;
	size_t nlen;
	struct acl_perm *perm;
};

static void staged_free(struct acl_staged *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		free(s[i].name);
		perm_free(s[i].perm);
	}
	free(s);
}

static int acl_parse_users(const char *text, size_t len, bool is_file, const char *fname,
			   struct acl_staged **out, uint32_t *nout, char *err, size_t cap)
{
	struct acl_staged *st = NULL;
	uint32_t n = 0;
	struct kv_slice *w = kv_malloc(ACL_LINE_WORDS * sizeof(*w));
	char *copy = kv_strndup(text, len);
	struct kv_buf errors;
	kv_buf_init(&errors);
	size_t pos = 0;
	int lineno = 0;
	while (pos < len) {
		lineno++;
		char *line = copy + pos;
		char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		pos += ll + (nl ? 1 : 0);
		int nw = split_words(line, ll, w, ACL_LINE_WORDS);
		if (nw == 0)
			continue;
		int skip = is_file ? 1 : 0;
		if (nw < 0) {
			kv_buf_printf(&errors, "%s:%d: too many words in the line. ", fname, lineno);
			continue;
		}
		if (is_file && (w[0].len != 4 || memcmp(w[0].ptr, "user", 4) != 0 || nw < 2)) {
			kv_buf_printf(&errors, "%s:%d should start with user keyword followed by the "
					       "username. ", fname, lineno);
			continue;
		}
		const struct kv_slice *nm = &w[skip];
		bool dup = false;
		for (uint32_t i = 0; i < n; i++)
			dup |= st[i].nlen == nm->len && memcmp(st[i].name, nm->ptr, nm->len) == 0;
		if (dup) {
			kv_buf_printf(&errors, "WARNING: Duplicate user '%.*s' found on line %d. ",
				      (int)nm->len, nm->ptr, lineno);
			continue;
		}
		char e[512];
		struct acl_perm *p = perm_build(NULL, nw - skip - 1, w + skip + 1,
						is_file ? STYLE_FILE : STYLE_CONFIG, e, sizeof(e));
		if (!p) {
			if (is_file)
				kv_buf_printf(&errors, "%s:%d: %s. ", fname, lineno, e);
			else
				kv_buf_printf(&errors, "%s", e);
			continue;
		}
		st = kv_realloc(st, (n + 1) * sizeof(*st));
		st[n].name = kv_strndup(nm->ptr, nm->len);
		st[n].nlen = nm->len;
		st[n].perm = p;
		n++;
	}
	free(w);
	free(copy);
	if (errors.len) {
		if (is_file)
			kv_buf_append_str(&errors, "WARNING: ACL errors detected, no change to the "
						   "previously active ACL rules was performed");
		snprintf(err, cap, "%.*s", (int)errors.len, errors.data);
		kv_buf_free(&errors);
		staged_free(st, n);
		return -1;
	}
	kv_buf_free(&errors);
	*out = st;
	*nout = n;
	return 0;
}

/* Under acl_lock: replace the whole table with staged users (the default
 * user keeps its handle; if the file does not name it, it is reset to its
 * initial rules, as Redis does).  Every other user is deleted and created
 * anew (their clients closed by the caller through the deleted flag). */
static void acl_install_locked(struct acl_staged *st, uint32_t n)
{
	bool has_default = false;
	for (uint32_t i = 0; i < n; i++)
		has_default |= st[i].nlen == 7 && memcmp(st[i].name, "default", 7) == 0;
	/* Redis frees the whole old table (and closes the clients of every
	 * user but the default one, which keeps its identity). */
	for (uint32_t i = acl_nusers; i-- > 0;)
		if (acl_users[i] != acl_default)
			acl_remove_locked(i);
	if (!has_default) {
		char err[64];
		static const struct kv_slice rules[] = {
			{ "+@all", 5 }, { "~*", 2 }, { "&*", 2 }, { "on", 2 }, { "nopass", 6 },
		};
		acl_put_locked("default", 7, perm_build(NULL, 5, rules, STYLE_SETUSER, err, sizeof(err)));
	}
	for (uint32_t i = 0; i < n; i++) {
		acl_put_locked(st[i].name, st[i].nlen, st[i].perm);
		st[i].perm = NULL;
	}
}

static int acl_read_file(const char *path, struct kv_buf *out, char *err, size_t cap)
{
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc < 0) {
		snprintf(err, cap, "Error loading ACLs, opening file '%s': %s", path, strerror(-rc));
		return -1;
	}
	uint64_t off = 0;
	char chunk[16384];
	for (;;) {
		ssize_t n = kvio_pread(&f, chunk, sizeof(chunk), off);
		if (n < 0) {
			snprintf(err, cap, "Error loading ACLs, reading file '%s': %s", path,
				 strerror((int)-n));
			kvio_close(&f);
			return -1;
		}
		if (n == 0)
			break;
		kv_buf_append(out, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	kvio_close(&f);
	return 0;
}

/* ACL LOAD and startup: the whole file or nothing. */
static int acl_load_file(const char *path, char *err, size_t cap)
{
	struct kv_buf text;
	kv_buf_init(&text);
	if (acl_read_file(path, &text, err, cap) < 0) {
		kv_buf_free(&text);
		return -1;
	}
	struct acl_staged *st = NULL;
	uint32_t n = 0;
	int rc = acl_parse_users(text.data ? text.data : "", text.len, true, path, &st, &n, err,
				 cap);
	kv_buf_free(&text);
	if (rc < 0)
		return -1;
	pthread_mutex_lock(&acl_lock);
	acl_install_locked(st, n);
	pthread_mutex_unlock(&acl_lock);
	staged_free(st, n);
	return 0;
}

int acl_load_startup(char *err, size_t cap)
{
	acl_init();
	int rc = 0;
	if (acl_conf_nusers && acl_file_path) {
		snprintf(err, cap, "Configuring Redis with users defined in redis.conf and at the "
				   "same setting an ACL file path is invalid. This setup is very likely "
				   "to lead to configuration errors and security holes, please define "
				   "either an ACL file or declare users directly in your redis.conf, "
				   "but not both.");
		rc = -1;
	} else if (acl_file_path) {
		rc = acl_load_file(acl_file_path, err, cap);
	} else if (acl_conf_nusers) {
		struct acl_staged *st = NULL;
		uint32_t n = 0;
		rc = acl_parse_users(acl_conf_users.data, acl_conf_users.len, false, NULL, &st, &n,
				     err, cap);
		if (rc == 0) {
			/* The config's users come on top of the default user (and
			 * may redefine it); requirepass applied earlier stays unless
			 * a `user default` line says otherwise. */
			pthread_mutex_lock(&acl_lock);
			for (uint32_t i = 0; i < n; i++) {
				acl_put_locked(st[i].name, st[i].nlen, st[i].perm);
				st[i].perm = NULL;
			}
			pthread_mutex_unlock(&acl_lock);
			staged_free(st, n);
		}
	}
	kv_buf_free(&acl_conf_users);
	acl_conf_nusers = 0;
	return rc;
}

/* ACL SAVE: every user as ACL LIST shows it, written atomically (temp
 * file, fsync, rename, fsync of the directory). */
static int acl_save_file(const char *path)
{
	struct kv_buf b;
	kv_buf_init(&b);
	pthread_mutex_lock(&acl_lock);
	for (uint32_t i = 0; i < acl_nusers; i++) {
		describe_user_locked(acl_users[i], &b);
		kv_buf_append_char(&b, '\n');
	}
	pthread_mutex_unlock(&acl_lock);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
	struct kvio_file f;
	int rc = kvio_open(&f, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (rc < 0)
		goto out;
	ssize_t w = b.len ? kvio_pwrite(&f, b.data, b.len, 0) : 0;
	rc = w < 0 ? (int)w : (size_t)w != b.len ? -EIO : 0;
	if (rc == 0)
		rc = kvio_fsync(&f);
	kvio_close(&f);
	if (rc == 0)
		rc = kvio_rename(tmp, path);
	if (rc == 0) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", path);
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			dir[1] = 0;
		else if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof(dir), ".");
		rc = kvio_fsync_dir(dir);
	} else {
		kvio_unlink(tmp);
	}
out:
	if (rc < 0)
		log_warning("ACL SAVE to %s failed: %s", path, strerror(-rc));
	kv_buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The ACL command */

static bool acl_kill_match(void *arg, const struct client_info *ci)
{
	return ci->acl_user == arg;
}

/* Whether every channel pattern of old is still granted by new (Redis's
 * test before closing a user's subscribers). */
static bool perm_channels_superset(const struct acl_perm *new, const struct acl_perm *old)
{
	for (uint32_t i = 0; i < new->nsel; i++)
		if (new->sel[i].flags & SEL_ALLCHANNELS)
			return true;
	for (uint32_t i = 0; i < old->nsel; i++) {
		const struct acl_selector *o = &old->sel[i];
		if (o->flags & SEL_ALLCHANNELS)
			return false;
		for (uint32_t k = 0; k < o->nchans; k++) {
			bool found = false;
			for (uint32_t j = 0; j < new->nsel && !found; j++)
				for (uint32_t m = 0; m < new->sel[j].nchans && !found; m++)
					found = new->sel[j].chans[m].len == o->chans[k].len &&
						memcmp(new->sel[j].chans[m].s, o->chans[k].s,
						       o->chans[k].len) == 0;
			if (!found)
				return false;
		}
	}
	return true;
}

static bool acl_kill_pubsub_match(void *arg, const struct client_info *ci)
{
	return ci->acl_user == arg && ci->pubsub;
}

static void cmd_acl_setuser(struct cmd_ctx *c)
{
	const struct kv_slice *name = &c->argv[2];
	if (has_space(name->ptr, name->len)) {
		resp_error(c->out, "ERR Usernames can't contain spaces or null characters");
		return;
	}
	char err[1024];
	pthread_mutex_lock(&acl_lock);
	bool found;
	uint32_t at = acl_find_locked(name->ptr, name->len, &found);
	const struct acl_perm *old = found ? atomic_load(&acl_users[at]->perm) : NULL;
	struct acl_perm *p = perm_build(old, c->argc - 3, c->argv + 3, STYLE_SETUSER, err,
					sizeof(err));
	/* Channels taken away: the user's subscribers are closed, as Redis
	 * closes those whose subscriptions the new rules no longer allow
	 * (kevy closes all of the user's subscribers then: docs/acl.md). */
	struct acl_user *revoked = NULL;
	if (p && old && !perm_channels_superset(p, old)) {
		revoked = acl_users[at];
		acl_user_ref(revoked);
	}
	if (p)
		acl_put_locked(name->ptr, name->len, p);
	pthread_mutex_unlock(&acl_lock);
	if (revoked) {
		if (c->rt)
			c->rt->clients_kill(acl_kill_pubsub_match, revoked, 0);
		acl_user_unref(revoked);
	}
	if (p)
		resp_ok(c->out);
	else
		resp_errorf(c->out, "ERR %s", err);
}

static void cmd_acl_deluser(struct cmd_ctx *c)
{
	for (int j = 2; j < c->argc; j++) {
		if (c->argv[j].len == 7 && memcmp(c->argv[j].ptr, "default", 7) == 0) {
			resp_error(c->out, "ERR The 'default' user cannot be removed");
			return;
		}
	}
	int64_t deleted = 0;
	for (int j = 2; j < c->argc; j++) {
		pthread_mutex_lock(&acl_lock);
		bool found;
		uint32_t at = acl_find_locked(c->argv[j].ptr, c->argv[j].len, &found);
		struct acl_user *u = NULL;
		if (found) {
			u = acl_users[at];
			acl_user_ref(u);   /* for the kill's comparison below */
			acl_remove_locked(at);
			deleted++;
		}
		pthread_mutex_unlock(&acl_lock);
		if (u) {
			/* Redis closes the user's clients, the caller's after
			 * this reply. */
			if (c->rt) {
				c->rt->clients_kill(acl_kill_match, u, c->conn ? c->rt->conn_id(c->conn) : 0);
				if (c->conn && c->user == u)
					c->rt->conn_close_after_reply(c->conn);
			}
			acl_user_unref(u);
		}
	}
	resp_int(c->out, deleted);
}

static void cmd_acl_getuser(struct cmd_ctx *c)
{
	pthread_mutex_lock(&acl_lock);
	bool found;
	uint32_t at = acl_find_locked(c->argv[2].ptr, c->argv[2].len, &found);
	if (found)
		reply_getuser_locked(c->out, atomic_load(&acl_users[at]->perm));
	else
		resp_null(c->out);
	pthread_mutex_unlock(&acl_lock);
}

static void cmd_acl_list(struct cmd_ctx *c)
{
	struct kv_buf b;
	kv_buf_init(&b);
	pthread_mutex_lock(&acl_lock);
	resp_array(c->out, acl_nusers);
	for (uint32_t i = 0; i < acl_nusers; i++) {
		kv_buf_clear(&b);
		describe_user_locked(acl_users[i], &b);
		resp_bulk(c->out, b.data, b.len);
	}
	pthread_mutex_unlock(&acl_lock);
	kv_buf_free(&b);
}

static void cmd_acl_users(struct cmd_ctx *c)
{
	pthread_mutex_lock(&acl_lock);
	resp_array(c->out, acl_nusers);
	for (uint32_t i = 0; i < acl_nusers; i++)
		resp_bulk(c->out, acl_users[i]->name, acl_users[i]->nlen);
	pthread_mutex_unlock(&acl_lock);
}

static void cmd_acl_whoami(struct cmd_ctx *c)
{
	const struct acl_user *u = c->user ? c->user : acl_default;
	resp_bulk(c->out, u->name, u->nlen);
}

#define ACL_ERR_NO_FILE \
	"ERR This Redis instance is not configured to use an ACL file. You may want to specify " \
	"users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have " \
	"a Redis configuration file set) in order to store users in the Redis configuration."

static void cmd_acl_load(struct cmd_ctx *c)
{
	pthread_mutex_lock(&acl_lock);
	char *path = acl_file_path ? kv_strndup(acl_file_path, strlen(acl_file_path)) : NULL;
	pthread_mutex_unlock(&acl_lock);
	if (!path) {
		resp_error(c->out, ACL_ERR_NO_FILE);
		return;
	}
	char err[1024];
	/* Users that ACL LOAD drops or whose handle ends deleted have their
	 * clients closed, as in Redis (which frees the whole old table). */
	struct acl_user **before = NULL;
	uint32_t nbefore = 0;
	pthread_mutex_lock(&acl_lock);
	before = kv_malloc((acl_nusers + 1) * sizeof(*before));
	for (uint32_t i = 0; i < acl_nusers; i++) {
		acl_user_ref(acl_users[i]);
		before[nbefore++] = acl_users[i];
	}
	pthread_mutex_unlock(&acl_lock);
	if (acl_load_file(path, err, sizeof(err)) < 0)
		resp_errorf(c->out, "ERR %s", err);
	else
		resp_ok(c->out);
	for (uint32_t i = 0; i < nbefore; i++) {
		if (acl_user_deleted(before[i]) && c->rt)
			c->rt->clients_kill(acl_kill_match, before[i], 0);
		acl_user_unref(before[i]);
	}
	free(before);
	free(path);
}

static void cmd_acl_save(struct cmd_ctx *c)
{
	pthread_mutex_lock(&acl_lock);
	char *path = acl_file_path ? kv_strndup(acl_file_path, strlen(acl_file_path)) : NULL;
	pthread_mutex_unlock(&acl_lock);
	if (!path) {
		resp_error(c->out, ACL_ERR_NO_FILE);
		return;
	}
	if (acl_save_file(path) < 0)
		resp_error(c->out, "ERR There was an error trying to save the ACLs. Please check "
				   "the server logs for more information");
	else
		resp_ok(c->out);
	free(path);
}

static void cmd_acl_cat(struct cmd_ctx *c)
{
	if (c->argc == 2) {
		resp_array(c->out, ACL_CAT_COUNT);
		for (int i = 0; i < ACL_CAT_COUNT; i++)
			resp_bulk_str(c->out, acl_cat_names[i]);
		return;
	}
	int cat = acl_cat_lookup(c->argv[2].ptr, c->argv[2].len);
	if (cat < 0) {
		resp_errorf(c->out, "ERR Unknown category '%.*s'",
			    (int)(c->argv[2].len > 128 ? 128 : c->argv[2].len), c->argv[2].ptr);
		return;
	}
	size_t mark = resp_array_begin(c->out);
	int64_t n = 0;
	uint32_t total = cmd_stat_count();
	for (uint32_t id = 0; id < total; id++) {
		const struct kv_command *cmd = cmd_stat_at(id);
		if (acl_categories(cmd) & CAT(cat)) {
			resp_bulk_str(c->out, cmd->name);
			n++;
		}
	}
	resp_array_end(c->out, mark, n);
}

#define ACL_GENPASS_MAX_BITS 4096

static void cmd_acl_genpass(struct cmd_ctx *c)
{
	int64_t bits = 256;
	if (c->argc == 3 && !arg_to_int64(&c->argv[2], &bits)) {
		resp_error(c->out, "ERR value is not an integer or out of range");
		return;
	}
	if (bits <= 0 || bits > ACL_GENPASS_MAX_BITS) {
		resp_errorf(c->out, "ERR ACL GENPASS argument must be the number of bits for the "
				    "output password, a positive number up to %d",
			    ACL_GENPASS_MAX_BITS);
		return;
	}
	size_t chars = (size_t)(bits + 3) / 4;
	uint8_t raw[ACL_GENPASS_MAX_BITS / 8];
	size_t need = (chars + 1) / 2;
	size_t got = 0;
	while (got < need) {
		ssize_t r = getrandom(raw + got, need - got, 0);
		kv_assert(r > 0 || errno == EINTR);
		if (r > 0)
			got += (size_t)r;
	}
	static const char digits[] = "0123456789abcdef";
	char hex[ACL_GENPASS_MAX_BITS / 4];
	for (size_t i = 0; i < chars; i++)
		hex[i] = digits[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
	resp_bulk(c->out, hex, chars);
}

static void cmd_acl_log(struct cmd_ctx *c)
{
	int64_t count = 10;
	if (c->argc == 3) {
		if (arg_is(&c->argv[2], "reset")) {
			acl_log_clear();
			resp_ok(c->out);
			return;
		}
		if (!arg_to_int64(&c->argv[2], &count)) {
			resp_error(c->out, "ERR value is not an integer or out of range");
			return;
		}
		if (count < 0)
			count = 0;
	}
	acl_log_reply(c->out, count);
}

static void cmd_acl_dryrun(struct cmd_ctx *c)
{
	pthread_mutex_lock(&acl_lock);
	bool found;
	uint32_t at = acl_find_locked(c->argv[2].ptr, c->argv[2].len, &found);
	struct acl_user *u = found ? acl_users[at] : NULL;
	if (u)
		acl_user_ref(u);
	pthread_mutex_unlock(&acl_lock);
	if (!u) {
		resp_errorf(c->out, "ERR User '%.*s' not found", (int)c->argv[2].len, c->argv[2].ptr);
		return;
	}
	int argc = c->argc - 3;
	const struct kv_slice *argv = c->argv + 3;
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	if (cmd && cmd->subcommands && argc >= 2) {
		const struct kv_command *sub = cmd_find_sub(cmd->subcommands, &argv[1]);
		if (!sub)
			cmd = NULL;
	}
	if (!cmd) {
		resp_errorf(c->out, "ERR Command '%.*s' not found", (int)argv[0].len, argv[0].ptr);
		acl_user_unref(u);
		return;
	}
	const struct kv_command *target = cmd_stat_target(cmd, argc, argv);
	if (!cmd_arity_ok(target, argc)) {
		resp_errorf(c->out, "ERR wrong number of arguments for '%s' command", target->name);
		acl_user_unref(u);
		return;
	}
	int pos = 0;
	enum acl_verdict v = acl_check(u, cmd, argc, argv, &pos);
	acl_user_unref(u);
	struct kv_buf b;
	kv_buf_init(&b);
	if (v == ACL_DENIED_CMD)
		kv_buf_printf(&b, "This user has no permissions to run the '%s' command", target->name);
	else if (v == ACL_DENIED_KEY)
		kv_buf_printf(&b, "This user has no permissions to access the '%.*s' key",
			      (int)argv[pos].len, argv[pos].ptr);
	else if (v == ACL_DENIED_CHANNEL)
		kv_buf_printf(&b, "This user has no permissions to access the '%.*s' channel",
			      (int)argv[pos].len, argv[pos].ptr);
	if (v == ACL_OK)
		resp_ok(c->out);
	else
		resp_bulk(c->out, b.data, b.len);
	kv_buf_free(&b);
}

static void cmd_acl_help(struct cmd_ctx *c)
{
	static const char *const lines[] = {
		"CAT [<category>]",
		"    List all commands that belong to <category>, or all command categories",
		"    when no category is specified.",
		"DELUSER <username> [<username> ...]",
		"    Delete a list of users.",
		"DRYRUN <username> <command> [<arg> ...]",
		"    Returns whether the user can execute the given command without executing the command.",
		"GETUSER <username>",
		"    Get the user's details.",
		"GENPASS [<bits>]",
		"    Generate a secure 256-bit user password. The optional `bits` argument can",
		"    be used to specify a different size.",
		"LIST",
		"    Show users details in config file format.",
		"LOAD",
		"    Reload users from the ACL file.",
		"LOG [<count> | RESET]",
		"    Show the ACL log entries.",
		"SAVE",
		"    Save the current config to the ACL file.",
		"SETUSER <username> <attribute> [<attribute> ...]",
		"    Create or modify a user with the specified attributes.",
		"USERS",
		"    List all the registered usernames.",
		"WHOAMI",
		"    Return the current connection username.",
		NULL,
	};
	cmd_reply_help(c->out, "ACL", lines);
}

#define ACL_SUB_FLAGS (CMD_LOCAL | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

static const struct kv_command acl_subcommands[] = {
	{ .name = "acl|cat", .arity = -2, .flags = ACL_SUB_FLAGS, .proc = cmd_acl_cat,
	  .group = "server", .since = "6.0.0",
	  .summary = "List the ACL categories or the commands inside a category",
	  .complexity = "O(1) since the categories and commands are a fixed set." },
	{ .name = "acl|deluser", .arity = -3, .flags = ACL_SUB_FLAGS | CMD_ADMIN,
	  .proc = cmd_acl_deluser, .group = "server", .since = "6.0.0",
	  .summary = "Remove the specified ACL users and the associated rules",
	  .complexity = "O(1) amortized time considering the typical user." },
	{ .name = "acl|dryrun", .arity = -4, .flags = ACL_SUB_FLAGS | CMD_ADMIN,
	  .proc = cmd_acl_dryrun, .group = "server", .since = "7.0.0",
	  .summary = "Returns whether the user can execute the given command without executing the command.",
	  .complexity = "O(1)." },
	{ .name = "acl|genpass", .arity = -2, .flags = ACL_SUB_FLAGS, .proc = cmd_acl_genpass,
	  .group = "server", .since = "6.0.0",
	  .summary = "Generate a pseudorandom secure password to use for ACL users",
	  .complexity = "O(1)" },
	{ .name = "acl|getuser", .arity = 3, .flags = ACL_SUB_FLAGS | CMD_ADMIN,
	  .proc = cmd_acl_getuser, .group = "server", .since = "6.0.0",
	  .summary = "Get the rules for a specific ACL user",
	  .complexity = "O(N). Where N is the number of password, command and pattern rules that the user has." },
	{ .name = "acl|help", .arity = 2, .flags = CMD_LOCAL | CMD_LOADING | CMD_STALE,
	  .proc = cmd_acl_help, .group = "server", .since = "6.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "acl|list", .arity = 2, .flags = ACL_SUB_FLAGS | CMD_ADMIN, .proc = cmd_acl_list,
	  .group = "server", .since = "6.0.0",
	  .summary = "List the current ACL rules in ACL config file format",
	  .complexity = "O(N). Where N is the number of configured users." },
	{ .name = "acl|load", .arity = 2, .flags = ACL_SUB_FLAGS | CMD_ADMIN, .proc = cmd_acl_load,
	  .group = "server", .since = "6.0.0",
	  .summary = "Reload the ACLs from the configured ACL file",
	  .complexity = "O(N). Where N is the number of configured users." },
	{ .name = "acl|log", .arity = -2, .flags = ACL_SUB_FLAGS | CMD_ADMIN, .proc = cmd_acl_log,
	  .group = "server", .since = "6.0.0",
	  .summary = "List latest events denied because of ACLs in place",
	  .complexity = "O(N) with N being the number of entries shown." },
	{ .name = "acl|save", .arity = 2, .flags = ACL_SUB_FLAGS | CMD_ADMIN, .proc = cmd_acl_save,
	  .group = "server", .since = "6.0.0",
	  .summary = "Save the current ACL rules in the configured ACL file",
	  .complexity = "O(N). Where N is the number of configured users." },
	{ .name = "acl|setuser", .arity = -3, .flags = ACL_SUB_FLAGS | CMD_ADMIN,
	  .proc = cmd_acl_setuser, .group = "server", .since = "6.0.0",
	  .summary = "Modify or create the rules for a specific ACL user",
	  .complexity = "O(N). Where N is the number of rules provided." },
	{ .name = "acl|users", .arity = 2, .flags = ACL_SUB_FLAGS | CMD_ADMIN,
	  .proc = cmd_acl_users, .group = "server", .since = "6.0.0",
	  .summary = "List the username of all the configured ACL rules",
	  .complexity = "O(N). Where N is the number of configured users." },
	{ .name = "acl|whoami", .arity = 2, .flags = ACL_SUB_FLAGS, .proc = cmd_acl_whoami,
	  .group = "server", .since = "6.0.0",
	  .summary = "Return the name of the user associated to the current connection",
	  .complexity = "O(1)" },
	{ 0 },
};

static void cmd_acl(struct cmd_ctx *c)
{
	cmd_run_sub(c, acl_subcommands, "acl");
}

const struct kv_command cmd_table_acl[] = {
	{ .name = "acl", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_acl, .group = "server", .since = "6.0.0",
	  .summary = "A container for Access List Control commands ",
	  .complexity = "Depends on subcommand.", .subcommands = acl_subcommands },
	{ 0 },
};
