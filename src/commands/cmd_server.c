/*
 * cmd_server.c - connection and server commands: PING ECHO SELECT QUIT HELLO
 * AUTH, COMMAND, CLIENT, CONFIG, TIME and SHUTDOWN (INFO: cmd_info.c).
 *
 * Replies and error texts are Redis 7.0.15's for the same arguments (each was
 * probed against redis-server); where kevy differs on purpose, the difference
 * is listed in docs/config.md.  Connection commands are CMD_LOCAL: they run on
 * the client's own shard with ctx->conn set and use server.h's conn_*
 * accessors; INFO is CMD_ALL_SHARDS because it reads every keyspace.
 *
 * Container commands (COMMAND, CLIENT, CONFIG) dispatch their subcommands
 * here: the runtime looks up and checks the arity of the top-level name only.
 * Subcommand entries carry Redis's full names ("config|get"), which is what
 * COMMAND INFO/DOCS/LIST print and what arity errors quote.
 *
 * COMMAND INFO is built from struct kv_command alone, so ACL categories, key
 * specs and tips are derived from flags and groups (see acl_categories in acl.c);
 * COMMAND DOCS has no argument trees.  Both are documented simplifications.
 */
#include "commands/acl.h"
#include "commands/cmd.h"
#include "commands/cmd_docs.h"
#include "commands/config.h"
#include "base/kv.h"

#include <ctype.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#define SRV_NAME_MAX 64

/* ------------------------------------------------------------------ */
/* shared helpers */

/* Connection commands need the calling client.  The runtime always provides
 * it for CMD_LOCAL commands; this guards against a routing mistake without
 * crashing the server. */
static bool srv_need_conn(struct cmd_ctx *c)
{
	if (c->conn)
		return true;
	resp_error(c->out, "ERR this command must run on the client's own shard");
	return false;
}

/* Appends at most max bytes of a, stopping at a NUL as printf's %.Ns does. */
static void srv_append_clipped(struct kv_buf *b, const struct kv_slice *a, size_t max)
{
	size_t n = KV_MIN(a->len, max);
	const char *nul = memchr(a->ptr, '\0', n);
	kv_buf_append(b, a->ptr, nul ? (size_t)(nul - a->ptr) : n);
}

/* "ERR <prefix>'<arg>'<suffix>" with the argument as a C string, the way
 * Redis formats an sds with %s. */
static void srv_error_with_arg(struct kv_buf *out, const char *prefix, const struct kv_slice *a,
			       size_t max, const char *suffix)
{
	struct kv_buf msg = KV_BUF_INIT;
	kv_buf_append_str(&msg, prefix);
	srv_append_clipped(&msg, a, max);
	kv_buf_append_str(&msg, suffix);
	resp_error(out, kv_buf_cstr(&msg));
	kv_buf_free(&msg);
}


/* ------------------------------------------------------------------ */
/* PING ECHO SELECT QUIT */

static void cmd_ping(struct cmd_ctx *c)
{
	/* A subscriber gets PING as a push-style array, as in Redis. */
	if (c->argc <= 2 && c->conn && !resp_is3(c->out) &&
	    c->rt->conn_subscriptions(c->conn) > 0) {
		resp_array(c->out, 2);
		resp_bulk_str(c->out, "pong");
		if (c->argc == 2)
			resp_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
		else
			resp_bulk(c->out, "", 0);
		return;
	}
	if (c->argc > 2)
		resp_error(c->out, "ERR wrong number of arguments for 'ping' command");
	else if (c->argc == 2)
		resp_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
	else
		resp_simple(c->out, "PONG");
}

static void cmd_echo(struct cmd_ctx *c)
{
	resp_bulk(c->out, c->argv[1].ptr, c->argv[1].len);
}

/* The runtime moves the client to c->dbid after the command (and, inside
 * EXEC, runs the queued commands after it there). */
static void cmd_select(struct cmd_ctx *c)
{
	int64_t id;
	if (!arg_to_int64(&c->argv[1], &id))
		resp_error(c->out, RESP_ERR_NOT_INT);
	else if (id < INT32_MIN || id > INT32_MAX)
		resp_error(c->out, "ERR value is out of range, value must between -2147483648 and "
				   "2147483647");
	else if (id < 0 || id >= g_config.databases)
		resp_error(c->out, "ERR DB index is out of range");
	else {
		c->dbid = (uint32_t)id;
		resp_ok(c->out);
	}
}

static void cmd_quit(struct cmd_ctx *c)
{
	resp_ok(c->out);
	if (c->conn)
		c->rt->conn_close_after_reply(c->conn);
}

/* ------------------------------------------------------------------ */
/* AUTH HELLO */

#define SRV_ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

/* AUTH's and HELLO AUTH's check (commands/acl.h): the user must exist,
 * be on, and take the password.  A failure goes into ACL LOG, as Redis
 * logs it (object: the command as typed).  Returns true when the client
 * now runs as that user; otherwise the error has been appended. */
static bool srv_authenticate(struct cmd_ctx *c, const struct kv_slice *user,
			     const struct kv_slice *pass)
{
	static const struct kv_slice def = { "default", 7 };
	if (!user && !acl_default_has_password()) {
		resp_error(c->out, "ERR AUTH <password> called without any password configured "
				   "for the default user. Are you sure your configuration is correct?");
		return false;
	}
	if (!user)
		user = &def;
	struct acl_user *u = acl_authenticate(user->ptr, user->len, pass->ptr, pass->len);
	if (!u) {
		struct kv_buf ci;
		kv_buf_init(&ci);
		c->rt->conn_info_line(c->conn, &ci);
		acl_log_add(ACL_DENIED_AUTH, ACL_CTX_TOPLEVEL, c->argv[0].ptr, c->argv[0].len,
			    user->ptr, user->len, ci.data ? ci.data : "", ci.len);
		kv_buf_free(&ci);
		resp_error(c->out, SRV_ERR_WRONGPASS);
		return false;
	}
	c->rt->conn_set_user(c->conn, u);
	acl_user_unref(u);
	return true;
}

static void cmd_auth(struct cmd_ctx *c)
{
	if (!srv_need_conn(c))
		return;
	if (c->argc > 3) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	const struct kv_slice *user = c->argc == 3 ? &c->argv[1] : NULL;
	if (srv_authenticate(c, user, &c->argv[c->argc - 1]))
		resp_ok(c->out);
}

/* Redis accepts client names made of '!'..'~' only. */
static bool srv_valid_client_name(const struct kv_slice *name)
{
	for (size_t i = 0; i < name->len; i++)
		if (name->ptr[i] < '!' || name->ptr[i] > '~')
			return false;
	return true;
}

