/*
 * cmd_docs.c - the documentation and key specs of every command: the parts
 * of COMMAND DOCS and COMMAND INFO that the command tables do not hold, and
 * the key-spec flags of a call's keys (COMMAND GETKEYSANDFLAGS, ACL).
 *
 * The data live in cmd_docs_data.h, one entry per command or subcommand
 * (its full name, "config|get"), as text: one fact per line, so a command's
 * documentation reads as a short block instead of a page of nested
 * initialisers.  scripts/gen-cmd-docs.py writes it.  The lines, in order:
 *
 *   K <flags> <begin_search> <find_keys>[ <notes>]   a key spec
 *       flags: comma-separated (RO,access); begin_search: i<index>,
 *       k<startfrom>,<KEYWORD> or ? (unknown); find_keys:
 *       r<lastkey>,<keystep>,<limit>, n<keynumidx>,<firstkey>,<keystep> or ?
 *   T <tip>                  a COMMAND INFO tip (nondeterministic_output, ...)
 *   F <doc flag> ...         deprecated, syscmd
 *   D <version>              deprecated_since
 *   R <text>                 replaced_by
 *   H <version> <text>       one history entry
 *   - <name> <type> [attr]   an argument; two more spaces of indent before
 *                            the '-' for each level of nesting (the
 *                            arguments of a oneof or block follow it).
 *       attrs: @<key_spec_index>, =<TOKEN>, ^<since>, !<deprecated_since>,
 *       and flags as characters: ? optional, * multiple, + multiple_token.
 *
 * The key specs are parsed once into structs (GETKEYSANDFLAGS and ACL ask
 * for them per call); documentation is written straight from the text,
 * which only COMMAND DOCS reads.  The text is compiled in, so a malformed
 * line is a bug caught by an assertion at startup, not an input error.
 *
 * What it is not: key extraction.  The keys of a call come from the command
 * table (cmd_get_keys); this module only says which spec -- and so which
 * access flags -- each of those keys belongs to.
 */
#include "commands/cmd_docs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/kv.h"
#include "proto/resp.h"

struct cmd_docs_src {
	const char *name;
	const char *text;
};

#include "commands/cmd_docs_data.h"

#define DOCS_MAX_SPECS 4

enum docs_bs { BS_UNKNOWN, BS_INDEX, BS_KEYWORD };
enum docs_fk { FK_UNKNOWN, FK_RANGE, FK_KEYNUM };

struct docs_keyspec {
	uint32_t flags;
	enum docs_bs bs;
	enum docs_fk fk;
	int bs_arg;               /* BS_INDEX: the index; BS_KEYWORD: startfrom */
	int fk_a, fk_b, fk_c;     /* range: lastkey keystep limit; keynum: keynumidx firstkey keystep */
	const char *keyword;      /* BS_KEYWORD: into the text, keyword_len bytes */
	size_t keyword_len;
	const char *notes;        /* NULL or into the text, to the line's end */
	size_t notes_len;
};

struct docs_entry {
	int nspecs;
	struct docs_keyspec specs[DOCS_MAX_SPECS];
	const char *docs;         /* the first line after the key specs */
	/* How the flags of a call's keys are found: the one spec, fixed by
	 * position, finds them all (most commands: its flags are
	 * uniform_flags); SET's and BITFIELD's own rules; or walking the
	 * specs.  Chosen once, so the ACL check compares no names. */
	enum { KF_WALK, KF_UNIFORM, KF_SET, KF_BITFIELD, KF_SORT } kf;
	uint32_t uniform_flags;
};

static const char *const docs_key_flag_names[] = {
	"RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
	"not_key", "incomplete", "variable_flags",
};

#define DOCS_COUNT KV_ARRAY_LEN(cmd_docs_src)
static struct docs_entry docs_entries[DOCS_COUNT];
static pthread_once_t docs_once = PTHREAD_ONCE_INIT;
/* Each command's entry by its dense id (cmd_stat_id), so the ACL check
 * finds it without comparing names; NULL where the table has none. */
