/*
 * script_lua.c - the Lua 5.1 state a shard runs scripts in: the sandbox,
 * the redis.* API, and the Lua <-> RESP conversions, with Redis 7.0's rules
 * and error texts (docs/scripting.md).
 *
 * Sandbox.  Only the base, table, string and math libraries, cjson and bit
 * are opened (no os, io, package, debug; dofile, loadfile and print are
 * removed).  Redis 7 locks the global table and every library table with a
 * patched Lua ("readonly tables"); Debian's Lua has no such patch, so kevy
 * gets the same behaviour from proxies: the globals a script sees are an
 * empty table whose metatable reads through to the real globals and raises
 * "Attempt to modify a readonly table" on a write, and each library table
 * is replaced by a read-through proxy of the same kind.  rawset and
 * setmetatable refuse those proxies, getmetatable returns a read-only view,
 * so the usual tricks meet the same error as in Redis.  Reading an unknown
 * global raises "Script attempted to access nonexistent global variable".
 *
 * Not here: the script cache, routing, the commands (script.c).
 */
#include "server/script_lua.h"
#include "server/script_msgpack.h"
#include "server/script_struct.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/kv.h"
#include "base/log.h"
#include "base/sha1.h"
#include "commands/config.h"
#include "proto/resp.h"
#include "server/shard.h"

extern int luaopen_cjson(lua_State *L);
extern int luaopen_bit(lua_State *L);

/* Registry keys. */
#define REG_GLOBALS "kevy_globals"   /* the real globals table */
#define REG_RO "kevy_readonly"       /* set of protected tables */
#define REG_FLAGS "kevy_flags"       /* fname -> script flags */
#define REG_TAGS "kevy_tags"         /* f_<sha> -> its cache tag (light userdata) */
#define REG_ERRH "kevy_errh"         /* the error handler */
#define REG_LOADG "kevy_loadg"       /* globals while a library loads */
#define REG_FUNCS "kevy_funcs"       /* function name -> callback */

/* Redis 7.0.15, as scripts read it. */
#define SCRIPT_REDIS_VERSION "7.0.15"
#define SCRIPT_REDIS_VERSION_NUM 0x0007000f

/* ---- shebang ---- */

static const struct {
	const char *name;
	uint32_t flag;
} script_flag_names[] = {
	{ "no-writes", SCRIPT_FLAG_NO_WRITES },
	{ "allow-oom", SCRIPT_FLAG_ALLOW_OOM },
	{ "allow-stale", SCRIPT_FLAG_ALLOW_STALE },
	{ "no-cluster", SCRIPT_FLAG_NO_CLUSTER },
	{ "allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT },
};

int script_parse_flag_name(const char *name, size_t len, uint32_t *flags)
{
	for (size_t i = 0; i < sizeof(script_flag_names) / sizeof(script_flag_names[0]); i++)
		if (strlen(script_flag_names[i].name) == len &&
		    memcmp(script_flag_names[i].name, name, len) == 0) {
			*flags |= script_flag_names[i].flag;
			return 0;
		}
	return -1;
}

const char *script_shebang_word(const char **p, const char *end, size_t *len)
{
	const char *q = *p;
	while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
		q++;
	if (q == end) {
		*p = q;
		return NULL;
	}
	const char *w = q;
	while (q < end && *q != ' ' && *q != '\t' && *q != '\r')
		q++;
	*len = (size_t)(q - w);
	*p = q;
	return w;
}

int script_parse_shebang(const char *body, size_t len, uint32_t *flags, size_t *shebang_len,
			 char *err, size_t err_cap)
{
	*flags = SCRIPT_FLAG_COMPAT;
	*shebang_len = 0;
	if (len < 2 || body[0] != '#' || body[1] != '!')
		return 0;
	const char *nl = memchr(body, '\n', len);
	if (!nl) {
		snprintf(err, err_cap, "Invalid script shebang");
		return -1;
	}
	const char *p = body, *end = nl;
	int part = 0;
	uint32_t f = 0;
	while (p < end) {
		size_t wl;
		const char *w = script_shebang_word(&p, end, &wl);
		if (!w)
			break;
		if (part++ == 0) {
			if (wl != 5 || memcmp(w, "#!lua", 5) != 0) {
				snprintf(err, err_cap, "Unexpected engine in script shebang: %.*s",
					 (int)(wl > 200 ? 200 : wl), w);
				return -1;
			}
			continue;
		}
		if (wl >= 6 && memcmp(w, "flags=", 6) == 0) {
			const char *q = w + 6, *qe = p;
			while (q < qe) {
				const char *c = memchr(q, ',', (size_t)(qe - q));
				const char *fe = c ? c : qe;
				if (script_parse_flag_name(q, (size_t)(fe - q), &f) < 0) {
					snprintf(err, err_cap, "Unexpected flag in script shebang: %.*s",
						 (int)(fe - q > 200 ? 200 : fe - q), q);
					return -1;
				}
				q = c ? c + 1 : qe;
			}
		} else {
			snprintf(err, err_cap, "Unknown lua shebang option: %.*s",
				 (int)(wl > 200 ? 200 : wl), w);
			return -1;
		}
	}
	*flags = f;
	*shebang_len = (size_t)(nl - body);
	return 0;
}

/* ---- errors as Redis 7 shapes them ---- */

/* Push {err = "CODE msg"}: text "-CODE msg" keeps its code, anything else
 * gets "ERR"; trailing CR/LF are dropped (Redis's luaPushError rule). */
static void push_error_len(lua_State *L, const char *s, size_t len)
{
	const char *code = "ERR", *msg = s;
	size_t code_len = 3, msg_len = len;
	if (len > 0 && s[0] == '-') {
		const char *sp = memchr(s, ' ', len);
		if (sp) {
			code = s + 1;
			code_len = (size_t)(sp - s - 1);
			msg = sp + 1;
			msg_len = len - (size_t)(sp + 1 - s);
		} else {
			msg = s + 1;
			msg_len = len - 1;
		}
	}
	while (msg_len > 0 && (msg[0] == '\r' || msg[0] == '\n')) {
		msg++;
		msg_len--;
	}
	while (msg_len > 0 && (msg[msg_len - 1] == '\r' || msg[msg_len - 1] == '\n'))
		msg_len--;
	lua_newtable(L);
	lua_pushstring(L, "err");
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	luaL_addlstring(&b, code, code_len);
	luaL_addchar(&b, ' ');
	luaL_addlstring(&b, msg, msg_len);
	luaL_pushresult(&b);
	lua_rawset(L, -3);
}

static void push_error(lua_State *L, const char *s)
{
	push_error_len(L, s, strlen(s));
}

/* Raise the table on top of the stack. */
static int raise_error(lua_State *L)
{
	return lua_error(L);
}

/* The error handler of every run: turns a plain error into {err=...} and
 * adds where it was raised (the first Lua frame), as Redis's does. */
static int script_errh(lua_State *L)
{
	if (!lua_istable(L, 1)) {
		const char *m;
		char tmp[64];
		if (lua_isstring(L, 1)) {
			m = lua_tostring(L, 1);
		} else if (lua_isnil(L, 1)) {
			m = "nil";
		} else if (lua_isboolean(L, 1)) {
			m = lua_toboolean(L, 1) ? "true" : "false";
		} else {
			snprintf(tmp, sizeof(tmp), "%s: %p", luaL_typename(L, 1), lua_topointer(L, 1));
			m = tmp;
		}
		lua_newtable(L);
		lua_pushstring(L, "err");
		lua_pushfstring(L, "ERR %s", m);
		lua_rawset(L, -3);
		lua_replace(L, 1);
		lua_settop(L, 1);
	}
	lua_Debug ar;
	bool have = false;
	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "nSl", &ar)) {
		have = true;
		if (strcmp(ar.what, "C") == 0)
			have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "nSl", &ar);
	}
	if (have) {
		lua_pushstring(L, "source");
		lua_pushstring(L, ar.source);
		lua_rawset(L, 1);
		lua_pushstring(L, "line");
		lua_pushinteger(L, ar.currentline);
		lua_rawset(L, 1);
	}
	return 1;
}

