/*
 * cmd_cluster.c - the commands a standalone Redis 7.0 has for Redis Cluster
 * and modules, answered as a standalone Redis answers them.
 *
 * kevy is not a Redis Cluster node (its shards are inside one server, and
 * one address serves every key) and loads no Redis modules (their ABI is
 * Redis's own process).  Clients and tools still send these commands to
 * find out: redis-py and Lettuce probe CLUSTER INFO or CLUSTER SLOTS to tell
 * a cluster from a standalone server, cluster clients send READONLY and
 * ASKING, exporters and GUIs list modules.  A standalone redis-server
 * answers every CLUSTER subcommand, READONLY, READWRITE and ASKING with
 * "ERR This instance has cluster support disabled" (after the usual
 * unknown-subcommand and arity checks), MODULE LIST with an empty array
 * when nothing is loaded; so does kevy.  MODULE LOAD, LOADEX and UNLOAD
 * are refused with a line that says kevy loads no modules
 * (docs/compatibility.md).
 */
#include "commands/cmd.h"

#include "base/log.h"
#include "proto/resp.h"

#define CLUSTER_DISABLED "ERR This instance has cluster support disabled"

static void cmd_cluster_disabled(struct cmd_ctx *c)
{
	resp_error(c->out, CLUSTER_DISABLED);
}

/* The facts of Redis 7.0's table (arity, flags, since, summary,
 * complexity); every one answers CLUSTER_DISABLED here. */
#define CL_ADMIN (CMD_ADMIN | CMD_STALE)
#define CL(n, a, f, s, sum, cx)                                                         \
	{ .name = "cluster|" n, .arity = (a), .flags = (f), .proc = cmd_cluster_disabled, \
	  .group = "cluster", .since = (s), .summary = (sum), .complexity = (cx) }

static const struct kv_command cluster_subs[] = {
	CL("addslots", -3, CL_ADMIN, "3.0.0", "Assign new hash slots to receiving node",
	   "O(N) where N is the total number of hash slot arguments"),
	CL("addslotsrange", -4, CL_ADMIN, "7.0.0", "Assign new hash slots to receiving node",
	   "O(N) where N is the total number of the slots between the start slot and end slot "
	   "arguments."),
	CL("bumpepoch", 2, CL_ADMIN | CMD_RANDOM, "3.0.0", "Advance the cluster config epoch",
	   "O(1)"),
	CL("count-failure-reports", 3, CL_ADMIN | CMD_RANDOM, "3.0.0",
	   "Return the number of failure reports active for a given node",
	   "O(N) where N is the number of failure reports"),
	CL("countkeysinslot", 3, CMD_STALE, "3.0.0",
	   "Return the number of local keys in the specified hash slot", "O(1)"),
	CL("delslots", -3, CL_ADMIN, "3.0.0", "Set hash slots as unbound in receiving node",
	   "O(N) where N is the total number of hash slot arguments"),
	CL("delslotsrange", -4, CL_ADMIN, "7.0.0", "Set hash slots as unbound in receiving node",
	   "O(N) where N is the total number of the slots between the start slot and end slot "
	   "arguments."),
	CL("failover", -2, CL_ADMIN, "3.0.0",
	   "Forces a replica to perform a manual failover of its master.", "O(1)"),
	CL("flushslots", 2, CL_ADMIN, "3.0.0", "Delete a node's own slots information", "O(1)"),
	CL("forget", 3, CL_ADMIN, "3.0.0", "Remove a node from the nodes table", "O(1)"),
	CL("getkeysinslot", 4, CMD_STALE | CMD_RANDOM, "3.0.0",
	   "Return local key names in the specified hash slot",
	   "O(log(N)) where N is the number of requested keys"),
	CL("help", 2, CMD_LOADING | CMD_STALE, "5.0.0",
	   "Show helpful text about the different subcommands", "O(1)"),
	CL("info", 2, CMD_STALE | CMD_RANDOM, "3.0.0", "Provides info about Redis Cluster node state",
	   "O(1)"),
	CL("keyslot", 3, CMD_STALE, "3.0.0", "Returns the hash slot of the specified key",
	   "O(N) where N is the number of bytes in the key"),
	CL("links", 2, CMD_STALE | CMD_RANDOM, "7.0.0",
	   "Returns a list of all TCP links to and from peer nodes in cluster",
	   "O(N) where N is the total number of Cluster nodes"),
	CL("meet", -4, CL_ADMIN, "3.0.0", "Force a node cluster to handshake with another node",
	   "O(1)"),
	CL("myid", 2, CMD_STALE, "3.0.0", "Return the node id", "O(1)"),
	CL("nodes", 2, CMD_STALE | CMD_RANDOM, "3.0.0", "Get Cluster config for the node",
	   "O(N) where N is the total number of Cluster nodes"),
	CL("replicas", 3, CL_ADMIN | CMD_RANDOM, "5.0.0",
	   "List replica nodes of the specified master node", "O(1)"),
	CL("replicate", 3, CL_ADMIN, "3.0.0",
	   "Reconfigure a node as a replica of the specified master node", "O(1)"),
	CL("reset", -2, CL_ADMIN | CMD_NOSCRIPT, "3.0.0", "Reset a Redis Cluster node",
	   "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a "
	   "side effect."),
	CL("saveconfig", 2, CL_ADMIN, "3.0.0", "Forces the node to save cluster state on disk",
	   "O(1)"),
	CL("set-config-epoch", 3, CL_ADMIN, "3.0.0", "Set the configuration epoch in a new node",
	   "O(1)"),
	CL("setslot", -4, CL_ADMIN, "3.0.0", "Bind a hash slot to a specific node", "O(1)"),
	CL("shards", 2, CMD_STALE | CMD_RANDOM, "7.0.0",
	   "Get array of cluster slots to node mappings",
	   "O(N) where N is the total number of cluster nodes"),
	CL("slaves", 3, CL_ADMIN | CMD_RANDOM, "3.0.0",
	   "List replica nodes of the specified master node", "O(1)"),
	CL("slots", 2, CMD_STALE | CMD_RANDOM, "3.0.0",
	   "Get array of Cluster slot to node mappings",
	   "O(N) where N is the total number of Cluster nodes"),
	{ .name = NULL },
};

