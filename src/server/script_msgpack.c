/*
 * script_msgpack.c - the `cmsgpack` library Redis scripts expect
 * (MessagePack), written for kevy because Debian packages no C version
 * with Redis's API:
 *
 *   cmsgpack.pack(v1, v2, ...)          the encodings of every value, joined
 *   cmsgpack.unpack(s)                  every value encoded in s
 *   cmsgpack.unpack_one(s, [offset])    next offset (-1 at the end), value
 *   cmsgpack.unpack_limit(s, n, [off])  next offset (-1 at the end), up to n
 *                                       values (0: all)
 *
 * Encoding rules as Redis's: a number equal to an int64 is the smallest
 * integer encoding, else a float32 when exact, else a float64; a table
 * whose keys are exactly 1..n is an array, any other a map (in lua_next
 * order); tables nested deeper than 16 and values of other types are nil.
 * Decoding turns binary and string types into strings, every number into a
 * Lua number; extension types are a format error.
 */
#include "server/script_msgpack.h"

#include "base/buf.h"

#include <lauxlib.h>
#include <stdbool.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MSGPACK_MAX_NESTING 16

static void put_be(struct kv_buf *b, uint8_t tag, uint64_t v, int bytes)
{
	kv_buf_append_char(b, (char)tag);
	for (int i = bytes - 1; i >= 0; i--)
		kv_buf_append_char(b, (char)(uint8_t)(v >> (8 * i)));
}

static void enc_int(struct kv_buf *b, int64_t n)
{
	if (n >= 0) {
		uint64_t u = (uint64_t)n;
		if (u <= 127)
			kv_buf_append_char(b, (char)u);
		else if (u <= 0xff)
			put_be(b, 0xcc, u, 1);
		else if (u <= 0xffff)
			put_be(b, 0xcd, u, 2);
		else if (u <= 0xffffffffull)
			put_be(b, 0xce, u, 4);
		else
			put_be(b, 0xcf, u, 8);
	} else {
		if (n >= -32)
			kv_buf_append_char(b, (char)(uint8_t)n);
		else if (n >= -128)
			put_be(b, 0xd0, (uint64_t)n, 1);
		else if (n >= -32768)
			put_be(b, 0xd1, (uint64_t)n, 2);
		else if (n >= -2147483648ll)
			put_be(b, 0xd2, (uint64_t)n, 4);
		else
			put_be(b, 0xd3, (uint64_t)n, 8);
	}
}

static void enc_number(struct kv_buf *b, lua_Number n)
{
	if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 && n == (lua_Number)(int64_t)n) {
		enc_int(b, (int64_t)n);
		return;
	}
	float f = (float)n;
	if ((lua_Number)f == n) {
		uint32_t u;
		memcpy(&u, &f, 4);
		put_be(b, 0xca, u, 4);
	} else {
		uint64_t u;
		double d = n;
		memcpy(&u, &d, 8);
		put_be(b, 0xcb, u, 8);
	}
}

static void enc_len(struct kv_buf *b, size_t n, uint8_t fix, size_t fixmax, uint8_t t8,
		    uint8_t t16, uint8_t t32)
{
	if (n <= fixmax)
		kv_buf_append_char(b, (char)(fix | n));
	else if (t8 && n <= 0xff)
		put_be(b, t8, n, 1);
	else if (n <= 0xffff)
		put_be(b, t16, n, 2);
	else
		put_be(b, t32, n, 4);
}

/* The array length of the table at idx, or -1 when it is a map. */
static long table_array_len(lua_State *L, int idx)
{
	long count = 0;
	lua_Number max = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		lua_Number k;
		if (lua_type(L, -1) != LUA_TNUMBER || (k = lua_tonumber(L, -1)) <= 0 ||
		    k != floor(k)) {
			lua_pop(L, 1);
			return -1;
		}
		if (k > max)
			max = k;
		count++;
	}
	return max == count ? count : -1;
}

static void enc_value(lua_State *L, struct kv_buf *b, int idx, int level);