#define SRV_ERR_CLIENT_NAME "ERR Client names cannot contain spaces, newlines or special characters."

static void srv_hello_reply(struct cmd_ctx *c)
{
	resp_map(c->out, 7);
	resp_bulk_str(c->out, "server");
	resp_bulk_str(c->out, "redis");
	resp_bulk_str(c->out, "version");
	resp_bulk_str(c->out, KV_REDIS_COMPAT_VERSION);
	resp_bulk_str(c->out, "proto");
	resp_int(c->out, c->rt->conn_proto(c->conn));
	resp_bulk_str(c->out, "id");
	resp_int(c->out, (int64_t)c->rt->conn_id(c->conn));
	resp_bulk_str(c->out, "mode");
	resp_bulk_str(c->out, "standalone");
	resp_bulk_str(c->out, "role");
	resp_bulk_str(c->out, "master");
	resp_bulk_str(c->out, "modules");
	resp_array(c->out, 0);
}

/* HELLO [protover [AUTH user pass] [SETNAME name]].  Checks run in Redis's
 * order: protocol version, options (a bad SETNAME name fails here), AUTH,
 * then the must-be-authenticated rule; only then does the protocol change,
 * and the reply (a map) is already in the new one. */
static void cmd_hello(struct cmd_ctx *c)
{
	if (!srv_need_conn(c))
		return;
	int64_t ver = 0;
	if (c->argc >= 2) {
		if (!arg_to_int64(&c->argv[1], &ver)) {
			resp_error(c->out, "ERR Protocol version is not an integer or out of range");
			return;
		}
		if (ver != RESP_PROTO_2 && ver != RESP_PROTO_3) {
			resp_error(c->out, "NOPROTO unsupported protocol version");
			return;
		}
	}
	const struct kv_slice *user = NULL, *pass = NULL, *name = NULL;
	for (int j = 2; j < c->argc; j++) {
		int more = c->argc - 1 - j;
		if (arg_is(&c->argv[j], "auth") && more >= 2) {
			user = &c->argv[j + 1];
			pass = &c->argv[j + 2];
			j += 2;
		} else if (arg_is(&c->argv[j], "setname") && more >= 1) {
			name = &c->argv[++j];
			if (!srv_valid_client_name(name)) {
				resp_error(c->out, SRV_ERR_CLIENT_NAME);
				return;
			}
		} else {
			srv_error_with_arg(c->out, "ERR Syntax error in HELLO option '", &c->argv[j],
					   SIZE_MAX, "'");
			return;
		}
	}
	if (user && !srv_authenticate(c, user, pass))
		return;
	if (!c->rt->conn_authenticated(c->conn) && acl_auth_required()) {
		resp_error(c->out, "NOAUTH HELLO must be called with the client already "
				   "authenticated, otherwise the HELLO AUTH <user> <pass> option can "
				   "be used to authenticate the client and select the RESP protocol "
				   "version at the same time");
		return;
	}
	if (name)
		c->rt->conn_set_name(c->conn, name->ptr, name->len);
	if (ver) {
		c->rt->conn_set_proto(c->conn, (int)ver);
		resp_set_proto(c->out, (unsigned char)ver);
	}
	srv_hello_reply(c);
}

/* ------------------------------------------------------------------ */
/* COMMAND */

#define ACL_BIT(x) (1u << (x))

/* A category by name: its index in Redis's order (commands/acl.h). */
static bool srv_acl_lookup(const struct kv_slice *name, int *out)
{
	for (int i = 0; i < ACL_CAT_COUNT; i++) {
		if (arg_is(name, acl_category_name(i))) {
			*out = i;
			return true;
		}
	}
	return false;
}

/* Flag names in the order Redis's COMMAND INFO prints them. */
static const struct {
	uint32_t flag;
	const char *name;
} srv_flag_names[] = {
	{ CMD_WRITE, "write" }, { CMD_READONLY, "readonly" }, { CMD_DENYOOM, "denyoom" },
	{ CMD_ADMIN, "admin" }, { CMD_PUBSUB, "pubsub" }, { CMD_NOSCRIPT, "noscript" },
	{ CMD_BLOCKING, "blocking" }, { CMD_LOADING, "loading" }, { CMD_STALE, "stale" },
	{ CMD_SKIP_MONITOR, "skip_monitor" }, { 0, "skip_slowlog" }, { CMD_FAST, "fast" },
	{ CMD_NOAUTH, "no_auth" }, { 0, "no_mandatory_keys" }, { CMD_NO_MULTI, "no_multi" },
};   /* Redis 7.0 shows no flag for PROTECTED */

/* Redis 7.0's NO_MANDATORY_KEYS commands: a call naming no key is valid,
 * and COMMAND GETKEYS answers an empty array for it. */
static bool srv_no_mandatory_keys(const struct kv_command *cmd)
{
	static const char *const names[] = { "eval", "eval_ro", "evalsha", "evalsha_ro",
					     "fcall", "fcall_ro" };
	for (size_t i = 0; i < KV_ARRAY_LEN(names); i++)
		if (strcmp(cmd->name, names[i]) == 0)
			return true;
	return false;
}

static void srv_reply_flags(struct kv_buf *out, const struct kv_command *cmd)
{
	const char *names[KV_ARRAY_LEN(srv_flag_names) + 1];
	int n = 0;
	for (size_t i = 0; i < KV_ARRAY_LEN(srv_flag_names); i++) {
		const char *name = srv_flag_names[i].name;
		/* Two of Redis's flags kevy keeps as rules, not as bits: EXEC
		 * is never in the slow log (its commands are), and these
		 * commands may name no key. */
		bool on = srv_flag_names[i].flag ? (cmd->flags & srv_flag_names[i].flag) != 0
			: strcmp(name, "skip_slowlog") == 0 ? strcmp(cmd->name, "exec") == 0
			: srv_no_mandatory_keys(cmd);
		if (on)
			names[n++] = name;
	}
	if (cmd->keys)
		names[n++] = "movablekeys";
	resp_set(out, n);
	for (int i = 0; i < n; i++)
		resp_simple(out, names[i]);
}

static void srv_reply_acl(struct kv_buf *out, const struct kv_command *cmd)
{
	uint32_t m = acl_categories(cmd);
	resp_set(out, __builtin_popcount(m));
	for (int i = 0; i < ACL_CAT_COUNT; i++) {
		if (m & ACL_BIT(i)) {
			char cat[32];
			snprintf(cat, sizeof(cat), "@%s", acl_category_name(i));
			resp_simple(out, cat);
		}
	}
}