static void cmd_cluster(struct cmd_ctx *c)
{
	cmd_run_sub(c, cluster_subs, "cluster");
}

/* ---- MODULE ---- */

static void cmd_module_list(struct cmd_ctx *c)
{
	resp_array(c->out, 0);   /* no module is ever loaded */
}

static void cmd_module_load(struct cmd_ctx *c)
{
	log_notice("MODULE %.*s %.*s refused: kevy does not load Redis modules",
		   (int)c->argv[1].len, c->argv[1].ptr, (int)c->argv[2].len, c->argv[2].ptr);
	resp_error(c->out, "ERR Error loading the extension: kevy does not load Redis modules");
}

static void cmd_module_unload(struct cmd_ctx *c)
{
	resp_error(c->out, "ERR Error unloading module: no such module with that name");
}

static const char *const module_help_lines[] = {
	"LIST",
	"    Return a list of loaded modules.",
	"LOAD <path> [<arg> ...]",
	"    Load a module library from <path>, passing to it any optional arguments.",
	"LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
	"    Load a module library from <path>, while passing it module configurations and "
	"optional arguments.",
	"UNLOAD <name>",
	"    Unload a module.",
	NULL,
};

static void cmd_module_help(struct cmd_ctx *c)
{
	cmd_reply_help(c->out, "MODULE", module_help_lines);
}

#define MOD_LOAD_FLAGS (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOCAL | CMD_PROTECTED)

static const struct kv_command module_subs[] = {
	{ .name = "module|help", .arity = 2, .flags = CMD_LOADING | CMD_STALE | CMD_LOCAL,
	  .proc = cmd_module_help, .group = "server", .since = "5.0.0",
	  .summary = "Show helpful text about the different subcommands", .complexity = "O(1)" },
	{ .name = "module|list", .arity = 2,
	  .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOCAL | CMD_SORT_FOR_SCRIPT,
	  .proc = cmd_module_list, .group = "server", .since = "4.0.0",
	  .summary = "List all modules loaded by the server",
	  .complexity = "O(N) where N is the number of loaded modules." },
	{ .name = "module|load", .arity = -3, .flags = MOD_LOAD_FLAGS, .proc = cmd_module_load,
	  .group = "server", .since = "4.0.0", .summary = "Load a module", .complexity = "O(1)" },
	{ .name = "module|loadex", .arity = -3, .flags = MOD_LOAD_FLAGS, .proc = cmd_module_load,
	  .group = "server", .since = "7.0.0", .summary = "Load a module with extended parameters",
	  .complexity = "O(1)" },
	{ .name = "module|unload", .arity = 3, .flags = MOD_LOAD_FLAGS, .proc = cmd_module_unload,
	  .group = "server", .since = "4.0.0", .summary = "Unload a module", .complexity = "O(1)" },
	{ .name = NULL },
};

static void cmd_module(struct cmd_ctx *c)
{
	cmd_run_sub(c, module_subs, "module");
}

const struct kv_command cmd_table_cluster[] = {
	{ .name = "cluster", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_cluster,
	  .group = "cluster", .since = "3.0.0", .summary = "A container for cluster commands",
	  .complexity = "Depends on subcommand.", .subcommands = cluster_subs },
	{ .name = "readonly", .arity = 1, .flags = CMD_FAST | CMD_LOADING | CMD_STALE | CMD_LOCAL,
	  .proc = cmd_cluster_disabled, .group = "cluster", .since = "3.0.0",
	  .summary = "Enables read queries for a connection to a cluster replica node",
	  .complexity = "O(1)" },
	{ .name = "readwrite", .arity = 1, .flags = CMD_FAST | CMD_LOADING | CMD_STALE | CMD_LOCAL,
	  .proc = cmd_cluster_disabled, .group = "cluster", .since = "3.0.0",
	  .summary = "Disables read queries for a connection to a cluster replica node",
	  .complexity = "O(1)" },
	{ .name = "asking", .arity = 1, .flags = CMD_FAST | CMD_LOCAL, .proc = cmd_cluster_disabled,
	  .group = "cluster", .since = "3.0.0",
	  .summary = "Sent by cluster clients after an -ASK redirect", .complexity = "O(1)" },
	{ .name = "module", .arity = -2, .flags = CMD_LOCAL, .proc = cmd_module, .group = "server",
	  .since = "4.0.0", .summary = "A container for module commands",
	  .complexity = "Depends on subcommand.", .subcommands = module_subs },
	{ .name = NULL },
};