/* Values are reached by absolute index; what is pushed is popped. */
static void enc_table(lua_State *L, struct kv_buf *b, int idx, int level)
{
	if (!lua_checkstack(L, 4)) {
		kv_buf_append_char(b, (char)0xc0);
		return;
	}
	long n = table_array_len(L, idx);
	if (n >= 0) {
		enc_len(b, (size_t)n, 0x90, 15, 0, 0xdc, 0xdd);
		for (long i = 1; i <= n; i++) {
			lua_rawgeti(L, idx, (int)i);
			int v = lua_gettop(L);
			enc_value(L, b, v, level + 1);
			lua_remove(L, v);
		}
		return;
	}
	size_t count = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		count++;
	}
	enc_len(b, count, 0x80, 15, 0, 0xde, 0xdf);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int v = lua_gettop(L);
		enc_value(L, b, v - 1, level + 1);
		enc_value(L, b, v, level + 1);
		lua_remove(L, v);
	}
}

static void enc_value(lua_State *L, struct kv_buf *b, int idx, int level)
{
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		enc_len(b, n, 0xa0, 31, 0xd9, 0xda, 0xdb);
		kv_buf_append(b, s, n);
		break;
	}
	case LUA_TBOOLEAN:
		kv_buf_append_char(b, lua_toboolean(L, idx) ? (char)0xc3 : (char)0xc2);
		break;
	case LUA_TNUMBER:
		enc_number(b, lua_tonumber(L, idx));
		break;
	case LUA_TTABLE:
		if (level < MSGPACK_MAX_NESTING)
			enc_table(L, b, idx, level);
		else
			kv_buf_append_char(b, (char)0xc0);   /* too deep is nil */
		break;
	default:
		kv_buf_append_char(b, (char)0xc0);
	}
}

static int mp_pack(lua_State *L)
{
	int argc = lua_gettop(L);
	if (argc == 0)
		return luaL_argerror(L, 0, "MessagePack pack needs input.");
	struct kv_buf b = KV_BUF_INIT;
	for (int i = 1; i <= argc; i++)
		enc_value(L, &b, i, 0);
	lua_pushlstring(L, b.data ? b.data : "", b.len);
	kv_buf_free(&b);
	return 1;
}

/* ---- decoding ---- */

struct dec {
	const uint8_t *p;
	size_t left;
	int err;          /* 0, 1 missing bytes, 2 bad format */
};