static const struct docs_entry **docs_by_id;
static uint32_t docs_by_id_len;

/* The end of the line at p (its '\n', or the terminating NUL). */
static const char *docs_eol(const char *p)
{
	const char *e = strchr(p, '\n');
	return e ? e : p + strlen(p);
}

/* The start of the line after p's (or the terminating NUL). */
static const char *docs_next_line(const char *p)
{
	const char *e = docs_eol(p);
	return *e ? e + 1 : e;
}

/* The next space-separated word of [*p, end): its start and length; *p
 * moves past it and one space.  Returns false at the end of the line. */
static bool docs_word(const char **p, const char *end, const char **w, size_t *len)
{
	if (*p >= end)
		return false;
	const char *sp = memchr(*p, ' ', (size_t)(end - *p));
	const char *e = sp ? sp : end;
	*w = *p;
	*len = (size_t)(e - *p);
	*p = sp ? sp + 1 : end;
	return true;
}

static int docs_int(const char **p)
{
	char *e;
	long v = strtol(*p, &e, 10);
	kv_assert(e != *p);
	*p = e;
	return (int)v;
}

static void docs_expect(const char **p, char c)
{
	kv_assert(**p == c);
	(*p)++;
}

static uint32_t docs_parse_key_flags(const char *w, size_t len)
{
	uint32_t flags = 0;
	const char *end = w + len;
	while (w < end) {
		const char *comma = memchr(w, ',', (size_t)(end - w));
		size_t n = (size_t)((comma ? comma : end) - w);
		size_t i;
		for (i = 0; i < KV_ARRAY_LEN(docs_key_flag_names); i++)
			if (strlen(docs_key_flag_names[i]) == n &&
			    memcmp(docs_key_flag_names[i], w, n) == 0)
				break;
		kv_assert(i < KV_ARRAY_LEN(docs_key_flag_names));
		flags |= 1u << i;
		w += n + (comma ? 1 : 0);
	}
	return flags;
}

/* One "K" line (after the "K "), up to end. */
static void docs_parse_spec(struct docs_keyspec *ks, const char *p, const char *end)
{
	const char *w;
	size_t len;
	kv_assert(docs_word(&p, end, &w, &len));
	ks->flags = docs_parse_key_flags(w, len);
	kv_assert(docs_word(&p, end, &w, &len));
	const char *q = w + 1;
	if (w[0] == 'i') {
		ks->bs = BS_INDEX;
		ks->bs_arg = docs_int(&q);
	} else if (w[0] == 'k') {
		ks->bs = BS_KEYWORD;
		ks->bs_arg = docs_int(&q);
		docs_expect(&q, ',');
		ks->keyword = q;
		ks->keyword_len = len - (size_t)(q - w);
	} else {
		kv_assert(w[0] == '?' && len == 1);
		ks->bs = BS_UNKNOWN;
	}
	kv_assert(docs_word(&p, end, &w, &len));
	q = w + 1;
	if (w[0] == 'r' || w[0] == 'n') {
		ks->fk = w[0] == 'r' ? FK_RANGE : FK_KEYNUM;
		ks->fk_a = docs_int(&q);
		docs_expect(&q, ',');
		ks->fk_b = docs_int(&q);
		docs_expect(&q, ',');
		ks->fk_c = docs_int(&q);
		kv_assert(q == w + len);
	} else {
		kv_assert(w[0] == '?' && len == 1);
		ks->fk = FK_UNKNOWN;
	}
	if (p < end) {
		ks->notes = p;
		ks->notes_len = (size_t)(end - p);
	}
}

static int docs_name_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cmd_docs_src *)elem)->name);
}

static const struct docs_entry *docs_find_name(const char *name)
{
	const struct cmd_docs_src *s = bsearch(name, cmd_docs_src, DOCS_COUNT,
					       sizeof(cmd_docs_src[0]), docs_name_cmp);
	return s ? &docs_entries[s - cmd_docs_src] : NULL;
}