/* ---- RESP -> Lua (redis.call's reply) ---- */

static const char *line_end(const char *p, const char *end)
{
	while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n'))
		p++;
	return p;
}

static int64_t line_int(const char *p, const char *e)
{
	int64_t v = 0;
	bool neg = p < e && *p == '-';
	if (neg)
		p++;
	while (p < e && *p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return neg ? -v : v;
}

/* Push the reply at p (written by kevy's own handlers, so well formed) and
 * return what follows it. */
static const char *resp_to_lua(lua_State *L, const char *p, const char *end)
{
	if (!lua_checkstack(L, 4))
		luaL_error(L, "reached lua stack limit");
	char t = *p++;
	const char *e = line_end(p, end);
	const char *next = e + 2 <= end ? e + 2 : end;
	switch (t) {
	case '+':
		lua_newtable(L);
		lua_pushstring(L, "ok");
		lua_pushlstring(L, p, (size_t)(e - p));
		lua_rawset(L, -3);
		return next;
	case '-':
		push_error_len(L, p - 1, (size_t)(e - p + 1));
		lua_pushstring(L, "ignore_error_stats_update");
		lua_pushboolean(L, 1);
		lua_rawset(L, -3);
		return next;
	case ':':
		lua_pushnumber(L, (lua_Number)line_int(p, e));
		return next;
	case '$': {
		int64_t n = line_int(p, e);
		if (n < 0) {
			lua_pushboolean(L, 0);
			return next;
		}
		if (next + n > end)
			n = end - next;
		lua_pushlstring(L, next, (size_t)n);
		return next + n + 2 <= end ? next + n + 2 : end;
	}
	case '*': {
		int64_t n = line_int(p, e);
		if (n < 0) {
			lua_pushboolean(L, 0);
			return next;
		}
		lua_createtable(L, n > 1024 ? 1024 : (int)n, 0);
		const char *q = next;
		for (int64_t i = 0; i < n && q < end; i++) {
			q = resp_to_lua(L, q, end);
			lua_rawseti(L, -2, (int)(i + 1));
		}
		return q;
	}
	/* RESP3 (redis.setresp(3)), as Redis hands them to Lua. */
	case '_':
		lua_pushnil(L);
		return next;
	case '#':
		lua_pushboolean(L, p < e && *p == 't');
		return next;
	case ',': {
		char num[128];
		size_t n = (size_t)(e - p) < sizeof(num) - 1 ? (size_t)(e - p) : sizeof(num) - 1;
		memcpy(num, p, n);
		num[n] = '\0';
		lua_newtable(L);
		lua_pushstring(L, "double");
		lua_pushnumber(L, strtod(num, NULL));
		lua_rawset(L, -3);
		return next;
	}
	case '(':
		lua_newtable(L);
		lua_pushstring(L, "big_number");
		lua_pushlstring(L, p, (size_t)(e - p));
		lua_rawset(L, -3);
		return next;
	case '=': {
		int64_t n = line_int(p, e);
		if (n < 4 || next + n > end)
			n = next + 4 <= end && n >= 4 ? end - next : 4;
		lua_newtable(L);
		lua_pushstring(L, "verbatim_string");
		lua_newtable(L);
		lua_pushstring(L, "format");
		lua_pushlstring(L, next, 3);
		lua_rawset(L, -3);
		lua_pushstring(L, "string");
		lua_pushlstring(L, next + 4, (size_t)(n - 4));
		lua_rawset(L, -3);
		lua_rawset(L, -3);
		return next + n + 2 <= end ? next + n + 2 : end;
	}
	case '%':
	case '~': {
		int64_t n = line_int(p, e);
		lua_newtable(L);
		lua_pushstring(L, t == '%' ? "map" : "set");
		lua_newtable(L);
		const char *q = next;
		for (int64_t i = 0; i < n && q < end; i++) {
			q = resp_to_lua(L, q, end);
			if (t == '%')
				q = q < end ? resp_to_lua(L, q, end) : (lua_pushboolean(L, 0), q);
			else
				lua_pushboolean(L, 1);
			if (lua_isnil(L, -2))
				lua_pop(L, 2);   /* a nil key cannot be stored */
			else
				lua_rawset(L, -3);
		}
		lua_rawset(L, -3);
		return q;
	}
	case '|': {
		/* Attributes are not given to scripts (as in Redis 7.0): skip
		 * the pairs, then the reply they annotate. */
		int64_t n = line_int(p, e);
		const char *q = next;
		for (int64_t i = 0; i < 2 * n && q < end; i++) {
			q = resp_to_lua(L, q, end);
			lua_pop(L, 1);
		}
		return q < end ? resp_to_lua(L, q, end) : (lua_pushboolean(L, 0), end);
	}
	default:
		lua_pushboolean(L, 0);
		return end;
	}
}

/* ---- Lua -> RESP (the script's reply) ---- */

static int64_t lua_num_to_int(lua_Number d)
{
	/* What a C cast gives on x86 for values out of range, without the
	 * undefined behaviour. */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)d;
}

static void reply_status_clean(struct kv_buf *out, const char *s, size_t n)
{
	kv_buf_append_char(out, '+');
	size_t at = out->len;
	kv_buf_append(out, s, n);
	for (size_t i = at; i < out->len; i++)
		if (out->data[i] == '\r' || out->data[i] == '\n')
			out->data[i] = ' ';
	kv_buf_append(out, "\r\n", 2);
}

static void reply_error_clean(struct kv_buf *out, const char *s, size_t n)
{
	kv_buf_append_char(out, '-');
	size_t at = out->len;
	kv_buf_append(out, s, n);
	for (size_t i = at; i < out->len; i++)
		if (out->data[i] == '\r' || out->data[i] == '\n')
			out->data[i] = ' ';
	kv_buf_append(out, "\r\n", 2);
}