/* Redis 7 turned the RANDOM and SORT_FOR_SCRIPT flags into these tips. */
static void srv_reply_tips(struct kv_buf *out, const struct kv_command *cmd)
{
	bool random = cmd->flags & CMD_RANDOM, sorted = cmd->flags & CMD_SORT_FOR_SCRIPT;
	resp_set(out, random + sorted);
	if (random)
		resp_bulk_str(out, "nondeterministic_output");
	if (sorted)
		resp_bulk_str(out, "nondeterministic_output_order");
}

/* The legacy first/last/step: the keys', or the NOT_KEY channels'. */
static void srv_key_range(const struct kv_command *cmd, int *first, int *last, int *step)
{
	if (cmd->first_key == 0 && cmd->nk_first > 0) {
		*first = cmd->nk_first;
		*last = cmd->nk_last;
		*step = 1;
	} else {
		*first = cmd->first_key;
		*last = cmd->last_key;
		*step = cmd->key_step;
	}
}

static int64_t srv_count_subs(const struct kv_command *cmd)
{
	int64_t n = 0;
	for (const struct kv_command *s = cmd->subcommands; s && s->name; s++)
		n++;
	return n;
}

/* Redis 7.0's COMMAND INFO entry: name, arity, flags, first key, last key,
 * step, ACL categories, tips, key specs, subcommands. */
static void srv_reply_command_info(struct kv_buf *out, const struct kv_command *cmd)
{
	resp_array(out, 10);
	resp_bulk_str(out, cmd->name);
	resp_int(out, cmd->arity);
	srv_reply_flags(out, cmd);
	/* A container has no keys of its own (its subcommands have them),
	 * whatever its table entry says for routing. */
	int first = 0, last = 0, step = 0;
	if (!cmd->subcommands)
		srv_key_range(cmd, &first, &last, &step);
	resp_int(out, first);
	resp_int(out, last);
	resp_int(out, step);
	srv_reply_acl(out, cmd);
	if (!cmd_docs_reply_tips(out, cmd))
		srv_reply_tips(out, cmd);
	cmd_docs_reply_keyspecs(out, cmd);
	/* No subcommands: an empty set, as Redis writes it. */
	if (cmd->subcommands)
		resp_array(out, srv_count_subs(cmd));
	else
		resp_set(out, 0);
	for (const struct kv_command *s = cmd->subcommands; s && s->name; s++)
		srv_reply_command_info(out, s);
}

/* COMMAND DOCS: the name, then its documentation as a map. */
static void srv_reply_command_docs(struct kv_buf *out, const struct kv_command *cmd)
{
	resp_bulk_str(out, cmd->name);
	size_t mark = resp_array_begin(out);
	int64_t n = 0;
	const char *const fields[][2] = {
		{ "summary", cmd->summary }, { "since", cmd->since },
		{ "group", cmd->group }, { "complexity", cmd->complexity },
	};
	for (size_t i = 0; i < KV_ARRAY_LEN(fields); i++) {
		if (!fields[i][1])
			continue;
		resp_bulk_str(out, fields[i][0]);
		resp_bulk_str(out, fields[i][1]);
		n += 2;
	}
	n += 2 * cmd_docs_reply_extra(out, cmd);
	if (cmd->subcommands) {
		resp_bulk_str(out, "subcommands");
		resp_map(out, srv_count_subs(cmd));
		for (const struct kv_command *s = cmd->subcommands; s->name; s++)
			srv_reply_command_docs(out, s);
		n += 2;
	}
	resp_map_end(out, mark, n / 2);
}

/* A command by full name: "get", or "config|get" for a subcommand. */
static const struct kv_command *srv_lookup_full(const struct kv_slice *name)
{
	const char *bar = memchr(name->ptr, '|', name->len);
	if (!bar)
		return cmd_lookup(name->ptr, name->len);
	const struct kv_command *base = cmd_lookup(name->ptr, (size_t)(bar - name->ptr));
	if (!base || !base->subcommands)
		return NULL;
	struct kv_slice sub = { bar + 1, name->len - (size_t)(bar + 1 - name->ptr) };
	return cmd_find_sub(base->subcommands, &sub);
}

static void cmd_command_all(struct cmd_ctx *c)
{
	size_t n = cmd_count();
	resp_array(c->out, (int64_t)n);
	for (size_t i = 0; i < n; i++)
		srv_reply_command_info(c->out, cmd_at(i));
}

static void cmd_command_info(struct cmd_ctx *c)
{
	if (c->argc == 2) {
		cmd_command_all(c);
		return;
	}
	resp_array(c->out, c->argc - 2);
	for (int i = 2; i < c->argc; i++) {
		const struct kv_command *cmd = srv_lookup_full(&c->argv[i]);
		if (cmd)
			srv_reply_command_info(c->out, cmd);
		else
			resp_null(c->out);
	}
}

static void cmd_command_docs(struct cmd_ctx *c)
{
	size_t mark = resp_array_begin(c->out);
	int64_t n = 0;
	if (c->argc == 2) {
		for (size_t i = 0; i < cmd_count(); i++, n += 2)
			srv_reply_command_docs(c->out, cmd_at(i));
	}
	for (int i = 2; i < c->argc; i++) {
		const struct kv_command *cmd = srv_lookup_full(&c->argv[i]);
		if (!cmd)
			continue;
		srv_reply_command_docs(c->out, cmd);
		n += 2;
	}
	resp_map_end(c->out, mark, n / 2);
}

static void cmd_command_count(struct cmd_ctx *c)
{
	resp_int(c->out, (int64_t)cmd_count());
}

/* COMMAND LIST's filter. */
struct srv_list_filter {
	enum { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN } kind;
	bool acl_known;
	int acl;
	const struct kv_slice *arg;
};

static bool srv_list_match(const struct srv_list_filter *f, const struct kv_command *cmd)
{
	switch (f->kind) {
	case FILTER_NONE:
		return true;
	case FILTER_MODULE:
		return false;       /* kevy has no modules */
	case FILTER_ACLCAT:
		return f->acl_known && (acl_categories(cmd) & ACL_BIT(f->acl));
	case FILTER_PATTERN:
		return glob_match(f->arg->ptr, f->arg->len, cmd->name, strlen(cmd->name), true);
	}
	return false;
}