/* How cmd_docs_key_flags finds the flags of the keys of e's command. */
static void docs_choose_kf(struct docs_entry *e, const char *name)
{
	const struct docs_keyspec *ks = &e->specs[0];
	if (strcmp(name, "set") == 0) {
		e->kf = KF_SET;
	} else if (strcmp(name, "bitfield") == 0) {
		e->kf = KF_BITFIELD;
	} else if (strcmp(name, "sort") == 0 || strcmp(name, "sort_ro") == 0) {
		e->kf = KF_SORT;
	} else if (e->nspecs == 1 && ks->bs == BS_INDEX && ks->fk == FK_RANGE &&
		   !(ks->flags & (CMD_KEY_NOT_KEY | CMD_KEY_INCOMPLETE |
				  CMD_KEY_VARIABLE_FLAGS))) {
		e->kf = KF_UNIFORM;
		e->uniform_flags = ks->flags;
	}
	/* Redis gives VARIABLE_FLAGS to SET and BITFIELD only: another
	 * one would need its rule here. */
	for (int s = 0; s < e->nspecs; s++)
		kv_assert(!(e->specs[s].flags & CMD_KEY_VARIABLE_FLAGS) ||
			  e->kf == KF_SET || e->kf == KF_BITFIELD);
}

/* Parse the key specs of every entry, and index the entries by command id
 * (the command table must be built: cmd_table_init). */
static void docs_init(void)
{
	for (size_t i = 0; i < DOCS_COUNT; i++) {
		/* bsearch needs the generator's order. */
		kv_assert(i == 0 || strcmp(cmd_docs_src[i - 1].name, cmd_docs_src[i].name) < 0);
		struct docs_entry *e = &docs_entries[i];
		const char *p = cmd_docs_src[i].text;
		while (p[0] == 'K' && p[1] == ' ') {
			const char *end = docs_eol(p);
			kv_assert(e->nspecs < DOCS_MAX_SPECS);
			docs_parse_spec(&e->specs[e->nspecs++], p + 2, end);
			p = docs_next_line(p);
		}
		e->docs = p;
		docs_choose_kf(e, cmd_docs_src[i].name);
	}
	docs_by_id_len = cmd_stat_count();
	docs_by_id = kv_calloc(docs_by_id_len ? docs_by_id_len : 1, sizeof(*docs_by_id));
	for (uint32_t id = 0; id < docs_by_id_len; id++)
		docs_by_id[id] = docs_find_name(cmd_stat_at(id)->name);
}

static const struct docs_entry *docs_find(const struct kv_command *cmd)
{
	/* The ACL check asks for every command it checks: remember the
	 * last answer of this thread (the entries never change). */
	static _Thread_local const struct kv_command *last_cmd;
	static _Thread_local const struct docs_entry *last_entry;
	if (cmd == last_cmd)
		return last_entry;
	pthread_once(&docs_once, docs_init);
	/* Without a command table (docs_by_id empty) there are no ids. */
	uint32_t id = docs_by_id_len ? cmd_stat_id(cmd) : UINT32_MAX;
	last_entry = id < docs_by_id_len ? docs_by_id[id] : docs_find_name(cmd->name);
	last_cmd = cmd;
	return last_entry;
}

/* ---- COMMAND DOCS ---- */

/* The lines of a docs block starting with `tag` and a space. */
static int docs_count_lines(const char *p, char tag)
{
	int n = 0;
	for (; *p; p = docs_next_line(p))
		if (p[0] == tag && p[1] == ' ')
			n++;
	return n;
}

/* The first line tagged `tag`, or NULL. */
static const char *docs_line(const char *p, char tag)
{
	for (; *p; p = docs_next_line(p))
		if (p[0] == tag && p[1] == ' ')
			return p;
	return NULL;
}

/* The rest of a tagged line after its tag, as a bulk string. */
static void docs_reply_rest(struct kv_buf *out, const char *line)
{
	resp_bulk(out, line + 2, (size_t)(docs_eol(line) - line - 2));
}