/* A string field of the table on top, or NULL. */
static const char *table_str(lua_State *L, const char *field, size_t *len)
{
	lua_pushstring(L, field);
	lua_rawget(L, -2);
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
	lua_pop(L, 1);   /* the string stays alive: the table holds it */
	return s;
}

static void lua_to_resp(lua_State *L, struct kv_buf *out, int depth, int resp);

static void lua_table_to_resp(lua_State *L, struct kv_buf *out, int depth, int resp)
{
	size_t n;
	const char *s = table_str(L, "err", &n);
	if (s) {
		reply_error_clean(out, s, n);
		return;
	}
	if ((s = table_str(L, "ok", &n))) {
		reply_status_clean(out, s, n);
		return;
	}
	/* The RESP3 shapes: their RESP3 types for a RESP3 client, Redis's
	 * RESP2 forms otherwise (the writers choose by out->proto). */
	lua_pushstring(L, "double");
	lua_rawget(L, -2);
	if (lua_type(L, -1) == LUA_TNUMBER) {
		resp_double(out, (double)lua_tonumber(L, -1));
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	if ((s = table_str(L, "big_number", &n))) {
		/* Redis maps CR and LF to spaces, so the digits stay one line. */
		char *clean = kv_malloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			clean[i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
		resp_bignum(out, clean, n);
		free(clean);
		return;
	}
	lua_pushstring(L, "verbatim_string");
	lua_rawget(L, -2);
	size_t flen = 0;
	const char *fmt;
	if (lua_type(L, -1) == LUA_TTABLE && (s = table_str(L, "string", &n)) &&
	    (fmt = table_str(L, "format", &flen))) {
		char f[4] = "txt";
		if (flen == 3)
			memcpy(f, fmt, 3);
		resp_verbatim(out, f, s, n);
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	lua_pushstring(L, "map");
	lua_rawget(L, -2);
	if (lua_type(L, -1) == LUA_TTABLE) {
		size_t mark = resp_array_begin(out);
		int64_t count = 0;
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			lua_pushvalue(L, -2);
			lua_to_resp(L, out, depth + 1, resp);   /* key */
			lua_to_resp(L, out, depth + 1, resp);   /* value */
			count++;
		}
		resp_map_end(out, mark, count);
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	lua_pushstring(L, "set");
	lua_rawget(L, -2);
	if (lua_type(L, -1) == LUA_TTABLE) {
		size_t mark = resp_array_begin(out);
		int64_t count = 0;
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			lua_pop(L, 1);
			lua_pushvalue(L, -1);
			lua_to_resp(L, out, depth + 1, resp);
			count++;
		}
		resp_set_end(out, mark, count);
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	/* An array: elements 1, 2, ... up to the first nil. */
	size_t mark = resp_array_begin(out);
	int64_t count = 0;
	for (int j = 1;; j++) {
		lua_rawgeti(L, -1, j);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			break;
		}
		lua_to_resp(L, out, depth + 1, resp);
		count++;
	}
	resp_array_end(out, mark, count);
}

/* Append the value on top of the stack as a reply and pop it; resp is the
 * script's redis.setresp (booleans: Redis gives 1 / null under 2, a
 * boolean, :1 / :0 to a RESP2 client, under 3). */
static void lua_to_resp(lua_State *L, struct kv_buf *out, int depth, int resp)
{
	if (depth > 1000 || !lua_checkstack(L, 4)) {
		resp_error(out, "ERR reached lua stack limit");
		lua_pop(L, 1);
		return;
	}
	switch (lua_type(L, -1)) {
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, -1, &n);
		resp_bulk(out, s, n);
		break;
	}
	case LUA_TBOOLEAN:
		if (resp == 3)
			resp_bool(out, lua_toboolean(L, -1));
		else if (lua_toboolean(L, -1))
			resp_int(out, 1);
		else
			resp_null(out);
		break;
	case LUA_TNUMBER:
		resp_int(out, lua_num_to_int(lua_tonumber(L, -1)));
		break;
	case LUA_TTABLE:
		lua_table_to_resp(L, out, depth, resp);
		break;
	default:
		resp_null(out);
	}
	lua_pop(L, 1);
}

/* ---- the redis.* API ---- */

static struct script_engine *engine_of(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return ud;
}

/* redis.call / redis.pcall */
static int api_generic_call(lua_State *L, bool raise)
{
	struct script_engine *e = engine_of(L);
	struct script_run *run = e->run;
	if (!run) {
		push_error(L, "redis.call/pcall can only be called inside a script invocation");
		return raise_error(L);
	}
	int argc = lua_gettop(L);
	if (argc == 0) {
		push_error(L, "Please specify at least one argument for this redis lib call");
		return raise ? raise_error(L) : 1;
	}
	/* Numbers become "%.17g" text, as Redis formats them (Lua's own
	 * tostring would lose precision). */
	struct kv_slice stack_argv[16];
	struct kv_slice *argv = argc <= 16 ? stack_argv : kv_malloc((size_t)argc * sizeof(*argv));
	struct kv_buf nums = KV_BUF_INIT;
	size_t *num_off = kv_calloc((size_t)argc, sizeof(*num_off));
	bool bad = false;
	for (int i = 0; i < argc; i++) {
		int t = lua_type(L, i + 1);
		if (t == LUA_TNUMBER) {
			num_off[i] = nums.len + 1;
			kv_buf_printf(&nums, "%.17g", (double)lua_tonumber(L, i + 1));
			argv[i].len = nums.len - (num_off[i] - 1);
		} else if (t == LUA_TSTRING) {
			argv[i].ptr = lua_tolstring(L, i + 1, &argv[i].len);
		} else {
			bad = true;
			break;
		}
	}
	const char *err = NULL;
	struct kv_buf reply = KV_BUF_INIT;
	reply.proto = (unsigned char)run->resp;   /* the protocol the reply is parsed in */
	if (bad) {
		err = "Lua redis lib command arguments must be strings or integers";
	} else {
		for (int i = 0; i < argc; i++)
			if (num_off[i])
				argv[i].ptr = nums.data + num_off[i] - 1;
		err = run->call(run, argc, argv, &reply);
	}
	free(num_off);
	kv_buf_free(&nums);
	if (argv != stack_argv)
		free(argv);
	lua_settop(L, 0);
	if (err) {
		kv_buf_free(&reply);
		push_error(L, err);
		return raise ? raise_error(L) : 1;
	}
	bool is_err = reply.len > 0 && reply.data[0] == '-';
	if (reply.len == 0)
		lua_pushboolean(L, 0);
	else
		resp_to_lua(L, reply.data, reply.data + reply.len);
	kv_buf_free(&reply);
	if (raise && is_err)
		return raise_error(L);
	return 1;
}

static int api_call(lua_State *L) { return api_generic_call(L, true); }
static int api_pcall(lua_State *L) { return api_generic_call(L, false); }