static uint64_t get_be(struct dec *d, int bytes)
{
	if (d->left < (size_t)bytes) {
		d->err = 1;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | d->p[i];
	d->p += bytes;
	d->left -= (size_t)bytes;
	return v;
}

static void dec_value(lua_State *L, struct dec *d);

static void dec_str(lua_State *L, struct dec *d, size_t n)
{
	if (d->left < n) {
		d->err = 1;
		lua_pushnil(L);
		return;
	}
	lua_pushlstring(L, (const char *)d->p, n);
	d->p += n;
	d->left -= n;
}

static void dec_array(lua_State *L, struct dec *d, size_t n)
{
	luaL_checkstack(L, 3, "msgpack: too deep");
	lua_createtable(L, n > 1 << 20 ? 1 << 20 : (int)n, 0);
	for (size_t i = 0; i < n && !d->err; i++) {
		dec_value(L, d);
		lua_rawseti(L, -2, (int)(i + 1));
	}
}

static void dec_map(lua_State *L, struct dec *d, size_t n)
{
	luaL_checkstack(L, 3, "msgpack: too deep");
	lua_newtable(L);
	for (size_t i = 0; i < n && !d->err; i++) {
		dec_value(L, d);
		dec_value(L, d);
		if (lua_isnil(L, -2)) {
			lua_pop(L, 2);
			continue;
		}
		lua_rawset(L, -3);
	}
}

static void dec_value(lua_State *L, struct dec *d)
{
	if (d->left == 0) {
		d->err = 1;
		lua_pushnil(L);
		return;
	}
	uint8_t t = *d->p++;
	d->left--;
	if (t <= 0x7f) {
		lua_pushnumber(L, t);
	} else if (t >= 0xe0) {
		lua_pushnumber(L, (int8_t)t);
	} else if ((t & 0xe0) == 0xa0) {
		dec_str(L, d, t & 0x1f);
	} else if ((t & 0xf0) == 0x90) {
		dec_array(L, d, t & 0x0f);
	} else if ((t & 0xf0) == 0x80) {
		dec_map(L, d, t & 0x0f);
	} else {
		switch (t) {
		case 0xc0: lua_pushnil(L); break;
		case 0xc2: lua_pushboolean(L, 0); break;
		case 0xc3: lua_pushboolean(L, 1); break;
		case 0xc4: case 0xd9: dec_str(L, d, get_be(d, 1)); break;
		case 0xc5: case 0xda: dec_str(L, d, get_be(d, 2)); break;
		case 0xc6: case 0xdb: dec_str(L, d, get_be(d, 4)); break;
		case 0xca: {
			uint32_t u = (uint32_t)get_be(d, 4);
			float f;
			memcpy(&f, &u, 4);
			lua_pushnumber(L, f);
			break;
		}
		case 0xcb: {
			uint64_t u = get_be(d, 8);
			double f;
			memcpy(&f, &u, 8);
			lua_pushnumber(L, f);
			break;
		}
		case 0xcc: lua_pushnumber(L, (lua_Number)get_be(d, 1)); break;
		case 0xcd: lua_pushnumber(L, (lua_Number)get_be(d, 2)); break;
		case 0xce: lua_pushnumber(L, (lua_Number)get_be(d, 4)); break;
		case 0xcf: lua_pushnumber(L, (lua_Number)get_be(d, 8)); break;
		case 0xd0: lua_pushnumber(L, (int8_t)get_be(d, 1)); break;
		case 0xd1: lua_pushnumber(L, (int16_t)get_be(d, 2)); break;
		case 0xd2: lua_pushnumber(L, (int32_t)get_be(d, 4)); break;
		case 0xd3: lua_pushnumber(L, (lua_Number)(int64_t)get_be(d, 8)); break;
		case 0xdc: dec_array(L, d, get_be(d, 2)); break;
		case 0xdd: dec_array(L, d, get_be(d, 4)); break;
		case 0xde: dec_map(L, d, get_be(d, 2)); break;
		case 0xdf: dec_map(L, d, get_be(d, 4)); break;
		default:
			d->err = 2;
			lua_pushnil(L);
		}
	}
}

/* Decode up to limit values (0: all) from offset; with_offset pushes the
 * next offset (-1 at the end) first, as unpack_one/unpack_limit return. */
static int mp_unpack_full(lua_State *L, int limit, int offset, bool with_offset)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	if (offset < 0 || limit < 0)
		return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
				  offset, limit);
	if ((size_t)offset > len)
		return luaL_error(L, "Start offset %d greater than input length %d.", offset,
				  (int)len);
	struct dec d = { (const uint8_t *)s + offset, len - (size_t)offset, 0 };
	int base = lua_gettop(L);
	if (with_offset)
		lua_pushnil(L);   /* the offset, filled in below */
	int count = 0;
	while (d.left > 0 && (limit == 0 || count < limit)) {
		luaL_checkstack(L, 2, "msgpack: too many values");
		dec_value(L, &d);
		if (d.err == 1)
			return luaL_error(L, "Missing bytes in input.");
		if (d.err)
			return luaL_error(L, "Bad data format in input.");
		count++;
	}
	if (with_offset) {
		lua_pushnumber(L, d.left > 0 ? (lua_Number)(len - d.left) : -1);
		lua_replace(L, base + 1);
	}
	return lua_gettop(L) - base;
}

static int mp_unpack(lua_State *L)
{
	return mp_unpack_full(L, 0, 0, false);
}

static int mp_unpack_one(lua_State *L)
{
	int offset = (int)luaL_optinteger(L, 2, 0);
	lua_settop(L, 1);
	return mp_unpack_full(L, 1, offset, true);
}

static int mp_unpack_limit(lua_State *L)
{
	int limit = (int)luaL_checkinteger(L, 2);
	int offset = (int)luaL_optinteger(L, 3, 0);
	lua_settop(L, 1);
	return mp_unpack_full(L, limit, offset, true);
}

int script_open_cmsgpack(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "pack", mp_pack },
		{ "unpack", mp_unpack },
		{ "unpack_one", mp_unpack_one },
		{ "unpack_limit", mp_unpack_limit },
		{ NULL, NULL },
	};
	lua_newtable(L);
	luaL_register(L, NULL, fns);
	lua_pushliteral(L, "lua-cmsgpack");
	lua_setfield(L, -2, "_NAME");
	lua_pushliteral(L, "lua-cmsgpack 0.4.0 (kevy)");
	lua_setfield(L, -2, "_VERSION");
	return 1;
}