static void docs_reply_doc_flags(struct kv_buf *out, const char *line)
{
	static const char *const names[] = { "deprecated", "syscmd" };
	const char *end = docs_eol(line), *w;
	size_t len;
	bool has[KV_ARRAY_LEN(names)] = { false };
	int n = 0;
	line += 2;
	while (docs_word(&line, end, &w, &len)) {
		size_t i;
		for (i = 0; i < KV_ARRAY_LEN(names); i++)
			if (strlen(names[i]) == len && memcmp(names[i], w, len) == 0)
				break;
		kv_assert(i < KV_ARRAY_LEN(names));
		n += !has[i];
		has[i] = true;
	}
	resp_set(out, n);
	for (size_t i = 0; i < KV_ARRAY_LEN(names); i++)
		if (has[i])
			resp_simple(out, names[i]);
}

static void docs_reply_history(struct kv_buf *out, const char *p)
{
	resp_set(out, docs_count_lines(p, 'H'));
	for (const char *h = docs_line(p, 'H'); h; h = docs_line(docs_eol(h), 'H')) {
		const char *end = docs_eol(h), *q = h + 2, *w;
		size_t len;
		kv_assert(docs_word(&q, end, &w, &len));
		resp_array(out, 2);
		resp_bulk(out, w, len);
		resp_bulk(out, q, (size_t)(end - q));
	}
}

/* An argument line's nesting depth (indent / 2); -1 for a line that is no
 * argument (the end of the text). */
static int docs_arg_depth(const char *p)
{
	int spaces = 0;
	while (p[spaces] == ' ')
		spaces++;
	if (p[spaces] != '-')
		return -1;
	kv_assert(spaces % 2 == 0);
	return spaces / 2;
}

/* The parsed words of one argument line. */
struct docs_arg {
	const char *name, *type, *token, *since, *deprecated;
	size_t name_len, type_len, token_len, since_len, deprecated_len;
	int key_spec_index;       /* -1: none */
	bool optional, multiple, multiple_token;
};

static void docs_parse_arg(const char *line, struct docs_arg *a)
{
	memset(a, 0, sizeof(*a));
	a->key_spec_index = -1;
	const char *end = docs_eol(line), *p = line, *w;
	size_t len;
	while (*p == ' ')
		p++;
	p += 2;   /* "- " */
	kv_assert(docs_word(&p, end, &a->name, &a->name_len));
	kv_assert(docs_word(&p, end, &a->type, &a->type_len));
	while (docs_word(&p, end, &w, &len)) {
		const char *q = w + 1;
		switch (w[0]) {
		case '@': a->key_spec_index = docs_int(&q); break;
		case '=': a->token = q; a->token_len = len - 1; break;
		case '^': a->since = q; a->since_len = len - 1; break;
		case '!': a->deprecated = q; a->deprecated_len = len - 1; break;
		default:
			for (size_t i = 0; i < len; i++) {
				kv_assert(w[i] == '?' || w[i] == '*' || w[i] == '+');
				a->optional |= w[i] == '?';
				a->multiple |= w[i] == '*';
				a->multiple_token |= w[i] == '+';
			}
		}
	}
}

static bool docs_arg_nests(const struct docs_arg *a)
{
	return (a->type_len == 5 && memcmp(a->type, "oneof", 5) == 0) ||
	       (a->type_len == 5 && memcmp(a->type, "block", 5) == 0);
}

static void docs_reply_field(struct kv_buf *out, const char *name, const char *v, size_t len)
{
	resp_bulk_str(out, name);
	resp_bulk(out, v, len);
}

/* The arguments at `depth` starting at *pp, as Redis's array of maps;
 * *pp moves past them and their nested arguments. */