/* pcall as Redis 7 has it: an error that is a {err=...} table comes back
 * as its message, as older scripts expect. */
static int api_lua_pcall(lua_State *L)
{
	int argc = lua_gettop(L);
	luaL_checkany(L, 1);
	lua_pushboolean(L, 1);
	lua_insert(L, 1);
	if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
		lua_remove(L, 1);
		if (lua_istable(L, -1)) {
			lua_getfield(L, -1, "err");
			if (lua_isstring(L, -1))
				lua_replace(L, -2);
			else
				lua_pop(L, 1);
		}
		lua_pushboolean(L, 0);
		lua_insert(L, 1);
	}
	return lua_gettop(L);
}

static int api_sha1hex(lua_State *L)
{
	if (lua_gettop(L) != 1) {
		push_error(L, "wrong number of arguments");
		return raise_error(L);
	}
	size_t len;
	const char *s = lua_tolstring(L, 1, &len);
	char hex[41];
	sha1_hex(s ? s : "", s ? len : 0, hex);
	lua_pushstring(L, hex);
	return 1;
}

static int api_error_reply(lua_State *L)
{
	if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
		push_error(L, "wrong number or type of arguments");
		return 1;
	}
	size_t len;
	const char *s = lua_tolstring(L, 1, &len);
	if (len > 0 && s[0] == '-') {
		push_error_len(L, s, len);
	} else {
		lua_pushfstring(L, "-%s", s);
		size_t n;
		const char *t = lua_tolstring(L, -1, &n);
		push_error_len(L, t, n);
	}
	return 1;
}

static int api_status_reply(lua_State *L)
{
	if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
		push_error(L, "wrong number or type of arguments");
		return 1;
	}
	lua_newtable(L);
	lua_pushstring(L, "ok");
	lua_pushvalue(L, -3);
	lua_rawset(L, -3);
	return 1;
}

static int api_log(lua_State *L)
{
	int argc = lua_gettop(L);
	if (argc < 2) {
		push_error(L, "redis.log() requires two arguments or more.");
		return raise_error(L);
	}
	if (!lua_isnumber(L, 1)) {
		push_error(L, "First argument must be a number (log level).");
		return raise_error(L);
	}
	int level = (int)lua_tonumber(L, 1);
	if (level < LOG_DEBUG || level > LOG_WARNING) {
		push_error(L, "Invalid debug level.");
		return raise_error(L);
	}
	struct kv_buf b = KV_BUF_INIT;
	for (int j = 2; j <= argc; j++) {
		size_t len;
		const char *s = lua_tolstring(L, j, &len);
		if (!s)
			continue;
		if (j != 2)
			kv_buf_append_char(&b, ' ');
		kv_buf_append(&b, s, len);
	}
	log_msg(level, "%.*s", (int)b.len, b.data ? b.data : "");
	kv_buf_free(&b);
	return 0;
}

static int api_setresp(lua_State *L)
{
	struct script_run *run = engine_of(L)->run;
	if (!run) {
		push_error(L, "redis.setresp can only be called inside a script invocation");
		return raise_error(L);
	}
	if (lua_gettop(L) != 1) {
		push_error(L, "redis.setresp() requires one argument.");
		return raise_error(L);
	}
	int resp = (int)lua_tonumber(L, 1);
	if (resp != 2 && resp != 3) {
		push_error(L, "RESP version must be 2 or 3.");
		return raise_error(L);
	}
	run->resp = resp;
	return 0;
}

/* redis.set_repl: kevy always logs a script's effects (docs/scripting.md),
 * so the flags are checked and otherwise ignored. */
static int api_set_repl(lua_State *L)
{
	if (!engine_of(L)->run) {
		push_error(L, "redis.set_repl can only be called inside a script invocation");
		return raise_error(L);
	}
	if (lua_gettop(L) != 1) {
		push_error(L, "redis.set_repl() requires two arguments.");
		return raise_error(L);
	}
	int flags = (int)lua_tonumber(L, -1);
	if (flags & ~3) {
		push_error(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or "
			      "REPL_NONE.");
		return raise_error(L);
	}
	return 0;
}

static int api_replicate_commands(lua_State *L)
{
	lua_pushboolean(L, 1);
	return 1;
}

static int api_noop(lua_State *L)
{
	(void)L;
	return 0;
}

/* redis.acl_check_cmd(cmd, args...): whether the script's caller may run
 * that call (commands/acl.h); an unknown command is an error. */
#define ACL_CHECK_MAX_ARGS 256
static int api_acl_check_cmd(lua_State *L)
{
	struct script_run *run = engine_of(L)->run;
	if (!run) {
		push_error(L, "redis.acl_check_cmd can only be called inside a script invocation");
		return raise_error(L);
	}
	int argc = lua_gettop(L);
	if (argc == 0) {
		push_error(L, "Please specify at least one argument for this redis lib call");
		return raise_error(L);
	}
	if (argc > ACL_CHECK_MAX_ARGS)
		argc = ACL_CHECK_MAX_ARGS;
	struct kv_slice argv[ACL_CHECK_MAX_ARGS];
	for (int i = 0; i < argc; i++) {
		if (!lua_isstring(L, i + 1)) {
			push_error(L, "Lua redis lib command arguments must be strings or integers");
			return raise_error(L);
		}
		argv[i].ptr = lua_tolstring(L, i + 1, &argv[i].len);
	}
	const struct kv_command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
	if (cmd && cmd->subcommands && argc >= 2 && !cmd_find_sub(cmd->subcommands, &argv[1]))
		cmd = NULL;
	if (!cmd) {
		push_error(L, "Invalid command passed to redis.acl_check_cmd()");
		return raise_error(L);
	}
	bool ok = true;
	if (run->user) {
		int pos;
		/* Keys are taken from a well-formed call only. */
		int n = cmd_arity_ok(cmd_stat_target(cmd, argc, argv), argc) ? argc : 1;
		ok = acl_check(run->user, cmd, n, argv, &pos) == ACL_OK;
	}
	lua_pushboolean(L, ok);
	return 1;
}

/* ---- redis.register_function (FUNCTION LOAD only) ---- */

static bool fn_name_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static int fn_fail(lua_State *L, const char *msg)
{
	push_error(L, msg);
	return raise_error(L);
}

/* Flags of a register_function call: a table of names. */
static int fn_read_flags(lua_State *L, int idx, uint32_t *flags)
{
	for (int j = 1;; j++) {
		lua_rawgeti(L, idx, j);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			return 0;
		}
		size_t n;
		const char *f = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
		char low[64];
		if (!f || n >= sizeof(low)) {
			lua_pop(L, 1);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			low[i] = (char)tolower((unsigned char)f[i]);
		lua_pop(L, 1);
		if (script_parse_flag_name(low, n, flags) < 0)
			return -1;
	}
}