static void cmd_command_list(struct cmd_ctx *c)
{
	struct srv_list_filter f = { FILTER_NONE, false, 0, NULL };
	if (c->argc == 5 && arg_is(&c->argv[2], "filterby")) {
		f.arg = &c->argv[4];
		if (arg_is(&c->argv[3], "module"))
			f.kind = FILTER_MODULE;
		else if (arg_is(&c->argv[3], "aclcat"))
			f.kind = FILTER_ACLCAT;
		else if (arg_is(&c->argv[3], "pattern"))
			f.kind = FILTER_PATTERN;
		else
			goto syntax;
		f.acl_known = srv_acl_lookup(f.arg, &f.acl);
	} else if (c->argc != 2) {
		goto syntax;
	}
	size_t mark = resp_array_begin(c->out);
	int64_t n = 0;
	for (size_t i = 0; i < cmd_count(); i++) {
		const struct kv_command *cmd = cmd_at(i);
		if (srv_list_match(&f, cmd) && ++n)
			resp_bulk_str(c->out, cmd->name);
		for (const struct kv_command *s = cmd->subcommands; s && s->name; s++)
			if (srv_list_match(&f, s) && ++n)
				resp_bulk_str(c->out, s->name);
	}
	resp_array_end(c->out, mark, n);
	return;
syntax:
	resp_error(c->out, RESP_ERR_SYNTAX);
}

/* The command a COMMAND GETKEYS call describes, as Redis's lookupCommand:
 * a container with arguments means its subcommand. */
static const struct kv_command *srv_getkeys_target(int argc, const struct kv_slice *argv)
{
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	if (cmd && cmd->subcommands && argc >= 2)
		return cmd_find_sub(cmd->subcommands, &argv[1]);
	return cmd;
}

static void srv_getkeys(struct cmd_ctx *c, bool with_flags)
{
	int argc = c->argc - 2;
	const struct kv_slice *argv = c->argv + 2;
	const struct kv_command *cmd = srv_getkeys_target(argc, argv);
	if (!cmd) {
		resp_error(c->out, "ERR Invalid command specified");
		return;
	}
	if (!cmd->keys && cmd->first_key <= 0) {   /* NOT_KEY specs are no keys */
		resp_error(c->out, "ERR The command has no key arguments");
		return;
	}
	if (!cmd_arity_ok(cmd, argc)) {
		resp_error(c->out, "ERR Invalid number of arguments specified for command");
		return;
	}
	int *idx = kv_calloc((size_t)argc, sizeof(int));
	uint32_t *flags = kv_calloc((size_t)argc, sizeof(uint32_t));
	int n = cmd_get_keys(cmd, argc, argv, idx, argc);
	if (n > 0 && cmd_docs_key_flags(cmd, argc, argv, idx, n, flags) < 0)
		n = 0;
	if (n <= 0 && srv_no_mandatory_keys(cmd)) {
		resp_array(c->out, 0);
	} else if (n <= 0) {
		resp_error(c->out, "ERR Invalid arguments specified for command");
	} else {
		resp_array(c->out, n);
		for (int i = 0; i < n; i++) {
			if (with_flags)
				resp_array(c->out, 2);
			resp_bulk(c->out, argv[idx[i]].ptr, argv[idx[i]].len);
			if (with_flags)
				cmd_docs_reply_key_flags(c->out, flags[i]);
		}
	}
	free(flags);
	free(idx);
}

static void cmd_command_getkeys(struct cmd_ctx *c)
{
	srv_getkeys(c, false);
}

static void cmd_command_getkeysandflags(struct cmd_ctx *c)
{
	srv_getkeys(c, true);
}

static const char *const srv_command_help[] = {
	"(no subcommand)",
	"    Return details about all Redis commands.",
	"COUNT",
	"    Return the total number of commands in this Redis server.",
	"LIST",
	"    Return a list of all commands in this Redis server.",
	"INFO [<command-name> ...]",
	"    Return details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"DOCS [<command-name> ...]",
	"    Return documentation details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"GETKEYS <full-command>",
	"    Return the keys from a full Redis command.",
	"GETKEYSANDFLAGS <full-command>",
	"    Return the keys and the access flags from a full Redis command.",
	NULL,
};

static void cmd_command_help(struct cmd_ctx *c)
{
	cmd_reply_help(c->out, "COMMAND", srv_command_help);
}

#define SRV_CMD_FLAGS (CMD_LOADING | CMD_STALE | CMD_LOCAL)

static const struct kv_command srv_command_subs[] = {
	{ .name = "command|count", .arity = 2, .flags = SRV_CMD_FLAGS, .proc = cmd_command_count,
	  .group = "server", .since = "2.8.13", .summary = "Get total number of Redis commands",
	  .complexity = "O(1)" },
	{ .name = "command|docs", .arity = -2, .flags = SRV_CMD_FLAGS | CMD_SORT_FOR_SCRIPT,
	  .proc = cmd_command_docs, .group = "server", .since = "7.0.0",
	  .summary = "Get array of specific Redis command documentation",
	  .complexity = "O(N) where N is the number of commands to look up" },
	{ .name = "command|getkeys", .arity = -4, .flags = SRV_CMD_FLAGS,
	  .proc = cmd_command_getkeys, .group = "server", .since = "2.8.13",
	  .summary = "Extract keys given a full Redis command",
	  .complexity = "O(N) where N is the number of arguments to the command" },
	{ .name = "command|getkeysandflags", .arity = -4, .flags = SRV_CMD_FLAGS,
	  .proc = cmd_command_getkeysandflags, .group = "server", .since = "7.0.0",
	  .summary = "Extract keys and access flags given a full Redis command",
	  .complexity = "O(N) where N is the number of arguments to the command" },
	{ .name = "command|help", .arity = 2, .flags = SRV_CMD_FLAGS, .proc = cmd_command_help,
	  .group = "server", .since = "5.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "command|info", .arity = -2, .flags = SRV_CMD_FLAGS | CMD_SORT_FOR_SCRIPT,
	  .proc = cmd_command_info, .group = "server", .since = "2.8.13",
	  .summary = "Get array of specific Redis command details, or all when no argument is "
		     "given.",
	  .complexity = "O(N) where N is the number of commands to look up" },
	{ .name = "command|list", .arity = -2, .flags = SRV_CMD_FLAGS | CMD_SORT_FOR_SCRIPT,
	  .proc = cmd_command_list, .group = "server", .since = "7.0.0",
	  .summary = "Get an array of Redis command names",
	  .complexity = "O(N) where N is the total number of Redis commands" },
	{ .name = NULL },
};

static void cmd_command(struct cmd_ctx *c)
{
	if (c->argc == 1)
		cmd_command_all(c);
	else
		cmd_run_sub(c, srv_command_subs, "command");
}

/* ------------------------------------------------------------------ */
/* CLIENT */

static void cmd_client_id(struct cmd_ctx *c)
{
	if (srv_need_conn(c))
		resp_int(c->out, (int64_t)c->rt->conn_id(c->conn));
}

static void cmd_client_getname(struct cmd_ctx *c)
{
	if (!srv_need_conn(c))
		return;
	const char *name = c->rt->conn_get_name(c->conn);
	if (*name)
		resp_bulk_str(c->out, name);
	else
		resp_null(c->out);
}

