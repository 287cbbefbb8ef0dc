/*
 * script_struct.h - the struct library of the scripting sandbox (binary
 * pack/unpack with the API Redis bundles; script_struct.c).
 */
#ifndef KV_SCRIPT_STRUCT_H
#define KV_SCRIPT_STRUCT_H

struct lua_State;

/* Push the struct table (a lua_CFunction: returns 1). */
int script_open_struct(struct lua_State *L);

#endif
