/*
 * script_struct.c - the `struct` library Redis scripts expect (binary
 * packing, the API of Roberto Ierusalimschy's struct library that Redis
 * bundles), written for kevy: Debian packages no C version of it.
 *
 *   struct.pack(fmt, v1, v2, ...)   a string holding the values
 *   struct.unpack(fmt, s, [pos])    the values read from s at pos (1-based),
 *                                   then the position after them
 *   struct.size(fmt)                the bytes fmt packs to (fixed sizes only)
 *
 * Format: '<' little endian (the default here), '>' big endian, '!n' maximum alignment n (a power of 2; '!' alone: the platform's, 8),
 * ' ' ignored; 'b'/'B' signed/unsigned char, 'h'/'H' short, 'l'/'L' long,
 * 'T' size_t, 'in'/'In' an integer of n bytes (default 4, at most 32),
 * 'f' float, 'd' double, 'x' a zero byte, 's' a zero-terminated string,
 * 'cn' n bytes of a string ('c0': pack the whole string; unpack takes the
 * length from the previous value read).  Items are aligned to their size,
 * capped by the maximum alignment (1 by default: packed).  Integers are
 * Lua numbers converted to 64 bits; bytes past the eighth are zero when
 * packing, and unpacking a signed one extends the sign from its top bit.
 * Errors are the library's own texts (`bad argument #2 to 'unpack' (data
 * string too short)`, `invalid format option 'y'`, ...).
 */
#include "server/script_struct.h"

#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdbool.h>
#include <lua.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ST_MAX_INT_SIZE 32
#define ST_NATIVE_ALIGN 8   /* offsetof a double/pointer after a char on x86-64 */

enum { ST_LITTLE = 0, ST_BIG = 1 };

struct st_header {
	int endian;
	int align;
};

static void st_defaults(struct st_header *h)
{
	h->endian = ST_LITTLE;
	h->align = 1;
}

/* Digits after an option, or df when there are none. */
static int st_num(lua_State *L, const char **fmt, int df)
{
	if (!isdigit((unsigned char)**fmt))
		return df;
	int a = 0;
	do {
		int d = **fmt - '0';
		if (a > INT_MAX / 10 || a * 10 > INT_MAX - d)
			luaL_error(L, "integral size overflow");
		a = a * 10 + d;
		(*fmt)++;
	} while (isdigit((unsigned char)**fmt));
	return a;
}

/* The size of an item option (0: none, or variable), reading its digits. */
static size_t st_optsize(lua_State *L, char opt, const char **fmt)
{
	switch (opt) {
	case 'B': case 'b': return sizeof(char);
	case 'H': case 'h': return sizeof(short);
	case 'L': case 'l': return sizeof(long);
	case 'T': return sizeof(size_t);
	case 'f': return sizeof(float);
	case 'd': return sizeof(double);
	case 'x': return 1;
	case 'c': return (size_t)st_num(L, fmt, 1);
	case 'i': case 'I': {
		int sz = st_num(L, fmt, (int)sizeof(int));
		if (sz > ST_MAX_INT_SIZE)
			luaL_error(L, "integral size %d is larger than limit of %d", sz,
				   ST_MAX_INT_SIZE);
		return (size_t)sz;
	}
	default: return 0;
	}
}

/* Padding before an item of this size at offset len. */
static size_t st_toalign(size_t len, const struct st_header *h, char opt, size_t size)
{
	if (size == 0 || opt == 'c')
		return 0;
	if (size > (size_t)h->align)
		size = (size_t)h->align;
	return (size - (len & (size - 1))) & (size - 1);
}

static void st_control(lua_State *L, char opt, const char **fmt, struct st_header *h)
{
	switch (opt) {
	case ' ':
		return;
	case '>':
		h->endian = ST_BIG;
		return;
	case '<':
		h->endian = ST_LITTLE;
		return;
	case '!': {
		int a = st_num(L, fmt, ST_NATIVE_ALIGN);
		if (a <= 0 || (a & (a - 1)) != 0)
			luaL_error(L, "alignment %d is not a power of 2", a);
		h->align = a;
		return;
	}
	default: {
		const char *msg = lua_pushfstring(L, "invalid format option '%c'", opt);
		luaL_argerror(L, 1, msg);
	}
	}
}

/* A Lua number as the 64 bits the library packs (two's complement for a
 * negative one), defined for every double: out of range, 0 or INT64_MIN
 * as x86's conversions give, NaN 0. */
static uint64_t st_bits(lua_Number n)
{
	if (n < 0)
		return n >= -9223372036854775808.0 ? (uint64_t)(int64_t)n : (uint64_t)INT64_MIN;
	if (n < 18446744073709551616.0)
		return (uint64_t)n;
	return 0;
}

static void st_put_int(lua_State *L, luaL_Buffer *b, int arg, int endian, size_t size)
{
	uint64_t v = st_bits(luaL_checknumber(L, arg));
	char buf[ST_MAX_INT_SIZE];
	for (size_t i = 0; i < size; i++) {
		size_t at = endian == ST_LITTLE ? i : size - 1 - i;
		buf[at] = (char)(v & 0xff);
		v = i < 7 ? v >> 8 : 0;
	}
	luaL_addlstring(b, buf, size);
}

static lua_Number st_get_int(const unsigned char *p, int endian, bool is_signed, size_t size)
{
	uint64_t v = 0;
	for (size_t i = 0; i < size; i++) {
		size_t at = endian == ST_BIG ? i : size - 1 - i;
		v = (v << 8) | p[at];
	}
	if (!is_signed)
		return (lua_Number)v;
	/* The sign bit: the item's top bit, taken modulo 64 as the library's
	 * shift does on x86 for items longer than 8 bytes. */
	uint64_t mask = ~(uint64_t)0 << ((size * 8 - 1) & 63);
	if (v & mask)
		v |= mask;
	return (lua_Number)(int64_t)v;
}