static void cmd_client_setname(struct cmd_ctx *c)
{
	if (!srv_need_conn(c))
		return;
	if (!srv_valid_client_name(&c->argv[2])) {
		resp_error(c->out, SRV_ERR_CLIENT_NAME);
		return;
	}
	/* An empty name clears it, as in Redis. */
	c->rt->conn_set_name(c->conn, c->argv[2].ptr, c->argv[2].len);
	resp_ok(c->out);
}

/* One CLIENT LIST line: Redis 7.0's fields in its order (the buffer
 * internals kevy does not have, argv-mem multi-mem rbs rbp oll, are 0,
 * events is "r"), then kevy's own `shard`. */
void cmd_client_line(struct kv_buf *b, const struct client_info *ci)
{
	kv_buf_printf(b, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s "
		      "db=%u sub=%u psub=%u ssub=%u multi=%d qbuf=%llu qbuf-free=%llu argv-mem=0 "
		      "multi-mem=0 rbs=0 rbp=0 obl=%llu oll=0 omem=%llu tot-mem=%llu events=r "
		      "cmd=%s user=%s redir=%lld resp=%d shard=%u\n",
		      (unsigned long long)ci->id, ci->addr, ci->laddr, ci->fd, ci->name,
		      (long long)ci->age_s, (long long)ci->idle_s, ci->flags, ci->db, ci->sub,
		      ci->psub, ci->ssub, (int)ci->multi, (unsigned long long)ci->qbuf,
		      (unsigned long long)ci->qbuf_free, (unsigned long long)ci->obl,
		      (unsigned long long)ci->omem, (unsigned long long)ci->tot_mem, ci->last_cmd,
		      ci->user, (long long)ci->redir, ci->resp, ci->shard);
}

/* Client types: a client with subscriptions is "pubsub", every other one
 * "normal"; the replication types exist in the syntax and match nobody.
 * Returns -1 when unknown. */
enum { SRV_TYPE_NONE = 0, SRV_TYPE_NORMAL = 1, SRV_TYPE_PUBSUB = 2 };
static int srv_client_type(const struct kv_slice *a)
{
	if (arg_is(a, "normal"))
		return SRV_TYPE_NORMAL;
	if (arg_is(a, "pubsub"))
		return SRV_TYPE_PUBSUB;
	if (arg_is(a, "master") || arg_is(a, "replica") || arg_is(a, "slave"))
		return SRV_TYPE_NONE;
	return -1;
}

static bool srv_client_is_type(const struct client_info *ci, int type)
{
	return type == (ci->pubsub ? SRV_TYPE_PUBSUB : SRV_TYPE_NORMAL);
}

static void srv_reply_client_type_error(struct kv_buf *out, const struct kv_slice *a)
{
	srv_error_with_arg(out, "ERR Unknown client type '", a, SIZE_MAX, "'");
}

struct srv_list_ctx {
	struct kv_buf *b;
	bool by_id;
	uint64_t id;
	int type;           /* 0: any */
};

static void srv_list_one(void *arg, const struct client_info *ci)
{
	struct srv_list_ctx *l = arg;
	if ((!l->by_id || ci->id == l->id) && (!l->type || srv_client_is_type(ci, l->type)))
		cmd_client_line(l->b, ci);
}

/* CLIENT LIST [TYPE type | ID id...]: as in Redis, TYPE takes exactly one
 * argument and IDs are listed in the order given. */
static void cmd_client_list(struct cmd_ctx *c)
{
	struct kv_buf b = KV_BUF_INIT;
	struct srv_list_ctx l = { &b, false, 0, 0 };
	if (c->argc == 4 && arg_is(&c->argv[2], "type")) {
		int t = srv_client_type(&c->argv[3]);
		if (t < 0) {
			srv_reply_client_type_error(c->out, &c->argv[3]);
			return;
		}
		l.type = t;
		if (t)
			c->rt->clients_foreach(srv_list_one, &l);
	} else if (c->argc > 3 && arg_is(&c->argv[2], "id")) {
		l.by_id = true;
		for (int i = 3; i < c->argc; i++) {
			int64_t id;
			if (!arg_to_int64(&c->argv[i], &id)) {
				resp_error(c->out, "ERR Invalid client ID");
				kv_buf_free(&b);
				return;
			}
			l.id = (uint64_t)id;
			if (id > 0)
				c->rt->clients_foreach(srv_list_one, &l);
		}
	} else if (c->argc != 2) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	} else {
		c->rt->clients_foreach(srv_list_one, &l);
	}
	resp_verbatim(c->out, "txt", b.data ? b.data : "", b.len);
	kv_buf_free(&b);
}

static void cmd_client_info(struct cmd_ctx *c)
{
	if (!srv_need_conn(c))
		return;
	struct client_info ci;
	c->rt->conn_info(c->conn, &ci);
	struct kv_buf b = KV_BUF_INIT;
	cmd_client_line(&b, &ci);
	resp_verbatim(c->out, "txt", b.data, b.len);
	kv_buf_free(&b);
}

/* CLIENT KILL's filters; every one given must match. */
struct srv_kill_filter {
	bool has_id;
	uint64_t id;
	const struct kv_slice *addr, *laddr, *user;
	int type;               /* SRV_TYPE_*, -1: any */
};

static bool srv_slice_eq(const struct kv_slice *a, const char *s)
{
	return a->len == strlen(s) && memcmp(a->ptr, s, a->len) == 0;
}

static bool srv_kill_match(void *arg, const struct client_info *ci)
{
	const struct srv_kill_filter *f = arg;
	if (f->type == SRV_TYPE_NONE || (f->has_id && ci->id != f->id))
		return false;
	if (f->type > 0 && !srv_client_is_type(ci, f->type))
		return false;
	if (f->addr && !srv_slice_eq(f->addr, ci->addr))
		return false;
	if (f->laddr && !srv_slice_eq(f->laddr, ci->laddr))
		return false;
	if (f->user && !srv_slice_eq(f->user, ci->user))
		return false;
	return true;
}

/* Parses the filter form (ID ADDR LADDR TYPE USER SKIPME, in pairs).
 * Returns false after appending Redis's error. */