static int api_register_function(lua_State *L)
{
	struct script_engine *e = engine_of(L);
	if (!e->loading)
		return fn_fail(L, "redis.register_function can only be called on FUNCTION LOAD "
				  "command");
	int argc = lua_gettop(L);
	if (argc < 1 || argc > 2)
		return fn_fail(L, "wrong number of arguments to redis.register_function");
	int name_idx = 0, fn_idx = 0, desc_idx = 0;
	uint32_t flags = 0;
	if (argc == 2) {
		if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER)
			return fn_fail(L, "first argument to redis.register_function must be a string");
		if (!lua_isfunction(L, 2))
			return fn_fail(L, "second argument to redis.register_function must be a "
					  "function");
		name_idx = 1;
		fn_idx = 2;
	} else {
		if (!lua_istable(L, 1))
			return fn_fail(L, "calling redis.register_function with a single argument is "
					  "only applicable to Lua table (representing named arguments).");
		/* Slots 2, 3, 4: name, description, callback. */
		lua_settop(L, 1);
		lua_pushnil(L);
		lua_pushnil(L);
		lua_pushnil(L);
		lua_pushnil(L);
		while (lua_next(L, 1)) {
			if (lua_type(L, -2) != LUA_TSTRING)
				return fn_fail(L, "named argument key given to redis.register_function "
						  "is not a string");
			const char *key = lua_tostring(L, -2);
			int slot = 0;
			if (strcasecmp(key, "function_name") == 0) {
				if (!lua_isstring(L, -1))
					return fn_fail(L, "function_name argument given to "
							  "redis.register_function must be a string");
				slot = name_idx = 2;
			} else if (strcasecmp(key, "description") == 0) {
				if (!lua_isstring(L, -1))
					return fn_fail(L, "description argument given to "
							  "redis.register_function must be a string");
				slot = desc_idx = 3;
			} else if (strcasecmp(key, "callback") == 0) {
				if (!lua_isfunction(L, -1))
					return fn_fail(L, "callback argument given to "
							  "redis.register_function must be a function");
				slot = fn_idx = 4;
			} else if (strcasecmp(key, "flags") == 0) {
				if (!lua_istable(L, -1))
					return fn_fail(L, "flags argument to redis.register_function must "
							  "be a table representing function flags");
				if (fn_read_flags(L, lua_gettop(L), &flags) < 0)
					return fn_fail(L, "unknown flag given");
			} else {
				return fn_fail(L, "unknown argument given to redis.register_function");
			}
			if (slot)
				lua_replace(L, slot);
			else
				lua_pop(L, 1);
		}
		if (!name_idx)
			return fn_fail(L, "redis.register_function must get a function name argument");
		if (!fn_idx)
			return fn_fail(L, "redis.register_function must get a callback argument");
	}
	size_t nlen;
	const char *name = lua_tolstring(L, name_idx, &nlen);
	if (!fn_name_ok(name, nlen))
		return fn_fail(L, "Library names can only contain letters, numbers, or "
				  "underscores(_) and must be at least one character long");
	/* Function names are case-insensitive, as in Redis: keyed lower case. */
	char low[256];
	if (nlen >= sizeof(low))
		return fn_fail(L, "Function names can be at most 255 characters long");
	for (size_t i = 0; i < nlen; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	lua_pushlstring(L, low, nlen);
	int low_idx = lua_gettop(L);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
	int funcs = lua_gettop(L);
	lua_pushvalue(L, low_idx);
	lua_rawget(L, funcs);
	bool dup = !lua_isnil(L, -1);
	lua_pop(L, 1);
	if (dup)
		return fn_fail(L, "Function already exists in the library");
	lua_pushvalue(L, low_idx);
	lua_pushvalue(L, fn_idx);
	lua_rawset(L, funcs);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
	lua_pushfstring(L, "fn:%s", lua_tostring(L, low_idx));
	lua_pushnumber(L, flags);
	lua_rawset(L, -3);
	size_t dlen = 0;
	const char *desc = desc_idx ? lua_tolstring(L, desc_idx, &dlen) : NULL;
	if (e->on_function)
		e->on_function(e->on_function_arg, name, nlen, desc, dlen, flags);
	return 0;
}

/* ---- math.random as Redis: a rand48 of its own, the same sequence on
 * every platform, from lrand48's default seed (per thread here: each shard
 * has its own sequence, as it has its own Lua state) ---- */

static _Thread_local uint64_t rand48_state = 0x1234ABCD330Eull;

static void rand48_seed(int32_t seed)
{
	rand48_state = ((uint64_t)(uint32_t)seed << 16) | 0x330E;
}

static int32_t rand48_next(void)
{
	rand48_state = (rand48_state * 0x5DEECE66Dull + 0xB) & ((1ull << 48) - 1);
	return (int32_t)(rand48_state >> 17);
}

static int api_math_random(lua_State *L)
{
	const int32_t max = 0x7fffffff;
	lua_Number r = (lua_Number)(rand48_next() % max) / (lua_Number)max;
	switch (lua_gettop(L)) {
	case 0:
		lua_pushnumber(L, r);
		break;
	case 1: {
		int u = luaL_checkint(L, 1);
		luaL_argcheck(L, 1 <= u, 1, "interval is empty");
		lua_pushnumber(L, floor(r * u) + 1);
		break;
	}
	case 2: {
		int l = luaL_checkint(L, 1);
		int u = luaL_checkint(L, 2);
		luaL_argcheck(L, l <= u, 2, "interval is empty");
		lua_pushnumber(L, floor(r * (u - l + 1)) + l);
		break;
	}
	default:
		return luaL_error(L, "wrong number of arguments");
	}
	return 1;
}

static int api_math_randomseed(lua_State *L)
{
	rand48_seed(luaL_checkint(L, 1));
	return 0;
}

/* loadstring without binary chunks (precompiled bytecode can crash the
 * VM): nil for those, as Redis's patched Lua answers. */
static int api_loadstring(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	const char *name = luaL_optstring(L, 2, s);
	if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
		lua_pushnil(L);
		lua_pushstring(L, "binary chunks are not allowed");
		return 2;
	}
	if (luaL_loadbuffer(L, s, len, name) == 0)
		return 1;
	lua_pushnil(L);
	lua_insert(L, -2);
	return 2;
}

/* ---- read-only tables ---- */

static int ro_error(lua_State *L)
{
	return luaL_error(L, "Attempt to modify a readonly table");
}

/* The same from rawset/setmetatable, without a position (as Redis's VM
 * raises it there). */
static int ro_error_plain(lua_State *L)
{
	lua_pushstring(L, "Attempt to modify a readonly table");
	return lua_error(L);
}

static bool ro_is(lua_State *L, int idx)
{
	if (!lua_istable(L, idx))
		return false;
	lua_getfield(L, LUA_REGISTRYINDEX, REG_RO);
	lua_pushvalue(L, idx > 0 || idx <= LUA_REGISTRYINDEX ? idx : idx - 1);
	lua_rawget(L, -2);
	bool ro = lua_toboolean(L, -1);
	lua_pop(L, 2);
	return ro;
}