static void docs_reply_args(struct kv_buf *out, const char **pp, int depth)
{
	int n = 0;
	for (const char *p = *pp; docs_arg_depth(p) >= depth; p = docs_next_line(p))
		n += docs_arg_depth(p) == depth;
	resp_array(out, n);
	const char *p = *pp;
	while (docs_arg_depth(p) == depth) {
		struct docs_arg a;
		docs_parse_arg(p, &a);
		p = docs_next_line(p);
		bool nests = docs_arg_nests(&a), flags = a.optional || a.multiple ||
							  a.multiple_token;
		resp_map(out, 2 + (a.key_spec_index >= 0) + !!a.token + !!a.since +
			 !!a.deprecated + flags + nests);
		docs_reply_field(out, "name", a.name, a.name_len);
		docs_reply_field(out, "type", a.type, a.type_len);
		if (a.key_spec_index >= 0) {
			resp_bulk_str(out, "key_spec_index");
			resp_int(out, a.key_spec_index);
		}
		if (a.token)
			docs_reply_field(out, "token", a.token, a.token_len);
		if (a.since)
			docs_reply_field(out, "since", a.since, a.since_len);
		if (a.deprecated)
			docs_reply_field(out, "deprecated_since", a.deprecated, a.deprecated_len);
		if (flags) {
			resp_bulk_str(out, "flags");
			resp_set(out, a.optional + a.multiple + a.multiple_token);
			if (a.optional)
				resp_simple(out, "optional");
			if (a.multiple)
				resp_simple(out, "multiple");
			if (a.multiple_token)
				resp_simple(out, "multiple_token");
		}
		if (nests) {
			resp_bulk_str(out, "arguments");
			docs_reply_args(out, &p, depth + 1);
		}
	}
	*pp = p;
}

int cmd_docs_reply_extra(struct kv_buf *out, const struct kv_command *cmd)
{
	const struct docs_entry *e = docs_find(cmd);
	if (!e)
		return 0;
	int n = 0;
	const char *p = e->docs, *line;
	if ((line = docs_line(p, 'F'))) {
		resp_bulk_str(out, "doc_flags");
		docs_reply_doc_flags(out, line);
		n++;
	}
	if ((line = docs_line(p, 'D'))) {
		resp_bulk_str(out, "deprecated_since");
		docs_reply_rest(out, line);
		n++;
	}
	if ((line = docs_line(p, 'R'))) {
		resp_bulk_str(out, "replaced_by");
		docs_reply_rest(out, line);
		n++;
	}
	if (docs_line(p, 'H')) {
		resp_bulk_str(out, "history");
		docs_reply_history(out, p);
		n++;
	}
	while (*p && docs_arg_depth(p) < 0)
		p = docs_next_line(p);
	if (*p) {
		resp_bulk_str(out, "arguments");
		docs_reply_args(out, &p, 0);
		kv_assert(*p == '\0');
		n++;
	}
	return n;
}

/* ---- COMMAND INFO ---- */

bool cmd_docs_reply_tips(struct kv_buf *out, const struct kv_command *cmd)
{
	const struct docs_entry *e = docs_find(cmd);
	if (!e)
		return false;
	resp_set(out, docs_count_lines(e->docs, 'T'));
	for (const char *t = docs_line(e->docs, 'T'); t; t = docs_line(docs_eol(t), 'T'))
		docs_reply_rest(out, t);
	return true;
}

void cmd_docs_reply_key_flags(struct kv_buf *out, uint32_t flags)
{
	resp_set(out, __builtin_popcount(flags));
	for (size_t i = 0; i < KV_ARRAY_LEN(docs_key_flag_names); i++)
		if (flags & (1u << i))
			resp_simple(out, docs_key_flag_names[i]);
}

static void docs_reply_typed(struct kv_buf *out, const char *type, int nspec)
{
	resp_map(out, 2);
	resp_bulk_str(out, "type");
	resp_bulk_str(out, type);
	resp_bulk_str(out, "spec");
	resp_map(out, nspec);
}

static void docs_reply_int_field(struct kv_buf *out, const char *name, int v)
{
	resp_bulk_str(out, name);
	resp_int(out, v);
}

