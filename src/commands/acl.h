/*
 * acl.h - users and their permissions (Redis 7.0's ACL): the rule parser,
 * the process-wide user table, the permission check, ACL LOG, the aclfile,
 * and the ACL command family.
 *
 * What it is not: where the check runs (server/route.c, before routing;
 * server/script.c for redis.call) and the connection's state (server/).
 *
 * Sharing across shards (docs/acl.md): a user is a handle (struct
 * acl_user) that lives as long as a connection or the table refers to it;
 * its rules are an immutable struct acl_perm the handle points to through
 * an atomic pointer.  ACL SETUSER builds a new acl_perm off to the side and
 * swaps it in, so a rule list is applied whole or not at all, and a shard
 * reading the old one in the middle of a check is never disturbed.  The old
 * one is freed once every shard has passed a quiescent point (the start of
 * a loop turn: acl_quiescent), since no shard keeps a perm pointer across
 * turns.  Writers (SETUSER, DELUSER, LOAD, AUTH's lookup) serialise on one
 * mutex; the check itself takes no lock.
 */
#ifndef KV_ACL_H
#define KV_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct kv_command;
struct acl_user;

/* Verdicts of a check, Redis's numbers (ACL LOG's reason). */
enum acl_verdict {
	ACL_OK = 0,
	ACL_DENIED_CMD = 1,
	ACL_DENIED_KEY = 2,
	ACL_DENIED_AUTH = 3,
	ACL_DENIED_CHANNEL = 4,
};

/* Where a denial happened (ACL LOG's context). */
enum acl_log_ctx {
	ACL_CTX_TOPLEVEL = 0,
	ACL_CTX_LUA = 1,
	ACL_CTX_MULTI = 2,
};

/* Build the default user (on, nopass, ~* &* +@all).  After
 * cmd_table_init(); idempotent. */
void acl_init(void);
/* Free every user and the log (shutdown, after the shards stopped). */
void acl_fini(void);

/* Quiescent-state reclamation: the server announces its n shard threads
 * before they start (0 = none: retired rules are freed at once), and each
 * calls acl_quiescent(its id) at the start of every loop turn. */
void acl_threads(uint32_t n);
void acl_quiescent(uint32_t thread);

/* The default user: never freed, so it needs no reference. */
struct acl_user *acl_default_user(void);
void acl_user_ref(struct acl_user *u);
void acl_user_unref(struct acl_user *u);
/* The user's name (stable for the handle's life). */
const char *acl_user_name(const struct acl_user *u);
/* Whether the user was deleted (its clients are being closed). */
bool acl_user_deleted(const struct acl_user *u);

/* Whether the default user has passwords (not nopass): AUTH <password>
 * is an error otherwise. */
bool acl_default_has_password(void);
/* Whether a user of that name exists (CLIENT KILL USER). */
bool acl_user_exists(const char *name, size_t len);

/* Whether a new connection must authenticate: the default user has a
 * password or is off (Redis's authRequired). */
bool acl_auth_required(void);

/* AUTH / HELLO AUTH: the named user, referenced, when it exists, is on and
 * the password matches (or it is nopass); NULL otherwise. */
struct acl_user *acl_authenticate(const char *name, size_t nlen, const char *pass, size_t plen);

/* May user u run this call (cmd as looked up, argv[0] its name)?  Returns
 * ACL_OK or a denial, with *errpos the argv index of the key or channel
 * denied.  A deleted user may run nothing. */
enum acl_verdict acl_check(const struct acl_user *u, const struct kv_command *cmd, int argc,
			   const struct kv_slice *argv, int *errpos);
/* The -NOPERM error of a denied top-level command, as Redis 7.0 words it. */
void acl_reply_denied(struct kv_buf *out, enum acl_verdict v, const struct kv_command *target);
/* Redis's short reason ("can't run this command or subcommand", ...). */
const char *acl_verdict_text(enum acl_verdict v);

/* Add an ACL LOG entry (grouped with a similar recent one, as Redis does).
 * object: the command's full name, key, channel, or AUTH's argv[0];
 * cinfo: the client's CLIENT LIST line without the newline. */
void acl_log_add(enum acl_verdict reason, enum acl_log_ctx ctx, const char *object, size_t olen,
		 const char *user, size_t ulen, const char *cinfo, size_t cilen);

/* requirepass: NULL or "" makes the default user nopass, otherwise its one
 * password (CONFIG SET requirepass, as Redis). */
void acl_set_default_password(const char *pass, size_t len);
/* acllog-max-len. */
void acl_set_log_max_len(uint64_t n);
/* aclfile: "" for none.  Copied. */
void acl_set_file(const char *path);
const char *acl_file(void);

/* A `user` line of the config file (argv without the word "user"):
 * checked now, applied by acl_load_startup.  Returns 0, or -1 with Redis's
 * message in err. */
int acl_config_user(int argc, const struct kv_slice *argv, char *err, size_t cap);
/* At startup, after the config: create the config file's users, or load
 * the aclfile.  Returns 0, or -1 with the message (naming the bad line). */
int acl_load_startup(char *err, size_t cap);

/* Parse rules into a scratch user and apply them to a fresh perm, without
 * touching the table: the unit tests' view of the parser.  Returns 0, or -1
 * with Redis's SETUSER error in err ("Error in ACL SETUSER modifier ..."). */
int acl_rules_check(int argc, const struct kv_slice *argv, char *err, size_t cap);
/* Every user as a config file line ("user <name> <rules>\n"), ACL LIST's
 * order: CONFIG REWRITE. */
void acl_config_lines(struct kv_buf *out);
/* Describe a user as ACL LIST does ("user <name> <rules>"); false when
 * there is no such user. */
bool acl_describe_user(const char *name, struct kv_buf *out);

/* Redis's categories of a command or subcommand (ACL_CAT_* bits in Redis's
 * order, which COMMAND INFO and ACL CAT print). */
#define ACL_CAT_COUNT 21
uint32_t acl_categories(const struct kv_command *cmd);
const char *acl_category_name(int i);

#endif