static void ro_mark(lua_State *L, int idx)
{
	lua_getfield(L, LUA_REGISTRYINDEX, REG_RO);
	lua_pushvalue(L, idx > 0 ? idx : idx - 1);
	lua_pushboolean(L, 1);
	lua_rawset(L, -3);
	lua_pop(L, 1);
}

static int api_rawset(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checkany(L, 2);
	luaL_checkany(L, 3);
	if (ro_is(L, 1))
		return ro_error_plain(L);
	lua_settop(L, 3);
	lua_rawset(L, 1);
	return 1;
}

static int api_setmetatable(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	if (ro_is(L, 1))
		return ro_error_plain(L);
	int t = lua_type(L, 2);
	if (t != LUA_TNIL && t != LUA_TTABLE)
		return luaL_typerror(L, 2, "nil or table");
	if (luaL_getmetafield(L, 1, "__metatable"))
		return luaL_error(L, "cannot change a protected metatable");
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/* Read-only view of the table at idx: an empty table reading through to
 * it; its own metatable is seen as another read-only view. */
static void ro_push_proxy(lua_State *L, int idx, lua_CFunction index_fn)
{
	idx = idx > 0 ? idx : lua_gettop(L) + idx + 1;
	lua_newtable(L);                   /* proxy */
	lua_newtable(L);                   /* its metatable */
	if (index_fn) {
		lua_pushvalue(L, idx);
		lua_pushcclosure(L, index_fn, 1);
	} else {
		lua_pushvalue(L, idx);
	}
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, ro_error);
	lua_setfield(L, -2, "__newindex");
	/* getmetatable(proxy) gives a view of the metatable that refuses
	 * writes too. */
	lua_newtable(L);                   /* view */
	lua_newtable(L);                   /* view's metatable */
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, ro_error);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	ro_mark(L, -1);
	lua_setfield(L, -2, "__metatable");
	ro_mark(L, -1);
	lua_setmetatable(L, -2);
	ro_mark(L, -1);
}

/* __index of the globals: an unknown name is an error. */
static int globals_index(lua_State *L)
{
	lua_pushvalue(L, 2);
	struct script_engine *e = engine_of(L);
	if (e->loading) {
		lua_getfield(L, LUA_REGISTRYINDEX, REG_LOADG);
		lua_insert(L, -2);
		lua_rawget(L, -2);
	} else {
		lua_rawget(L, lua_upvalueindex(1));
	}
	if (!lua_isnil(L, -1))
		return 1;
	const char *name = lua_tostring(L, 2);
	return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
			  name ? name : "?");
}

/* __index of a table Redis guards with its error metatable: an unknown
 * name is an error. */
static int strict_index(lua_State *L)
{
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	if (!lua_isnil(L, -1))
		return 1;
	const char *name = lua_tostring(L, 2);
	return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
			  name ? name : "?");
}

/* ---- the state ---- */

static void *engine_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct script_engine *e = ud;
	if (nsize == 0) {
		free(ptr);
		e->mem_bytes -= osize;
		return NULL;
	}
	/* lua-memory-limit: growing past it fails, and Lua raises "not enough
	 * memory" in the script (shrinking never fails, as Lua requires).
	 * The state's own setup is not limited (mem_limit is 0 then). */
	if (nsize > osize && e->mem_limit && e->mem_bytes + (nsize - osize) > e->mem_limit)
		return NULL;
	void *p = realloc(ptr, nsize);
	if (p)
		e->mem_bytes += nsize - osize;
	return p;
}

static void set_fn(lua_State *L, const char *name, lua_CFunction fn)
{
	lua_pushcfunction(L, fn);
	lua_setfield(L, -2, name);
}

static void set_num(lua_State *L, const char *name, lua_Number v)
{
	lua_pushnumber(L, v);
	lua_setfield(L, -2, name);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction fn)
{
	lua_pushcfunction(L, fn);
	lua_pushstring(L, name);
	lua_call(L, 1, 0);
}

/* redis.log, its levels and the version fields, into the table on top:
 * scripts and loading libraries both see them. */
static void set_log_and_version(lua_State *L)
{
	set_fn(L, "log", api_log);
	set_num(L, "LOG_DEBUG", LOG_DEBUG);
	set_num(L, "LOG_VERBOSE", LOG_VERBOSE);
	set_num(L, "LOG_NOTICE", LOG_NOTICE);
	set_num(L, "LOG_WARNING", LOG_WARNING);
	set_num(L, "REDIS_VERSION_NUM", SCRIPT_REDIS_VERSION_NUM);
	lua_pushstring(L, SCRIPT_REDIS_VERSION);
	lua_setfield(L, -2, "REDIS_VERSION");
}

static void register_redis_api(lua_State *L)
{
	lua_newtable(L);
	set_fn(L, "call", api_call);
	set_fn(L, "pcall", api_pcall);
	set_log_and_version(L);
	set_fn(L, "setresp", api_setresp);
	set_fn(L, "sha1hex", api_sha1hex);
	set_fn(L, "error_reply", api_error_reply);
	set_fn(L, "status_reply", api_status_reply);
	set_fn(L, "set_repl", api_set_repl);
	set_fn(L, "replicate_commands", api_replicate_commands);
	set_num(L, "REPL_NONE", 0);
	set_num(L, "REPL_AOF", 1);
	set_num(L, "REPL_SLAVE", 2);
	set_num(L, "REPL_REPLICA", 2);
	set_num(L, "REPL_ALL", 3);
	set_fn(L, "acl_check_cmd", api_acl_check_cmd);
	set_fn(L, "breakpoint", api_noop);
	set_fn(L, "debug", api_noop);
	lua_setglobal(L, "redis");
}

/* What a library sees while it loads: only redis.register_function,
 * redis.log and the version. */
static void make_load_globals(lua_State *L)
{
	lua_newtable(L);                   /* LOADG */
	lua_newtable(L);                   /* its redis */
	set_fn(L, "register_function", api_register_function);
	set_log_and_version(L);
	ro_push_proxy(L, -1, strict_index);
	lua_setfield(L, -3, "redis");
	lua_pop(L, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_LOADG);
}