static void docs_reply_spec(struct kv_buf *out, const struct docs_keyspec *ks)
{
	resp_map(out, 3 + !!ks->notes);
	if (ks->notes)
		docs_reply_field(out, "notes", ks->notes, ks->notes_len);
	resp_bulk_str(out, "flags");
	cmd_docs_reply_key_flags(out, ks->flags);
	resp_bulk_str(out, "begin_search");
	switch (ks->bs) {
	case BS_UNKNOWN:
		docs_reply_typed(out, "unknown", 0);
		break;
	case BS_INDEX:
		docs_reply_typed(out, "index", 1);
		docs_reply_int_field(out, "index", ks->bs_arg);
		break;
	case BS_KEYWORD:
		docs_reply_typed(out, "keyword", 2);
		docs_reply_field(out, "keyword", ks->keyword, ks->keyword_len);
		docs_reply_int_field(out, "startfrom", ks->bs_arg);
		break;
	}
	resp_bulk_str(out, "find_keys");
	switch (ks->fk) {
	case FK_UNKNOWN:
		docs_reply_typed(out, "unknown", 0);
		break;
	case FK_RANGE:
		docs_reply_typed(out, "range", 3);
		docs_reply_int_field(out, "lastkey", ks->fk_a);
		docs_reply_int_field(out, "keystep", ks->fk_b);
		docs_reply_int_field(out, "limit", ks->fk_c);
		break;
	case FK_KEYNUM:
		docs_reply_typed(out, "keynum", 3);
		docs_reply_int_field(out, "keynumidx", ks->fk_a);
		docs_reply_int_field(out, "firstkey", ks->fk_b);
		docs_reply_int_field(out, "keystep", ks->fk_c);
		break;
	}
}

void cmd_docs_reply_keyspecs(struct kv_buf *out, const struct kv_command *cmd)
{
	const struct docs_entry *e = docs_find(cmd);
	int n = e ? e->nspecs : 0;
	resp_set(out, n);
	for (int i = 0; i < n; i++)
		docs_reply_spec(out, &e->specs[i]);
}

/* Where spec ks finds keys in a call, as Redis 7.0's getKeysUsingKeySpecs:
 * positions first..last by step.  Returns 0, 1 when its keyword is absent
 * (the spec finds nothing), or -1 when it cannot say (an unknown spec, or
 * arguments that do not fit it). */
static int docs_spec_range(const struct docs_keyspec *ks, int argc, const struct kv_slice *argv,
			   int *first, int *last, int *step)
{
	int f = 0;
	if (ks->bs == BS_INDEX) {
		f = ks->bs_arg;
	} else if (ks->bs == BS_KEYWORD) {
		int from = ks->bs_arg, start = from > 0 ? from : argc + from;
		int stop = from > 0 ? argc - 1 : 1;
		for (int i = start; i != stop; i = start <= stop ? i + 1 : i - 1) {
			if (i >= argc || i < 1)
				break;
			if (argv[i].len == ks->keyword_len &&
			    strncasecmp(argv[i].ptr, ks->keyword, ks->keyword_len) == 0) {
				f = i + 1;
				break;
			}
		}
		if (!f)
			return 1;
	} else {
		return -1;
	}
	int l;
	if (ks->fk == FK_RANGE) {
		*step = ks->fk_b;
		if (ks->fk_a >= 0)
			l = f + ks->fk_a;
		else if (!ks->fk_c)
			l = argc + ks->fk_a;
		else
			l = f + ((argc - f) / ks->fk_c + ks->fk_a);
	} else if (ks->fk == FK_KEYNUM) {
		*step = ks->fk_c;
		int at = f + ks->fk_a;
		int64_t numkeys;
		if (ks->fk_a >= argc || at >= argc || !arg_to_int64(&argv[at], &numkeys) ||
		    numkeys < 0 || numkeys > argc)
			return -1;
		f += ks->fk_b;
		l = f + (int)numkeys - 1;
	} else {
		return -1;
	}
	if (l >= argc || l < f || f >= argc)
		return -1;
	*first = f;
	*last = l;
	return 0;
}

/* SET's and BITFIELD's keys (specs with VARIABLE_FLAGS): their flags depend
 * on the arguments, as Redis's setGetKeys and bitfieldGetKeys decide. */