/* Float and double bytes in the requested order (the host is little endian). */
static void st_order(char *p, size_t size, int endian)
{
	if (endian == ST_LITTLE)
		return;
	for (size_t i = 0; i < size / 2; i++) {
		char t = p[i];
		p[i] = p[size - 1 - i];
		p[size - 1 - i] = t;
	}
}

static int st_pack(lua_State *L)
{
	struct st_header h;
	const char *fmt = luaL_checkstring(L, 1);
	int arg = 2;
	size_t total = 0;
	luaL_Buffer b;
	st_defaults(&h);
	lua_pushnil(L);   /* a mark, as the library keeps one below the buffer */
	luaL_buffinit(L, &b);
	while (*fmt) {
		char opt = *fmt++;
		size_t size = st_optsize(L, opt, &fmt);
		size_t pad = st_toalign(total, &h, opt, size);
		total += pad;
		while (pad-- > 0)
			luaL_addchar(&b, '\0');
		switch (opt) {
		case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T':
		case 'i': case 'I':
			st_put_int(L, &b, arg++, h.endian, size);
			break;
		case 'x':
			luaL_addchar(&b, '\0');
			break;
		case 'f': {
			float f = (float)luaL_checknumber(L, arg++);
			st_order((char *)&f, sizeof(f), h.endian);
			luaL_addlstring(&b, (const char *)&f, sizeof(f));
			break;
		}
		case 'd': {
			double d = (double)luaL_checknumber(L, arg++);
			st_order((char *)&d, sizeof(d), h.endian);
			luaL_addlstring(&b, (const char *)&d, sizeof(d));
			break;
		}
		case 'c':
		case 's': {
			size_t l;
			const char *s = luaL_checklstring(L, arg++, &l);
			if (size == 0)
				size = l;
			/* The library names the argument after this one. */
			luaL_argcheck(L, l >= size, arg, "string too short");
			luaL_addlstring(&b, s, size);
			if (opt == 's') {
				luaL_addchar(&b, '\0');
				size++;
			}
			break;
		}
		default:
			st_control(L, opt, &fmt, &h);
		}
		total += size;
	}
	luaL_pushresult(&b);
	return 1;
}

static int st_unpack(lua_State *L)
{
	struct st_header h;
	const char *fmt = luaL_checkstring(L, 1);
	size_t ld;
	const char *data = luaL_checklstring(L, 2, &ld);
	/* As the library: a negative offset wraps and is "too short" below. */
	size_t pos = (size_t)luaL_optinteger(L, 3, 1);
	luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
	pos--;
	int n = 0;
	st_defaults(&h);
	while (*fmt) {
		char opt = *fmt++;
		size_t size = st_optsize(L, opt, &fmt);
		pos += st_toalign(pos, &h, opt, size);
		luaL_argcheck(L, pos <= ld && size <= ld - pos, 2, "data string too short");
		luaL_checkstack(L, 2, "too many results");
		switch (opt) {
		case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T':
		case 'i': case 'I':
			lua_pushnumber(L, st_get_int((const unsigned char *)data + pos, h.endian,
						     islower((unsigned char)opt), size));
			n++;
			break;
		case 'x':
			break;
		case 'f': {
			float f;
			memcpy(&f, data + pos, sizeof(f));
			st_order((char *)&f, sizeof(f), h.endian);
			lua_pushnumber(L, f);
			n++;
			break;
		}
		case 'd': {
			double d;
			memcpy(&d, data + pos, sizeof(d));
			st_order((char *)&d, sizeof(d), h.endian);
			lua_pushnumber(L, d);
			n++;
			break;
		}
		case 'c':
			if (size == 0) {
				if (n == 0 || !lua_isnumber(L, -1))
					luaL_error(L, "format 'c0' needs a previous size");
				lua_Number len = lua_tonumber(L, -1);
				lua_pop(L, 1);
				n--;
				luaL_argcheck(L, len >= 0 && len <= (lua_Number)(ld - pos), 2,
					      "data string too short");
				size = (size_t)len;
			}
			lua_pushlstring(L, data + pos, size);
			n++;
			break;
		case 's': {
			const char *e = memchr(data + pos, '\0', ld - pos);
			if (!e)
				luaL_error(L, "unfinished string in data");
			size = (size_t)(e - (data + pos)) + 1;
			lua_pushlstring(L, data + pos, size - 1);
			n++;
			break;
		}
		default:
			st_control(L, opt, &fmt, &h);
		}
		pos += size;
	}
	lua_pushinteger(L, (lua_Integer)pos + 1);
	return n + 1;
}

static int st_size(lua_State *L)
{
	struct st_header h;
	const char *fmt = luaL_checkstring(L, 1);
	size_t pos = 0;
	st_defaults(&h);
	while (*fmt) {
		char opt = *fmt++;
		size_t size = st_optsize(L, opt, &fmt);
		pos += st_toalign(pos, &h, opt, size);
		if (opt == 's')
			luaL_argerror(L, 1, "option 's' has no fixed size");
		else if (opt == 'c' && size == 0)
			luaL_argerror(L, 1, "option 'c0' has no fixed size");
		if (!isalnum((unsigned char)opt))
			st_control(L, opt, &fmt, &h);
		pos += size;
	}
	lua_pushinteger(L, (lua_Integer)pos);
	return 1;
}

int script_open_struct(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "pack", st_pack },
		{ "unpack", st_unpack },
		{ "size", st_size },
		{ NULL, NULL },
	};
	lua_newtable(L);
	luaL_register(L, NULL, fns);
	return 1;
}