struct script_engine *script_lua_new(void)
{
	struct script_engine *e = kv_calloc(1, sizeof(*e));
	pthread_mutex_init(&e->info_lock, NULL);
	lua_State *L = lua_newstate(engine_alloc, e);
	kv_assert(L != NULL);
	e->L = L;
	open_lib(L, "", luaopen_base);
	open_lib(L, LUA_TABLIBNAME, luaopen_table);
	open_lib(L, LUA_STRLIBNAME, luaopen_string);
	open_lib(L, LUA_MATHLIBNAME, luaopen_math);
	/* cjson and bit return their table; not every build sets the global. */
	lua_pushcfunction(L, luaopen_cjson);
	lua_call(L, 0, 1);
	lua_setglobal(L, "cjson");
	lua_pushcfunction(L, luaopen_bit);
	lua_call(L, 0, 1);
	lua_setglobal(L, "bit");
	lua_pushcfunction(L, script_open_cmsgpack);
	lua_call(L, 0, 1);
	lua_setglobal(L, "cmsgpack");
	lua_pushcfunction(L, script_open_struct);
	lua_call(L, 0, 1);
	lua_setglobal(L, "struct");
	/* Out of the sandbox. */
	static const char *const removed[] = { "dofile", "loadfile", "print", "module",
					       "require", NULL };
	for (int i = 0; removed[i]; i++) {
		lua_pushnil(L);
		lua_setglobal(L, removed[i]);
	}
	lua_pushcfunction(L, api_lua_pcall);
	lua_setglobal(L, "pcall");
	lua_pushcfunction(L, api_loadstring);
	lua_setglobal(L, "loadstring");
	lua_pushcfunction(L, api_rawset);
	lua_setglobal(L, "rawset");
	lua_pushcfunction(L, api_setmetatable);
	lua_setglobal(L, "setmetatable");
	register_redis_api(L);
	lua_getglobal(L, "math");
	set_fn(L, "random", api_math_random);
	set_fn(L, "randomseed", api_math_randomseed);
	lua_pop(L, 1);

	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_RO);
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_TAGS);
	lua_pushcfunction(L, script_errh);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_ERRH);
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
	make_load_globals(L);

	/* Lock: every library table becomes a read-only proxy, then the
	 * globals themselves. */
	lua_pushvalue(L, LUA_GLOBALSINDEX);            /* G */
	int g = lua_gettop(L);
	static const char *const libs[] = { "redis", "string", "math", "table", "cjson", "bit",
					    "coroutine", "cmsgpack", "struct", NULL };
	for (int i = 0; libs[i]; i++) {
		lua_getfield(L, g, libs[i]);
		if (lua_istable(L, -1)) {
			ro_push_proxy(L, -1, NULL);
			lua_setfield(L, g, libs[i]);
		}
		lua_pop(L, 1);
	}
	lua_pushvalue(L, g);
	lua_setfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
	ro_push_proxy(L, g, globals_index);           /* P */
	lua_pushvalue(L, -1);
	lua_setfield(L, g, "_G");
	lua_replace(L, LUA_GLOBALSINDEX);
	lua_settop(L, 0);
	lua_gc(L, LUA_GCCOLLECT, 0);
	return e;
}

void script_lua_free(struct script_engine *e)
{
	if (!e)
		return;
	lua_close(e->L);
	kv_buf_free(&e->info_cmd);
	pthread_mutex_destroy(&e->info_lock);
	free(e);
}

int script_lua_compile(struct script_engine *e, const char *fname, const char *body, size_t len,
		       size_t shebang_len, uint32_t flags, char *err, size_t err_cap)
{
	lua_State *L = e->L;
	/* The shebang line is skipped, its '\n' kept: line numbers stay. */
	if (luaL_loadbuffer(L, body + shebang_len, len - shebang_len, "@user_script")) {
		snprintf(err, err_cap, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	lua_setfield(L, LUA_REGISTRYINDEX, fname);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
	lua_pushnumber(L, flags);
	lua_setfield(L, -2, fname);
	lua_pop(L, 1);
	return 0;
}

bool script_lua_has(struct script_engine *e, const char *fname, uint32_t *flags, uint64_t *tag)
{
	lua_State *L = e->L;
	lua_getfield(L, LUA_REGISTRYINDEX, fname);
	bool has = lua_isfunction(L, -1);
	lua_pop(L, 1);
	if (has && flags) {
		lua_getfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
		lua_getfield(L, -1, fname);
		*flags = (uint32_t)lua_tonumber(L, -1);
		lua_pop(L, 2);
	}
	if (has && tag) {
		lua_getfield(L, LUA_REGISTRYINDEX, REG_TAGS);
		lua_getfield(L, -1, fname);
		*tag = (uint64_t)(uintptr_t)lua_touserdata(L, -1);
		lua_pop(L, 2);
	}
	return has;
}

void script_lua_set_tag(struct script_engine *e, const char *fname, uint64_t tag)
{
	_Static_assert(sizeof(void *) >= sizeof(uint64_t), "a tag is kept in a pointer");
	lua_State *L = e->L;
	lua_getfield(L, LUA_REGISTRYINDEX, REG_TAGS);
	lua_pushlightuserdata(L, (void *)(uintptr_t)tag);
	lua_setfield(L, -2, fname);
	lua_pop(L, 1);
}

void script_lua_drop(struct script_engine *e, const char *fname)
{
	lua_State *L = e->L;
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, fname);
	static const char *const tables[] = { REG_FLAGS, REG_TAGS };
	for (int i = 0; i < 2; i++) {
		lua_getfield(L, LUA_REGISTRYINDEX, tables[i]);
		lua_pushnil(L);
		lua_setfield(L, -2, fname);
		lua_pop(L, 1);
	}
}

static void set_global_array(lua_State *L, const char *name, int n, const struct kv_slice *v)
{
	lua_getfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_pushlstring(L, v[i].ptr, v[i].len);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, name);
	lua_pop(L, 1);
}

/* Scripts past busy-reply-threshold, process-wide, and how many of them
 * are functions: while any is busy every shard answers -BUSY (as Redis's
 * single thread does) but to the commands that can end it. */
static _Atomic int busy_scripts, busy_functions;

const char *script_busy_error(void)
{
	if (atomic_load_explicit(&busy_scripts, memory_order_relaxed) == 0)
		return NULL;
	return atomic_load_explicit(&busy_functions, memory_order_relaxed)
		       ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
			 "SHUTDOWN NOSAVE."
		       : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
			 "SHUTDOWN NOSAVE.";
}

static void busy_set(struct script_engine *e)
{
	atomic_store(&e->busy, true);
	atomic_fetch_add(&busy_scripts, 1);
	if (e->functions)
		atomic_fetch_add(&busy_functions, 1);
}

static void busy_clear(struct script_engine *e)
{
	if (!atomic_exchange(&e->busy, false))
		return;
	atomic_fetch_sub(&busy_scripts, 1);
	if (e->functions)
		atomic_fetch_sub(&busy_functions, 1);
}

/* The count hook: a script asked to stop by SCRIPT KILL ends here, and
 * keeps ending on every line so pcall cannot swallow it. */