static uint32_t docs_set_flags(int argc, const struct kv_slice *argv)
{
	for (int i = 3; i < argc; i++)
		if (arg_is(&argv[i], "get"))
			return CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE;
	return CMD_KEY_OW | CMD_KEY_UPDATE;
}

static uint32_t docs_bitfield_flags(int argc, const struct kv_slice *argv)
{
	for (int i = 2; i < argc; i++) {
		int rest = argc - i - 1;
		if (arg_is(&argv[i], "get") && rest >= 2)
			i += 2;
		else if ((arg_is(&argv[i], "set") || arg_is(&argv[i], "incrby")) && rest >= 3)
			return CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE;
		else if (arg_is(&argv[i], "overflow") && rest >= 1)
			i += 1;
		else
			return CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE;
	}
	return CMD_KEY_RO | CMD_KEY_ACCESS;
}

static int docs_walk_specs(const struct docs_entry *e, int argc, const struct kv_slice *argv,
			   const int *idx, int n, uint32_t *flags);

int cmd_docs_key_flags(const struct kv_command *cmd, int argc, const struct kv_slice *argv,
		       const int *idx, int n, uint32_t *flags)
{
	const struct docs_entry *e = docs_find(cmd);
	uint32_t all;
	if (!e) {
		all = 0;
	} else if (e->kf == KF_UNIFORM) {
		all = e->uniform_flags;
	} else if (e->kf == KF_SET) {
		/* Redis trusts only the command's own key rule for these. */
		all = docs_set_flags(argc, argv);
	} else if (e->kf == KF_BITFIELD) {
		all = docs_bitfield_flags(argc, argv);
	} else if (e->kf == KF_SORT) {
		/* Unknown specs: Redis's key function gives the sorted key
		 * RO|access, the STORE key OW|update. */
		for (int i = 0; i < n; i++)
			flags[i] = idx[i] == 1 ? CMD_KEY_RO | CMD_KEY_ACCESS
					       : CMD_KEY_OW | CMD_KEY_UPDATE;
		return 0;
	} else {
		return docs_walk_specs(e, argc, argv, idx, n, flags);
	}
	for (int i = 0; i < n; i++)
		flags[i] = all;
	return e ? 0 : 1;
}

/* The flags of each key by the spec that finds it, as Redis's
 * getKeysUsingKeySpecs.  When a spec cannot say, Redis falls back to the
 * command's key function, which gives no flags (genericGetKeys). */
static int docs_walk_specs(const struct docs_entry *e, int argc, const struct kv_slice *argv,
			   const int *idx, int n, uint32_t *flags)
{
	memset(flags, 0, (size_t)n * sizeof(*flags));
	bool failed = false, keynum_failed = false;
	int first[DOCS_MAX_SPECS], last[DOCS_MAX_SPECS], step[DOCS_MAX_SPECS];
	int found[DOCS_MAX_SPECS];
	for (int s = 0; s < e->nspecs; s++) {
		const struct docs_keyspec *ks = &e->specs[s];
		found[s] = 1;
		if (ks->flags & CMD_KEY_NOT_KEY)
			continue;
		found[s] = docs_spec_range(ks, argc, argv, &first[s], &last[s], &step[s]);
		failed |= found[s] < 0 || (ks->flags & CMD_KEY_INCOMPLETE);
		keynum_failed |= found[s] < 0 && ks->fk == FK_KEYNUM;
	}
	/* A key count that does not fit the call: Redis's key function for
	 * these commands finds no key. */
	if (failed)
		return keynum_failed ? -1 : 0;
	for (int i = 0; i < n; i++) {
		for (int s = 0; s < e->nspecs; s++) {
			if (found[s] != 0 || idx[i] < first[s] || idx[i] > last[s] ||
			    (step[s] > 0 && (idx[i] - first[s]) % step[s] != 0))
				continue;
			flags[i] = e->specs[s].flags;
			break;
		}
	}
	return 0;
}