static bool srv_kill_parse(struct cmd_ctx *c, struct srv_kill_filter *f, bool *skipme)
{
	for (int i = 2; i < c->argc; i += 2) {
		const struct kv_slice *opt = &c->argv[i], *val = &c->argv[i + 1];
		bool more = c->argc > i + 1;
		int64_t id;
		if (more && arg_is(opt, "id")) {
			if (!arg_to_int64(val, &id) || id < 1) {
				resp_error(c->out, "ERR client-id should be greater than 0");
				return false;
			}
			f->has_id = true;
			f->id = (uint64_t)id;
		} else if (more && arg_is(opt, "type")) {
			int t = srv_client_type(val);
			if (t < 0) {
				srv_reply_client_type_error(c->out, val);
				return false;
			}
			f->type = t;
		} else if (more && arg_is(opt, "addr")) {
			f->addr = val;
		} else if (more && arg_is(opt, "laddr")) {
			f->laddr = val;
		} else if (more && arg_is(opt, "user")) {
			if (!acl_user_exists(val->ptr, val->len)) {
				srv_error_with_arg(c->out, "ERR No such user '", val, SIZE_MAX, "'");
				return false;
			}
			f->user = val;
		} else if (more && arg_is(opt, "skipme")) {
			if (arg_is(val, "yes")) {
				*skipme = true;
			} else if (arg_is(val, "no")) {
				*skipme = false;
			} else {
				resp_error(c->out, RESP_ERR_SYNTAX);
				return false;
			}
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return false;
		}
	}
	return true;
}

/* CLIENT KILL ip:port (old form: may kill the caller, +OK or "No such
 * client") or CLIENT KILL <filter> <value>... (count of clients killed). */
static void cmd_client_kill(struct cmd_ctx *c)
{
	if (!srv_need_conn(c))
		return;
	struct srv_kill_filter f = { false, 0, NULL, NULL, NULL, -1 };
	if (c->argc == 3) {
		f.addr = &c->argv[2];
		if (c->rt->clients_kill(srv_kill_match, &f, 0) == 0)
			resp_error(c->out, "ERR No such client");
		else
			resp_ok(c->out);
		return;
	}
	bool skipme = true;
	if (!srv_kill_parse(c, &f, &skipme))
		return;
	uint64_t n = c->rt->clients_kill(srv_kill_match, &f, skipme ? c->rt->conn_id(c->conn) : 0);
	resp_int(c->out, (int64_t)n);
}

static const char *const srv_client_help[] = {
	"CACHING (YES|NO)",
	"    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
	"GETREDIR",
	"    Return the client ID we are redirecting to when tracking is enabled.",
	"GETNAME",
	"    Return the name of the current connection.",
	"ID",
	"    Return the ID of the current connection.",
	"INFO",
	"    Return information about the current client connection.",
	"KILL <ip:port>",
	"    Kill connection made from <ip:port>.",
	"KILL <option> <value> [<option> <value> [...]]",
	"    Kill connections. Options are:",
	"    * ADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made from the specified address",
	"    * LADDR (<ip:port>|<unixsocket>:0)",
	"      Kill connections made to specified local address",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Kill connections by type.",
	"    * USER <username>",
	"      Kill connections authenticated by <username>.",
	"    * SKIPME (YES|NO)",
	"      Skip killing current connection (default: yes).",
	"    * ID <client-id>",
	"      Kill connections by client id.",
	"LIST [options ...]",
	"    Return information about client connections. Options:",
	"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	"      Return clients of specified type.",
	"    * ID <client-id> [<client-id> ...]",
	"      Return clients of specified IDs only.",
	"UNPAUSE",
	"    Stop the current client pause, resuming traffic.",
	"PAUSE <timeout> [WRITE|ALL]",
	"    Suspend all, or just write, clients for <timeout> milliseconds.",
	"REPLY (ON|OFF|SKIP)",
	"    Control the replies sent to the current connection.",
	"SETNAME <name>",
	"    Assign the name <name> to the current connection.",
	"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
	"         [OPTIN] [OPTOUT] [NOLOOP]",
	"    Control server assisted client side caching.",
	"TRACKINGINFO",
	"    Report tracking status for the current connection.",
	"UNBLOCK <clientid> [TIMEOUT|ERROR]",
	"    Unblock the specified blocked client.",
	"NO-EVICT (ON|OFF)",
	"    Protect current client connection from eviction.",
	NULL,
};

/* CLIENT REPLY ON|OFF|SKIP: only ON is answered; the runtime drops the
 * replies of what follows where replies leave in order (server/route.c,
 * shard_dispatch; docs/protocol.md). */
static void cmd_client_reply(struct cmd_ctx *c)
{
	if (!srv_need_conn(c))
		return;
	const struct kv_slice *a = &c->argv[2];
	if (arg_is(a, "on")) {
		c->rt->conn_set_reply_mode(c->conn, CONN_REPLY_ON);
		resp_ok(c->out);
	} else if (arg_is(a, "off")) {
		c->rt->conn_set_reply_mode(c->conn, CONN_REPLY_OFF);
	} else if (arg_is(a, "skip")) {
		c->rt->conn_set_reply_mode(c->conn, CONN_REPLY_SKIP);
	} else {
		resp_error(c->out, RESP_ERR_SYNTAX);
	}
}

