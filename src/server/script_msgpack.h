/*
 * script_msgpack.h - the cmsgpack library of the scripting sandbox
 * (MessagePack pack/unpack with Redis's API; script_msgpack.c).
 */
#ifndef KV_SCRIPT_MSGPACK_H
#define KV_SCRIPT_MSGPACK_H

struct lua_State;

/* Push the cmsgpack table (a lua_CFunction: returns 1). */
int script_open_cmsgpack(struct lua_State *L);

#endif