static void script_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct script_engine *e = engine_of(L);
	int64_t started = atomic_load_explicit(&e->started_ms, memory_order_relaxed);
	if (started && !atomic_load_explicit(&e->busy, memory_order_relaxed)) {
		int64_t lim = atomic_load_explicit(&g_config.busy_reply_threshold_ms,
						   memory_order_relaxed);
		if (lim > 0 && kv_time_ms() - started >= lim && !e->loading)
			busy_set(e);
	}
	if (e->load_deadline_ms && kv_time_ms() > e->load_deadline_ms) {
		lua_sethook(L, script_hook, LUA_MASKLINE, 0);
		push_error(L, "FUNCTION LOAD timeout");
		lua_error(L);
	}
	/* Shutdown (SIGTERM, SHUTDOWN from another shard) ends any script:
	 * a script never keeps the process from exiting. */
	if (atomic_load_explicit(&g_server.shutdown, memory_order_relaxed)) {
		lua_sethook(L, script_hook, LUA_MASKLINE, 0);
		push_error(L, "Script aborted: the server is shutting down");
		lua_error(L);
	}
	/* Busy: this shard's other clients get their -BUSY (or their SCRIPT
	 * KILL runs) now, not when the script ends. */
	if (atomic_load_explicit(&e->busy, memory_order_relaxed) && e->busy_turn &&
	    !e->in_busy_turn) {
		e->in_busy_turn = true;
		e->busy_turn(e->busy_arg);
		e->in_busy_turn = false;
	}
	if (atomic_load_explicit(&e->kill, memory_order_relaxed)) {
		log_warning("Lua script killed by user with SCRIPT KILL.");
		lua_sethook(L, script_hook, LUA_MASKLINE, 0);
		push_error(L, "Script killed by user with SCRIPT KILL...");
		lua_error(L);
	}
}

/* Run the function under the error handler (both pushed, then nargs
 * arguments) and append its reply or Redis's error to out. */
static void run_pushed(struct script_engine *e, struct script_run *run, int nargs,
		       struct kv_buf *out)
{
	lua_State *L = e->L;
	run->resp = 2;
	run->engine = e;
	e->run = run;
	atomic_store(&e->kill, false);
	atomic_store(&e->wrote, false);
	atomic_store(&e->started_ms, kv_time_ms());
	int64_t limit = atomic_load_explicit(&g_config.lua_memory_limit, memory_order_relaxed);
	e->mem_limit = limit > 0 ? (size_t)limit : 0;
	lua_sethook(L, script_hook, LUA_MASKCOUNT, 100000);
	int rc = lua_pcall(L, nargs, 1, -2 - nargs);
	lua_sethook(L, NULL, 0, 0);
	e->mem_limit = 0;
	if (rc == LUA_ERRMEM)
		lua_gc(L, LUA_GCCOLLECT, 0);   /* give back what the failed script left */
	atomic_store(&e->started_ms, 0);
	busy_clear(e);
	e->run = NULL;
	if (++e->gc_count % 50 == 0)
		lua_gc(L, LUA_GCSTEP, 50);
	if (rc == 0) {
		lua_to_resp(L, out, 0, run->resp);
	} else if (!lua_istable(L, -1)) {
		const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
		resp_errorf(out, "ERR Error running script %s, %.100s", run->name, msg);
		lua_pop(L, 1);
	} else {
		size_t n = 0, sn = 0;
		const char *msg = table_str(L, "err", &n);
		const char *src = table_str(L, "source", &sn);
		lua_getfield(L, -1, "line");
		bool has_line = lua_isnumber(L, -1);
		int64_t line = (int64_t)lua_tonumber(L, -1);
		lua_pop(L, 1);
		struct kv_buf b = KV_BUF_INIT;
		kv_buf_append(&b, msg ? msg : "ERR unknown error", msg ? n : 17);
		if (src && has_line)
			kv_buf_printf(&b, " script: %s, on %.*s:%lld.", run->name, (int)sn, src,
				      (long long)line);
		reply_error_clean(out, b.data, b.len);
		kv_buf_free(&b);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);   /* the error handler */
}

void script_lua_run(struct script_engine *e, struct script_run *run, const char *fname,
		    int nkeys, const struct kv_slice *keys, int nargs, const struct kv_slice *args,
		    struct kv_buf *out)
{
	lua_State *L = e->L;
	lua_getfield(L, LUA_REGISTRYINDEX, REG_ERRH);
	lua_getfield(L, LUA_REGISTRYINDEX, fname);
	kv_assert(lua_isfunction(L, -1));
	set_global_array(L, "KEYS", nkeys, keys);
	set_global_array(L, "ARGV", nargs, args);
	run_pushed(e, run, 0, out);
}

static void push_lower(lua_State *L, const char *s, size_t n)
{
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (size_t i = 0; i < n; i++)
		luaL_addchar(&b, (char)tolower((unsigned char)s[i]));
	luaL_pushresult(&b);
}

static void push_array(lua_State *L, int n, const struct kv_slice *v)
{
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_pushlstring(L, v[i].ptr, v[i].len);
		lua_rawseti(L, -2, i + 1);
	}
}

bool script_lua_fcall(struct script_engine *e, struct script_run *run, const char *name,
		      size_t nlen, int nkeys, const struct kv_slice *keys, int nargs,
		      const struct kv_slice *args, struct kv_buf *out)
{
	lua_State *L = e->L;
	lua_getfield(L, LUA_REGISTRYINDEX, REG_ERRH);
	lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
	push_lower(L, name, nlen);
	lua_rawget(L, -2);
	lua_remove(L, -2);
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 2);
		return false;
	}
	push_array(L, nkeys, keys);
	push_array(L, nargs, args);
	run_pushed(e, run, 2, out);
	return true;
}

bool script_lua_function_flags(struct script_engine *e, const char *name, size_t nlen,
			       uint32_t *flags)
{
	lua_State *L = e->L;
	lua_getfield(L, LUA_REGISTRYINDEX, REG_FLAGS);
	lua_pushstring(L, "fn:");
	push_lower(L, name, nlen);
	lua_concat(L, 2);
	lua_rawget(L, -2);
	bool has = lua_isnumber(L, -1);
	*flags = has ? (uint32_t)lua_tonumber(L, -1) : 0;
	lua_pop(L, 2);
	return has;
}

int script_lua_load_library(struct script_engine *e, const char *code, size_t len, char *err,
			    size_t err_cap)
{
	lua_State *L = e->L;
	if (luaL_loadbuffer(L, code, len, "@user_function")) {
		snprintf(err, err_cap, "Error compiling function: %s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	e->loading = true;
	atomic_store(&e->started_ms, kv_time_ms());
	e->load_deadline_ms = kv_time_ms() + 500;
	lua_sethook(L, script_hook, LUA_MASKCOUNT, 100000);
	int rc = lua_pcall(L, 0, 0, 0);
	lua_sethook(L, NULL, 0, 0);
	atomic_store(&e->started_ms, 0);
	e->load_deadline_ms = 0;
	e->loading = false;
	if (rc) {
		const char *msg = NULL;
		if (lua_istable(L, -1)) {
			lua_getfield(L, -1, "err");
			msg = lua_tostring(L, -1);
			snprintf(err, err_cap, "Error registering functions: %s", msg ? msg : "?");
			lua_pop(L, 1);
		} else {
			msg = lua_tostring(L, -1);
			snprintf(err, err_cap, "Error registering functions: ERR %s", msg ? msg : "?");
		}
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}