static void cmd_client_no_evict(struct cmd_ctx *c)
{
	if (!srv_need_conn(c))
		return;
	const struct kv_slice *a = &c->argv[2];
	if (arg_is(a, "on") || arg_is(a, "off")) {
		c->rt->conn_set_no_evict(c->conn, arg_is(a, "on"));
		resp_ok(c->out);
	} else {
		resp_error(c->out, RESP_ERR_SYNTAX);
	}
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: the reason is checked before the id,
 * as in Redis; 1 when the client was blocked in a blocking command. */
static void cmd_client_unblock(struct cmd_ctx *c)
{
	if (c->argc > 4) {
		srv_error_with_arg(c->out, "ERR unknown subcommand or wrong number of arguments for '",
				   &c->argv[1], 128, "'. Try CLIENT HELP.");
		return;
	}
	bool error = false;
	if (c->argc == 4) {
		if (arg_is(&c->argv[3], "error")) {
			error = true;
		} else if (!arg_is(&c->argv[3], "timeout")) {
			resp_error(c->out, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
			return;
		}
	}
	int64_t id;
	if (!arg_to_int64(&c->argv[2], &id)) {
		resp_error(c->out, RESP_ERR_NOT_INT);
		return;
	}
	resp_int(c->out, id > 0 && c->rt->client_unblock((uint64_t)id, error) ? 1 : 0);
}

/* CLIENT PAUSE timeout-ms [WRITE|ALL], on every shard. */
static void cmd_client_pause(struct cmd_ctx *c)
{
	if (c->argc > 4) {
		srv_error_with_arg(c->out, "ERR unknown subcommand or wrong number of arguments for '",
				   &c->argv[1], 128, "'. Try CLIENT HELP.");
		return;
	}
	bool all = true;
	if (c->argc == 4) {
		if (arg_is(&c->argv[3], "write")) {
			all = false;
		} else if (!arg_is(&c->argv[3], "all")) {
			resp_error(c->out, "ERR CLIENT PAUSE mode must be WRITE or ALL");
			return;
		}
	}
	int64_t ms;
	if (!arg_to_int64(&c->argv[2], &ms)) {
		resp_error(c->out, "ERR timeout is not an integer or out of range");
		return;
	}
	if (ms < 0) {
		resp_error(c->out, "ERR timeout is negative");
		return;
	}
	/* As Redis: a zero timeout is a pause that is already over. */
	int64_t end = ms > 0 ? (ms > INT64_MAX - c->now_ms ? INT64_MAX : c->now_ms + ms) : 0;
	if (end > 0)
		c->rt->clients_pause(end, all);
	resp_ok(c->out);
}

static void cmd_client_unpause(struct cmd_ctx *c)
{
	c->rt->clients_unpause();
	resp_ok(c->out);
}

static void cmd_client_help(struct cmd_ctx *c)
{
	cmd_reply_help(c->out, "CLIENT", srv_client_help);
}

/* CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO: client-side caching
 * is the runtime's (server/tracking.c, docs/tracking.md). */
static void cmd_client_tracking(struct cmd_ctx *c)
{
	if (srv_need_conn(c))
		c->rt->client_tracking(c);
}

#define SRV_CLIENT_FLAGS (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_LOCAL)

static const struct kv_command srv_client_subs[] = {
	{ .name = "client|caching", .arity = 3, .flags = SRV_CLIENT_FLAGS,
	  .proc = cmd_client_tracking, .group = "connection", .since = "6.0.0",
	  .summary = "Instruct the server about tracking or not keys in the next request",
	  .complexity = "O(1)" },
	{ .name = "client|getredir", .arity = 2, .flags = SRV_CLIENT_FLAGS,
	  .proc = cmd_client_tracking, .group = "connection", .since = "6.0.0",
	  .summary = "Get tracking notifications redirection client ID if any",
	  .complexity = "O(1)" },
	{ .name = "client|tracking", .arity = -3, .flags = SRV_CLIENT_FLAGS,
	  .proc = cmd_client_tracking, .group = "connection", .since = "6.0.0",
	  .summary = "Enable or disable server assisted client side caching support",
	  .complexity = "O(1). Some options may introduce additional complexity." },
	{ .name = "client|trackinginfo", .arity = 2, .flags = SRV_CLIENT_FLAGS,
	  .proc = cmd_client_tracking, .group = "connection", .since = "6.2.0",
	  .summary = "Return information about server assisted client side caching for the "
		     "current connection",
	  .complexity = "O(1)" },
	{ .name = "client|getname", .arity = 2, .flags = SRV_CLIENT_FLAGS,
	  .proc = cmd_client_getname, .group = "connection", .since = "2.6.9",
	  .summary = "Get the current connection name", .complexity = "O(1)" },
	{ .name = "client|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_LOCAL,
	  .proc = cmd_client_help, .group = "connection", .since = "5.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "client|id", .arity = 2, .flags = SRV_CLIENT_FLAGS, .proc = cmd_client_id,
	  .group = "connection", .since = "5.0.0",
	  .summary = "Returns the client ID for the current connection", .complexity = "O(1)" },
	{ .name = "client|info", .arity = 2, .flags = SRV_CLIENT_FLAGS | CMD_RANDOM,
	  .proc = cmd_client_info, .group = "connection", .since = "6.2.0",
	  .summary = "Returns information about the current client connection.",
	  .complexity = "O(1)" },
	{ .name = "client|kill", .arity = -3, .flags = SRV_CLIENT_FLAGS | CMD_ADMIN,
	  .proc = cmd_client_kill, .group = "connection", .since = "2.4.0",
	  .summary = "Kill the connection of a client",
	  .complexity = "O(N) where N is the number of client connections" },
	{ .name = "client|list", .arity = -2, .flags = SRV_CLIENT_FLAGS | CMD_ADMIN | CMD_RANDOM,
	  .proc = cmd_client_list, .group = "connection", .since = "2.4.0",
	  .summary = "Get the list of client connections",
	  .complexity = "O(N) where N is the number of client connections" },
	{ .name = "client|setname", .arity = 3, .flags = SRV_CLIENT_FLAGS,
	  .proc = cmd_client_setname, .group = "connection", .since = "2.6.9",
	  .summary = "Set the current connection name", .complexity = "O(1)" },
	{ .name = "client|no-evict", .arity = 3, .flags = SRV_CLIENT_FLAGS | CMD_ADMIN,
	  .proc = cmd_client_no_evict, .group = "connection", .since = "7.0.0",
	  .summary = "Set client eviction mode for the current connection",
	  .complexity = "O(1)" },
	{ .name = "client|pause", .arity = -3, .flags = SRV_CLIENT_FLAGS | CMD_ADMIN,
	  .proc = cmd_client_pause, .group = "connection", .since = "2.9.50",
	  .summary = "Stop processing commands from clients for some time",
	  .complexity = "O(1)" },
	{ .name = "client|reply", .arity = 3, .flags = SRV_CLIENT_FLAGS,
	  .proc = cmd_client_reply, .group = "connection", .since = "3.2.0",
	  .summary = "Instruct the server whether to reply to commands", .complexity = "O(1)" },
	{ .name = "client|unblock", .arity = -3, .flags = SRV_CLIENT_FLAGS | CMD_ADMIN,
	  .proc = cmd_client_unblock, .group = "connection", .since = "5.0.0",
	  .summary = "Unblock a client blocked in a blocking command from a different "
		     "connection",
	  .complexity = "O(log N) where N is the number of client connections" },
	{ .name = "client|unpause", .arity = 2, .flags = SRV_CLIENT_FLAGS | CMD_ADMIN,
	  .proc = cmd_client_unpause, .group = "connection", .since = "6.2.0",
	  .summary = "Resume processing of clients that were paused",
	  .complexity = "O(N) Where N is the number of paused clients" },
	{ .name = NULL },
};

static void cmd_client(struct cmd_ctx *c)
{
	cmd_run_sub(c, srv_client_subs, "client");
}

/* ------------------------------------------------------------------ */
/* CONFIG */

static void cmd_config_get(struct cmd_ctx *c)
{
	config_get_reply(c->out, c->argc - 2, c->argv + 2);
}

static void cmd_config_set(struct cmd_ctx *c)
{
	config_set_reply(c->out, c->argc - 2, c->argv + 2);
}

static void cmd_config_resetstat(struct cmd_ctx *c)
{
	c->rt->reset_stats();
	resp_ok(c->out);
}

/* The file is written on this shard's thread, with blocking syscalls (two
 * fsyncs): an administrator's rare command on a small file, as Redis runs
 * it on its one thread; only this shard's clients wait. */
static void cmd_config_rewrite(struct cmd_ctx *c)
{
	config_rewrite_reply(c->out);
}

static const char *const srv_config_help[] = {
	"GET <pattern>",
	"    Return parameters matching the glob-like <pattern> and their values.",
	"SET <directive> <value>",
	"    Set the configuration <directive> to <value>.",
	"RESETSTAT",
	"    Reset statistics reported by the INFO command.",
	"REWRITE",
	"    Rewrite the configuration file.",
	NULL,
};

static void cmd_config_help(struct cmd_ctx *c)
{
	cmd_reply_help(c->out, "CONFIG", srv_config_help);
}

#define SRV_CONFIG_FLAGS (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_LOCAL)

static const struct kv_command srv_config_subs[] = {
	{ .name = "config|get", .arity = -3, .flags = SRV_CONFIG_FLAGS, .proc = cmd_config_get,
	  .group = "server", .since = "2.0.0",
	  .summary = "Get the values of configuration parameters",
	  .complexity = "O(N) when N is the number of configuration parameters provided" },
	{ .name = "config|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_LOCAL,
	  .proc = cmd_config_help, .group = "server", .since = "5.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "config|resetstat", .arity = 2, .flags = SRV_CONFIG_FLAGS,
	  .proc = cmd_config_resetstat, .group = "server", .since = "2.0.0",
	  .summary = "Reset the stats returned by INFO", .complexity = "O(1)" },
	{ .name = "config|rewrite", .arity = 2, .flags = SRV_CONFIG_FLAGS,
	  .proc = cmd_config_rewrite, .group = "server", .since = "2.8.0",
	  .summary = "Rewrite the configuration file with the in memory configuration",
	  .complexity = "O(1)" },
	{ .name = "config|set", .arity = -4, .flags = SRV_CONFIG_FLAGS, .proc = cmd_config_set,
	  .group = "server", .since = "2.0.0",
	  .summary = "Set configuration parameters to the given values",
	  .complexity = "O(N) when N is the number of configuration parameters provided" },
	{ .name = NULL },
};

static void cmd_config(struct cmd_ctx *c)
{
	cmd_run_sub(c, srv_config_subs, "config");
}

/* ------------------------------------------------------------------ */
/* TIME SHUTDOWN */

static void cmd_time(struct cmd_ctx *c)
{
	int64_t us = kv_time_us();
	resp_array(c->out, 2);
	resp_bulk_int(c->out, us / 1000000);
	resp_bulk_int(c->out, us % 1000000);
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT].  kevy stops at once, so
 * there is never a shutdown to abort; on success there is no reply, the
 * connection just closes, as with Redis. */
static void cmd_shutdown(struct cmd_ctx *c)
{
	bool save = false, nosave = false, other = false, abort_ = false;
	for (int i = 1; i < c->argc; i++) {
		const struct kv_slice *a = &c->argv[i];
		if (arg_is(a, "nosave")) {
			nosave = true;
		} else if (arg_is(a, "save")) {
			save = true;
		} else if (arg_is(a, "now") || arg_is(a, "force")) {
			other = true;
		} else if (arg_is(a, "abort")) {
			abort_ = true;
		} else {
			resp_error(c->out, RESP_ERR_SYNTAX);
			return;
		}
	}
	if ((abort_ && (save || nosave || other)) || (save && nosave)) {
		resp_error(c->out, RESP_ERR_SYNTAX);
		return;
	}
	if (abort_) {
		resp_error(c->out, "ERR No shutdown in progress.");
		return;
	}
	c->rt->request_shutdown();
}

/* ------------------------------------------------------------------ */
/* the table */

#define SRV_CONN_AUTH (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NOAUTH | CMD_LOCAL)

const struct kv_command cmd_table_server[] = {
	{ .name = "ping", .arity = -1, .flags = CMD_FAST | CMD_LOCAL, .proc = cmd_ping,
	  .group = "connection", .since = "1.0.0", .summary = "Ping the server",
	  .complexity = "O(1)" },
	{ .name = "echo", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_FAST | CMD_LOCAL,
	  .proc = cmd_echo, .group = "connection", .since = "1.0.0",
	  .summary = "Echo the given string", .complexity = "O(1)" },
	{ .name = "select", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_FAST | CMD_LOCAL,
	  .proc = cmd_select, .group = "connection", .since = "1.0.0",
	  .summary = "Change the selected database for the current connection",
	  .complexity = "O(1)" },
	{ .name = "quit", .arity = -1, .flags = SRV_CONN_AUTH, .proc = cmd_quit,
	  .group = "connection", .since = "1.0.0", .summary = "Close the connection",
	  .complexity = "O(1)" },
	{ .name = "hello", .arity = -1, .flags = SRV_CONN_AUTH, .proc = cmd_hello,
	  .group = "connection", .since = "6.0.0", .summary = "Handshake with Redis",
	  .complexity = "O(1)" },
	{ .name = "auth", .arity = -2, .flags = SRV_CONN_AUTH, .proc = cmd_auth,
	  .group = "connection", .since = "1.0.0", .summary = "Authenticate to the server",
	  .complexity = "O(N) where N is the number of passwords defined for the user" },
	{ .name = "client", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_client,
	  .group = "connection", .since = "2.4.0",
	  .summary = "A container for client connection commands",
	  .complexity = "Depends on subcommand.", .subcommands = srv_client_subs },
	{ .name = "command", .arity = -1,
	  .flags = CMD_LOADING | CMD_STALE | CMD_SORT_FOR_SCRIPT | CMD_LOCAL,
	  .proc = cmd_command, .group = "server", .since = "2.8.13",
	  .summary = "Get array of Redis command details",
	  .complexity = "O(N) where N is the total number of Redis commands",
	  .subcommands = srv_command_subs },
	{ .name = "config", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_config,
	  .group = "server", .since = "2.0.0",
	  .summary = "A container for server configuration commands",
	  .complexity = "Depends on subcommand.", .subcommands = srv_config_subs },
	{ .name = "time", .arity = 1,
	  .flags = CMD_LOADING | CMD_STALE | CMD_FAST | CMD_RANDOM | CMD_LOCAL, .proc = cmd_time,
	  .group = "server", .since = "2.6.0", .summary = "Return the current server time",
	  .complexity = "O(1)" },
	{ .name = "shutdown", .arity = -1,
	  .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI | CMD_LOCAL,
	  .proc = cmd_shutdown, .group = "server", .since = "1.0.0",
	  .summary = "Synchronously save the dataset to disk and then shut down the server",
	  .complexity = "O(N) when saving, where N is the total number of keys in all "
			"databases when saving data, otherwise O(1)" },
	{ .name = NULL },
};
