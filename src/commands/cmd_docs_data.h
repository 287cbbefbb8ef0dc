/* cmd_docs_data.h - written by scripts/gen-cmd-docs.py; do not edit by hand.
 *
 * Every command and subcommand of kevy's COMMAND LIST, by name, with its
 * documentation and key specs in the line format of cmd_docs.c.  Read only
 * by cmd_docs.c. */
static const struct cmd_docs_src cmd_docs_src[] = {
	{ "acl",
	  "" },
	{ "acl|cat",
	  "- categoryname string ?\n" },
	{ "acl|deluser",
	  "- username string *\n" },
	{ "acl|dryrun",
	  "- username string\n"
	  "- command string\n"
	  "- arg string ?*\n" },
	{ "acl|genpass",
	  "- bits integer ?\n" },
	{ "acl|getuser",
	  "H 6.2.0 Added Pub/Sub channel patterns.\n"
	  "H 7.0.0 Added selectors and changed the format of key and channel patterns from a list to their rule representation.\n"
	  "- username string\n" },
	{ "acl|help",
	  "" },
	{ "acl|list",
	  "" },
	{ "acl|load",
	  "" },
	{ "acl|log",
	  "- operation oneof ?\n"
	  "  - count integer\n"
	  "  - reset pure-token =RESET\n" },
	{ "acl|save",
	  "" },
	{ "acl|setuser",
	  "H 6.2.0 Added Pub/Sub channel patterns.\n"
	  "H 7.0.0 Added selectors and key based permissions.\n"
	  "- username string\n"
	  "- rule string ?*\n" },
	{ "acl|users",
	  "" },
	{ "acl|whoami",
	  "" },
	{ "append",
	  "K RW,insert i1 r0,1,0\n"
	  "- key key @0\n"
	  "- value string\n" },
	{ "asking",
	  "" },
	{ "auth",
	  "H 6.0.0 Added ACL style (username and password).\n"
	  "- username string ^6.0.0 ?\n"
	  "- password string\n" },
	{ "bgrewriteaof",
	  "" },
	{ "bgsave",
	  "H 3.2.2 Added the `SCHEDULE` option.\n"
	  "- schedule pure-token =SCHEDULE ^3.2.2 ?\n" },
	{ "bitcount",
	  "K RO,access i1 r0,1,0\n"
	  "H 7.0.0 Added the `BYTE|BIT` option.\n"
	  "- key key @0\n"
	  "- index block ?\n"
	  "  - start integer\n"
	  "  - end integer\n"
	  "  - index_unit oneof ^7.0.0 ?\n"
	  "    - byte pure-token =BYTE\n"
	  "    - bit pure-token =BIT\n" },
	{ "bitfield",
	  "K RW,access,update,variable_flags i1 r0,1,0 This command allows both access and modification of the key\n"
	  "- key key @0\n"
	  "- operation oneof ?*\n"
	  "  - encoding_offset block =GET\n"
	  "    - encoding string\n"
	  "    - offset integer\n"
	  "  - write block\n"
	  "    - wrap_sat_fail oneof =OVERFLOW ?\n"
	  "      - wrap pure-token =WRAP\n"
	  "      - sat pure-token =SAT\n"
	  "      - fail pure-token =FAIL\n"
	  "    - write_operation oneof\n"
	  "      - encoding_offset_value block =SET\n"
	  "        - encoding string\n"
	  "        - offset integer\n"
	  "        - value integer\n"
	  "      - encoding_offset_increment block =INCRBY\n"
	  "        - encoding string\n"
	  "        - offset integer\n"
	  "        - increment integer\n" },
	{ "bitfield_ro",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- encoding_offset block =GET ?*+\n"
	  "  - encoding string\n"
	  "  - offset integer\n" },
	{ "bitop",
	  "K OW,update i2 r0,1,0\n"
	  "K RO,access i3 r-1,1,0\n"
	  "- operation string\n"
	  "- destkey key @0\n"
	  "- key key @1 *\n" },
	{ "bitpos",
	  "K RO,access i1 r0,1,0\n"
	  "H 7.0.0 Added the `BYTE|BIT` option.\n"
	  "- key key @0\n"
	  "- bit integer\n"
	  "- index block ?\n"
	  "  - start integer\n"
	  "  - end_index block ?\n"
	  "    - end integer\n"
	  "    - index_unit oneof ^7.0.0 ?\n"
	  "      - byte pure-token =BYTE\n"
	  "      - bit pure-token =BIT\n" },
	{ "blmove",
	  "K RW,access,delete i1 r0,1,0\n"
	  "K RW,insert i2 r0,1,0\n"
	  "- source key @0\n"
	  "- destination key @1\n"
	  "- wherefrom oneof\n"
	  "  - left pure-token =LEFT\n"
	  "  - right pure-token =RIGHT\n"
	  "- whereto oneof\n"
	  "  - left pure-token =LEFT\n"
	  "  - right pure-token =RIGHT\n"
	  "- timeout double\n" },
	{ "blmpop",
	  "K RW,access,delete i2 n0,1,1\n"
	  "- timeout double\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- where oneof\n"
	  "  - left pure-token =LEFT\n"
	  "  - right pure-token =RIGHT\n"
	  "- count integer =COUNT ?\n" },
	{ "blpop",
	  "K RW,access,delete i1 r-2,1,0\n"
	  "H 6.0.0 `timeout` is interpreted as a double instead of an integer.\n"
	  "- key key @0 *\n"
	  "- timeout double\n" },
	{ "brpop",
	  "K RW,access,delete i1 r-2,1,0\n"
	  "H 6.0.0 `timeout` is interpreted as a double instead of an integer.\n"
	  "- key key @0 *\n"
	  "- timeout double\n" },
	{ "brpoplpush",
	  "K RW,access,delete i1 r0,1,0\n"
	  "K RW,insert i2 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `BLMOVE` with the `RIGHT` and `LEFT` arguments\n"
	  "H 6.0.0 `timeout` is interpreted as a double instead of an integer.\n"
	  "- source key @0\n"
	  "- destination key @1\n"
	  "- timeout double\n" },
	{ "bzmpop",
	  "K RW,access,delete i2 n0,1,1\n"
	  "- timeout double\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- where oneof\n"
	  "  - min pure-token =MIN\n"
	  "  - max pure-token =MAX\n"
	  "- count integer =COUNT ?\n" },
	{ "bzpopmax",
	  "K RW,access,delete i1 r-2,1,0\n"
	  "H 6.0.0 `timeout` is interpreted as a double instead of an integer.\n"
	  "- key key @0 *\n"
	  "- timeout double\n" },
	{ "bzpopmin",
	  "K RW,access,delete i1 r-2,1,0\n"
	  "H 6.0.0 `timeout` is interpreted as a double instead of an integer.\n"
	  "- key key @0 *\n"
	  "- timeout double\n" },
	{ "client",
	  "" },
	{ "client|caching",
	  "- mode oneof\n"
	  "  - yes pure-token =YES\n"
	  "  - no pure-token =NO\n" },
	{ "client|getname",
	  "" },
	{ "client|getredir",
	  "" },
	{ "client|help",
	  "" },
	{ "client|id",
	  "" },
	{ "client|info",
	  "T nondeterministic_output\n" },
	{ "client|kill",
	  "H 2.8.12 Added new filter format.\n"
	  "H 2.8.12 `ID` option.\n"
	  "H 3.2.0 Added `master` type in for `TYPE` option.\n"
	  "H 5.0.0 Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility.\n"
	  "H 6.2.0 `LADDR` option.\n"
	  "- filter oneof\n"
	  "  - ip:port string !2.8.12\n"
	  "  - new-format oneof *\n"
	  "    - client-id integer =ID ^2.8.12 ?\n"
	  "    - normal_master_slave_pubsub oneof =TYPE ^2.8.12 ?\n"
	  "      - normal pure-token =NORMAL\n"
	  "      - master pure-token =MASTER ^3.2.0\n"
	  "      - slave pure-token =SLAVE\n"
	  "      - replica pure-token =REPLICA ^5.0.0\n"
	  "      - pubsub pure-token =PUBSUB\n"
	  "    - username string =USER ?\n"
	  "    - ip:port string =ADDR ?\n"
	  "    - ip:port string =LADDR ^6.2.0 ?\n"
	  "    - yes/no string =SKIPME ?\n" },
	{ "client|list",
	  "T nondeterministic_output\n"
	  "H 2.8.12 Added unique client `id` field.\n"
	  "H 5.0.0 Added optional `TYPE` filter.\n"
	  "H 6.0.0 Added `user` field.\n"
	  "H 6.2.0 Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter.\n"
	  "H 7.0.0 Added `resp`, `multi-mem`, `rbs` and `rbp` fields.\n"
	  "H 7.0.3 Added `ssub` field.\n"
	  "- normal_master_replica_pubsub oneof =TYPE ^5.0.0 ?\n"
	  "  - normal pure-token =NORMAL\n"
	  "  - master pure-token =MASTER\n"
	  "  - replica pure-token =REPLICA\n"
	  "  - pubsub pure-token =PUBSUB\n"
	  "- id block =ID ^6.2.0 ?\n"
	  "  - client-id integer *\n" },
	{ "client|no-evict",
	  "- enabled oneof\n"
	  "  - on pure-token =ON\n"
	  "  - off pure-token =OFF\n" },
	{ "client|pause",
	  "H 6.2.0 `CLIENT PAUSE WRITE` mode added along with the `mode` option.\n"
	  "- timeout integer\n"
	  "- mode oneof ^6.2.0 ?\n"
	  "  - write pure-token =WRITE\n"
	  "  - all pure-token =ALL\n" },
	{ "client|reply",
	  "- on_off_skip oneof\n"
	  "  - on pure-token =ON\n"
	  "  - off pure-token =OFF\n"
	  "  - skip pure-token =SKIP\n" },
	{ "client|setname",
	  "- connection-name string\n" },
	{ "client|tracking",
	  "- status oneof\n"
	  "  - on pure-token =ON\n"
	  "  - off pure-token =OFF\n"
	  "- client-id integer =REDIRECT ?\n"
	  "- prefix string =PREFIX ?*+\n"
	  "- bcast pure-token =BCAST ?\n"
	  "- optin pure-token =OPTIN ?\n"
	  "- optout pure-token =OPTOUT ?\n"
	  "- noloop pure-token =NOLOOP ?\n" },
	{ "client|trackinginfo",
	  "" },
	{ "client|unblock",
	  "- client-id integer\n"
	  "- timeout_error oneof ?\n"
	  "  - timeout pure-token =TIMEOUT\n"
	  "  - error pure-token =ERROR\n" },
	{ "client|unpause",
	  "" },
	{ "cluster",
	  "" },
	{ "cluster|addslots",
	  "- slot integer *\n" },
	{ "cluster|addslotsrange",
	  "- start-slot_end-slot block *\n"
	  "  - start-slot integer\n"
	  "  - end-slot integer\n" },
	{ "cluster|bumpepoch",
	  "T nondeterministic_output\n" },
	{ "cluster|count-failure-reports",
	  "T nondeterministic_output\n"
	  "- node-id string\n" },
	{ "cluster|countkeysinslot",
	  "- slot integer\n" },
	{ "cluster|delslots",
	  "- slot integer *\n" },
	{ "cluster|delslotsrange",
	  "- start-slot_end-slot block *\n"
	  "  - start-slot integer\n"
	  "  - end-slot integer\n" },
	{ "cluster|failover",
	  "- options oneof ?\n"
	  "  - force pure-token =FORCE\n"
	  "  - takeover pure-token =TAKEOVER\n" },
	{ "cluster|flushslots",
	  "" },
	{ "cluster|forget",
	  "- node-id string\n" },
	{ "cluster|getkeysinslot",
	  "T nondeterministic_output\n"
	  "- slot integer\n"
	  "- count integer\n" },
	{ "cluster|help",
	  "" },
	{ "cluster|info",
	  "T nondeterministic_output\n" },
	{ "cluster|keyslot",
	  "- key string\n" },
	{ "cluster|links",
	  "T nondeterministic_output\n" },
	{ "cluster|meet",
	  "H 4.0.0 Added the optional `cluster_bus_port` argument.\n"
	  "- ip string\n"
	  "- port integer\n"
	  "- cluster_bus_port integer ^4.0.0 ?\n" },
	{ "cluster|myid",
	  "" },
	{ "cluster|nodes",
	  "T nondeterministic_output\n" },
	{ "cluster|replicas",
	  "T nondeterministic_output\n"
	  "- node-id string\n" },
	{ "cluster|replicate",
	  "- node-id string\n" },
	{ "cluster|reset",
	  "- hard_soft oneof ?\n"
	  "  - hard pure-token =HARD\n"
	  "  - soft pure-token =SOFT\n" },
	{ "cluster|saveconfig",
	  "" },
	{ "cluster|set-config-epoch",
	  "- config-epoch integer\n" },
	{ "cluster|setslot",
	  "- slot integer\n"
	  "- subcommand oneof\n"
	  "  - node-id string =IMPORTING\n"
	  "  - node-id string =MIGRATING\n"
	  "  - node-id string =NODE\n"
	  "  - stable pure-token =STABLE\n" },
	{ "cluster|shards",
	  "T nondeterministic_output\n" },
	{ "cluster|slaves",
	  "T nondeterministic_output\n"
	  "F deprecated\n"
	  "D 5.0.0\n"
	  "R `CLUSTER REPLICAS`\n"
	  "- node-id string\n" },
	{ "cluster|slots",
	  "T nondeterministic_output\n"
	  "F deprecated\n"
	  "D 7.0.0\n"
	  "R `CLUSTER SHARDS`\n"
	  "H 4.0.0 Added node IDs.\n"
	  "H 7.0.0 Added additional networking metadata field.\n" },
	{ "command",
	  "T nondeterministic_output_order\n" },
	{ "command|count",
	  "" },
	{ "command|docs",
	  "T nondeterministic_output_order\n"
	  "- command-name string ?*\n" },
	{ "command|getkeys",
	  "" },
	{ "command|getkeysandflags",
	  "" },
	{ "command|help",
	  "" },
	{ "command|info",
	  "T nondeterministic_output_order\n"
	  "H 7.0.0 Allowed to be called with no argument to get info on all commands.\n"
	  "- command-name string ?*\n" },
	{ "command|list",
	  "T nondeterministic_output_order\n"
	  "- filterby oneof =FILTERBY ?\n"
	  "  - module-name string =MODULE\n"
	  "  - category string =ACLCAT\n"
	  "  - pattern pattern =PATTERN\n" },
	{ "config",
	  "" },
	{ "config|get",
	  "H 7.0.0 Added the ability to pass multiple pattern parameters in one call\n"
	  "- parameter block *\n"
	  "  - parameter string\n" },
	{ "config|help",
	  "" },
	{ "config|resetstat",
	  "" },
	{ "config|rewrite",
	  "" },
	{ "config|set",
	  "T request_policy:all_nodes\n"
	  "T response_policy:all_succeeded\n"
	  "H 7.0.0 Added the ability to set multiple parameters in one call.\n"
	  "- parameter_value block *\n"
	  "  - parameter string\n"
	  "  - value string\n" },
	{ "copy",
	  "K RO,access i1 r0,1,0\n"
	  "K OW,update i2 r0,1,0\n"
	  "- source key @0\n"
	  "- destination key @1\n"
	  "- destination-db integer =DB ?\n"
	  "- replace pure-token =REPLACE ?\n" },
	{ "dbsize",
	  "T request_policy:all_shards\n"
	  "T response_policy:agg_sum\n" },
	{ "debug",
	  "F syscmd\n" },
	{ "decr",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "decrby",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- decrement integer\n" },
	{ "del",
	  "K RM,delete i1 r-1,1,0\n"
	  "T request_policy:multi_shard\n"
	  "T response_policy:agg_sum\n"
	  "- key key @0 *\n" },
	{ "discard",
	  "" },
	{ "dump",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n" },
	{ "echo",
	  "- message string\n" },
	{ "eval",
	  "K RW,access,update i2 n0,1,1 We cannot tell how the keys will be used so we assume the worst, RW and UPDATE\n"
	  "- script string\n"
	  "- numkeys integer\n"
	  "- key key @0 ?*\n"
	  "- arg string ?*\n" },
	{ "eval_ro",
	  "K RO,access i2 n0,1,1 We cannot tell how the keys will be used so we assume the worst, RO and ACCESS\n"
	  "- script string\n"
	  "- numkeys integer\n"
	  "- key key @0 ?*\n"
	  "- arg string ?*\n" },
	{ "evalsha",
	  "K RW,access,update i2 n0,1,1\n"
	  "- sha1 string\n"
	  "- numkeys integer\n"
	  "- key key @0 ?*\n"
	  "- arg string ?*\n" },
	{ "evalsha_ro",
	  "K RO,access i2 n0,1,1\n"
	  "- sha1 string\n"
	  "- numkeys integer\n"
	  "- key key @0 ?*\n"
	  "- arg string ?*\n" },
	{ "exec",
	  "" },
	{ "exists",
	  "K RO i1 r-1,1,0\n"
	  "T request_policy:multi_shard\n"
	  "T response_policy:agg_sum\n"
	  "H 3.0.3 Accepts multiple `key` arguments.\n"
	  "- key key @0 *\n" },
	{ "expire",
	  "K RW,update i1 r0,1,0\n"
	  "H 7.0.0 Added options: `NX`, `XX`, `GT` and `LT`.\n"
	  "- key key @0\n"
	  "- seconds integer\n"
	  "- condition oneof ^7.0.0 ?\n"
	  "  - nx pure-token =NX\n"
	  "  - xx pure-token =XX\n"
	  "  - gt pure-token =GT\n"
	  "  - lt pure-token =LT\n" },
	{ "expireat",
	  "K RW,update i1 r0,1,0\n"
	  "H 7.0.0 Added options: `NX`, `XX`, `GT` and `LT`.\n"
	  "- key key @0\n"
	  "- unix-time-seconds unix-time\n"
	  "- condition oneof ^7.0.0 ?\n"
	  "  - nx pure-token =NX\n"
	  "  - xx pure-token =XX\n"
	  "  - gt pure-token =GT\n"
	  "  - lt pure-token =LT\n" },
	{ "expiretime",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "failover",
	  "- target block =TO ?\n"
	  "  - host string\n"
	  "  - port integer\n"
	  "  - force pure-token =FORCE ?\n"
	  "- abort pure-token =ABORT ?\n"
	  "- milliseconds integer =TIMEOUT ?\n" },
	{ "fcall",
	  "K RW,access,update i2 n0,1,1 We cannot tell how the keys will be used so we assume the worst, RW and UPDATE\n"
	  "- function string\n"
	  "- numkeys integer\n"
	  "- key key @0 ?*\n"
	  "- arg string ?*\n" },
	{ "fcall_ro",
	  "K RO,access i2 n0,1,1 We cannot tell how the keys will be used so we assume the worst, RO and ACCESS\n"
	  "- function string\n"
	  "- numkeys integer\n"
	  "- key key @0 ?*\n"
	  "- arg string ?*\n" },
	{ "flushall",
	  "T request_policy:all_shards\n"
	  "T response_policy:all_succeeded\n"
	  "H 4.0.0 Added the `ASYNC` flushing mode modifier.\n"
	  "H 6.2.0 Added the `SYNC` flushing mode modifier.\n"
	  "- async oneof ?\n"
	  "  - async pure-token =ASYNC ^4.0.0\n"
	  "  - sync pure-token =SYNC ^6.2.0\n" },
	{ "flushdb",
	  "T request_policy:all_shards\n"
	  "T response_policy:all_succeeded\n"
	  "H 4.0.0 Added the `ASYNC` flushing mode modifier.\n"
	  "H 6.2.0 Added the `SYNC` flushing mode modifier.\n"
	  "- async oneof ?\n"
	  "  - async pure-token =ASYNC ^4.0.0\n"
	  "  - sync pure-token =SYNC ^6.2.0\n" },
	{ "function",
	  "" },
	{ "function|delete",
	  "T request_policy:all_shards\n"
	  "T response_policy:all_succeeded\n"
	  "- library-name string\n" },
	{ "function|dump",
	  "" },
	{ "function|flush",
	  "T request_policy:all_shards\n"
	  "T response_policy:all_succeeded\n"
	  "- async oneof ?\n"
	  "  - async pure-token =ASYNC\n"
	  "  - sync pure-token =SYNC\n" },
	{ "function|help",
	  "" },
	{ "function|kill",
	  "T request_policy:all_shards\n"
	  "T response_policy:one_succeeded\n" },
	{ "function|list",
	  "T nondeterministic_output_order\n"
	  "- library-name-pattern string =LIBRARYNAME ?\n"
	  "- withcode pure-token =WITHCODE ?\n" },
	{ "function|load",
	  "T request_policy:all_shards\n"
	  "T response_policy:all_succeeded\n"
	  "- replace pure-token =REPLACE ?\n"
	  "- function-code string\n" },
	{ "function|restore",
	  "T request_policy:all_shards\n"
	  "T response_policy:all_succeeded\n"
	  "- serialized-value string\n"
	  "- policy oneof ?\n"
	  "  - flush pure-token =FLUSH\n"
	  "  - append pure-token =APPEND\n"
	  "  - replace pure-token =REPLACE\n" },
	{ "function|stats",
	  "T nondeterministic_output\n"
	  "T request_policy:all_shards\n"
	  "T response_policy:special\n" },
	{ "geoadd",
	  "K RW,update i1 r0,1,0\n"
	  "H 6.2.0 Added the `CH`, `NX` and `XX` options.\n"
	  "- key key @0\n"
	  "- condition oneof ^6.2.0 ?\n"
	  "  - nx pure-token =NX\n"
	  "  - xx pure-token =XX\n"
	  "- change pure-token =CH ^6.2.0 ?\n"
	  "- longitude_latitude_member block *\n"
	  "  - longitude double\n"
	  "  - latitude double\n"
	  "  - member string\n" },
	{ "geodist",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member1 string\n"
	  "- member2 string\n"
	  "- unit oneof ?\n"
	  "  - m pure-token =M\n"
	  "  - km pure-token =KM\n"
	  "  - ft pure-token =FT\n"
	  "  - mi pure-token =MI\n" },
	{ "geohash",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member string *\n" },
	{ "geopos",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member string *\n" },
	{ "georadius",
	  "K RO,access i1 r0,1,0\n"
	  "K OW,update k6,STORE r0,1,0\n"
	  "K OW,update k6,STOREDIST r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument\n"
	  "H 6.2.0 Added the `ANY` option for `COUNT`.\n"
	  "H 7.0.0 Added support for uppercase unit names.\n"
	  "- key key @0\n"
	  "- longitude double\n"
	  "- latitude double\n"
	  "- radius double\n"
	  "- unit oneof\n"
	  "  - m pure-token =M\n"
	  "  - km pure-token =KM\n"
	  "  - ft pure-token =FT\n"
	  "  - mi pure-token =MI\n"
	  "- withcoord pure-token =WITHCOORD ?\n"
	  "- withdist pure-token =WITHDIST ?\n"
	  "- withhash pure-token =WITHHASH ?\n"
	  "- count block ?\n"
	  "  - count integer =COUNT\n"
	  "  - any pure-token =ANY ^6.2.0 ?\n"
	  "- order oneof ?\n"
	  "  - asc pure-token =ASC\n"
	  "  - desc pure-token =DESC\n"
	  "- key key @1 =STORE ?\n"
	  "- key key @2 =STOREDIST ?\n" },
	{ "georadius_ro",
	  "K RO,access i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `GEOSEARCH` with the `BYRADIUS` argument\n"
	  "H 6.2.0 Added the `ANY` option for `COUNT`.\n"
	  "- key key @0\n"
	  "- longitude double\n"
	  "- latitude double\n"
	  "- radius double\n"
	  "- unit oneof\n"
	  "  - m pure-token =M\n"
	  "  - km pure-token =KM\n"
	  "  - ft pure-token =FT\n"
	  "  - mi pure-token =MI\n"
	  "- withcoord pure-token =WITHCOORD ?\n"
	  "- withdist pure-token =WITHDIST ?\n"
	  "- withhash pure-token =WITHHASH ?\n"
	  "- count block ?\n"
	  "  - count integer =COUNT\n"
	  "  - any pure-token =ANY ^6.2.0 ?\n"
	  "- order oneof ?\n"
	  "  - asc pure-token =ASC\n"
	  "  - desc pure-token =DESC\n" },
	{ "georadiusbymember",
	  "K RO,access i1 r0,1,0\n"
	  "K OW,update k5,STORE r0,1,0\n"
	  "K OW,update k5,STOREDIST r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments\n"
	  "H 7.0.0 Added support for uppercase unit names.\n"
	  "- key key @0\n"
	  "- member string\n"
	  "- radius double\n"
	  "- unit oneof\n"
	  "  - m pure-token =M\n"
	  "  - km pure-token =KM\n"
	  "  - ft pure-token =FT\n"
	  "  - mi pure-token =MI\n"
	  "- withcoord pure-token =WITHCOORD ?\n"
	  "- withdist pure-token =WITHDIST ?\n"
	  "- withhash pure-token =WITHHASH ?\n"
	  "- count block ?\n"
	  "  - count integer =COUNT\n"
	  "  - any pure-token =ANY ?\n"
	  "- order oneof ?\n"
	  "  - asc pure-token =ASC\n"
	  "  - desc pure-token =DESC\n"
	  "- key key @1 =STORE ?\n"
	  "- key key @2 =STOREDIST ?\n" },
	{ "georadiusbymember_ro",
	  "K RO,access i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments\n"
	  "- key key @0\n"
	  "- member string\n"
	  "- radius double\n"
	  "- unit oneof\n"
	  "  - m pure-token =M\n"
	  "  - km pure-token =KM\n"
	  "  - ft pure-token =FT\n"
	  "  - mi pure-token =MI\n"
	  "- withcoord pure-token =WITHCOORD ?\n"
	  "- withdist pure-token =WITHDIST ?\n"
	  "- withhash pure-token =WITHHASH ?\n"
	  "- count block ?\n"
	  "  - count integer =COUNT\n"
	  "  - any pure-token =ANY ?\n"
	  "- order oneof ?\n"
	  "  - asc pure-token =ASC\n"
	  "  - desc pure-token =DESC\n" },
	{ "geosearch",
	  "K RO,access i1 r0,1,0\n"
	  "H 7.0.0 Added support for uppercase unit names.\n"
	  "- key key @0\n"
	  "- from oneof\n"
	  "  - member string =FROMMEMBER\n"
	  "  - longitude_latitude block =FROMLONLAT\n"
	  "    - longitude double\n"
	  "    - latitude double\n"
	  "- by oneof\n"
	  "  - circle block\n"
	  "    - radius double =BYRADIUS\n"
	  "    - unit oneof\n"
	  "      - m pure-token =M\n"
	  "      - km pure-token =KM\n"
	  "      - ft pure-token =FT\n"
	  "      - mi pure-token =MI\n"
	  "  - box block\n"
	  "    - width double =BYBOX\n"
	  "    - height double\n"
	  "    - unit oneof\n"
	  "      - m pure-token =M\n"
	  "      - km pure-token =KM\n"
	  "      - ft pure-token =FT\n"
	  "      - mi pure-token =MI\n"
	  "- order oneof ?\n"
	  "  - asc pure-token =ASC\n"
	  "  - desc pure-token =DESC\n"
	  "- count block ?\n"
	  "  - count integer =COUNT\n"
	  "  - any pure-token =ANY ?\n"
	  "- withcoord pure-token =WITHCOORD ?\n"
	  "- withdist pure-token =WITHDIST ?\n"
	  "- withhash pure-token =WITHHASH ?\n" },
	{ "geosearchstore",
	  "K OW,update i1 r0,1,0\n"
	  "K RO,access i2 r0,1,0\n"
	  "H 7.0.0 Added support for uppercase unit names.\n"
	  "- destination key @0\n"
	  "- source key @1\n"
	  "- from oneof\n"
	  "  - member string =FROMMEMBER\n"
	  "  - longitude_latitude block =FROMLONLAT\n"
	  "    - longitude double\n"
	  "    - latitude double\n"
	  "- by oneof\n"
	  "  - circle block\n"
	  "    - radius double =BYRADIUS\n"
	  "    - unit oneof\n"
	  "      - m pure-token =M\n"
	  "      - km pure-token =KM\n"
	  "      - ft pure-token =FT\n"
	  "      - mi pure-token =MI\n"
	  "  - box block\n"
	  "    - width double =BYBOX\n"
	  "    - height double\n"
	  "    - unit oneof\n"
	  "      - m pure-token =M\n"
	  "      - km pure-token =KM\n"
	  "      - ft pure-token =FT\n"
	  "      - mi pure-token =MI\n"
	  "- order oneof ?\n"
	  "  - asc pure-token =ASC\n"
	  "  - desc pure-token =DESC\n"
	  "- count block ?\n"
	  "  - count integer =COUNT\n"
	  "  - any pure-token =ANY ?\n"
	  "- storedist pure-token =STOREDIST ?\n" },
	{ "get",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "getbit",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- offset integer\n" },
	{ "getdel",
	  "K RW,access,delete i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "getex",
	  "K RW,access,update i1 r0,1,0 RW and UPDATE because it changes the TTL\n"
	  "- key key @0\n"
	  "- expiration oneof ?\n"
	  "  - seconds integer =EX\n"
	  "  - milliseconds integer =PX\n"
	  "  - unix-time-seconds unix-time =EXAT\n"
	  "  - unix-time-milliseconds unix-time =PXAT\n"
	  "  - persist pure-token =PERSIST\n" },
	{ "getrange",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- start integer\n"
	  "- end integer\n" },
	{ "getset",
	  "K RW,access,update i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `SET` with the `!GET` argument\n"
	  "- key key @0\n"
	  "- value string\n" },
	{ "hdel",
	  "K RW,delete i1 r0,1,0\n"
	  "H 2.4.0 Accepts multiple `field` arguments.\n"
	  "- key key @0\n"
	  "- field string *\n" },
	{ "hello",
	  "H 6.2.0 `protover` made optional; when called without arguments the command reports the current connection's context.\n"
	  "- arguments block ?\n"
	  "  - protover integer\n"
	  "  - username_password block =AUTH ?\n"
	  "    - username string\n"
	  "    - password string\n"
	  "  - clientname string =SETNAME ?\n" },
	{ "hexists",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n"
	  "- field string\n" },
	{ "hget",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- field string\n" },
	{ "hgetall",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output_order\n"
	  "- key key @0\n" },
	{ "hincrby",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- field string\n"
	  "- increment integer\n" },
	{ "hincrbyfloat",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- field string\n"
	  "- increment double\n" },
	{ "hkeys",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output_order\n"
	  "- key key @0\n" },
	{ "hlen",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "hmget",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- field string *\n" },
	{ "hmset",
	  "K RW,update i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 4.0.0\n"
	  "R `HSET` with multiple field-value pairs\n"
	  "- key key @0\n"
	  "- field_value block *\n"
	  "  - field string\n"
	  "  - value string\n" },
	{ "hrandfield",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n"
	  "- options block ?\n"
	  "  - count integer\n"
	  "  - withvalues pure-token =WITHVALUES ?\n" },
	{ "hscan",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n"
	  "- cursor integer\n"
	  "- pattern pattern =MATCH ?\n"
	  "- count integer =COUNT ?\n" },
	{ "hset",
	  "K RW,update i1 r0,1,0\n"
	  "H 4.0.0 Accepts multiple `field` and `value` arguments.\n"
	  "- key key @0\n"
	  "- field_value block *\n"
	  "  - field string\n"
	  "  - value string\n" },
	{ "hsetnx",
	  "K RW,insert i1 r0,1,0\n"
	  "- key key @0\n"
	  "- field string\n"
	  "- value string\n" },
	{ "hstrlen",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n"
	  "- field string\n" },
	{ "hvals",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output_order\n"
	  "- key key @0\n" },
	{ "incr",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "incrby",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- increment integer\n" },
	{ "incrbyfloat",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- increment double\n" },
	{ "info",
	  "T nondeterministic_output\n"
	  "T request_policy:all_shards\n"
	  "T response_policy:special\n"
	  "H 7.0.0 Added support for taking multiple section arguments.\n"
	  "- section string ?*\n" },
	{ "keys",
	  "T request_policy:all_shards\n"
	  "T nondeterministic_output_order\n"
	  "- pattern pattern\n" },
	{ "lastsave",
	  "T nondeterministic_output\n" },
	{ "latency",
	  "" },
	{ "latency|doctor",
	  "T nondeterministic_output\n"
	  "T request_policy:all_nodes\n"
	  "T response_policy:special\n" },
	{ "latency|graph",
	  "T nondeterministic_output\n"
	  "T request_policy:all_nodes\n"
	  "T response_policy:special\n"
	  "- event string\n" },
	{ "latency|help",
	  "" },
	{ "latency|histogram",
	  "T nondeterministic_output\n"
	  "T request_policy:all_nodes\n"
	  "T response_policy:special\n"
	  "- command string ?*\n" },
	{ "latency|history",
	  "T nondeterministic_output\n"
	  "T request_policy:all_nodes\n"
	  "T response_policy:special\n"
	  "- event string\n" },
	{ "latency|latest",
	  "T nondeterministic_output\n"
	  "T request_policy:all_nodes\n"
	  "T response_policy:special\n" },
	{ "latency|reset",
	  "T request_policy:all_nodes\n"
	  "T response_policy:all_succeeded\n"
	  "- event string ?*\n" },
	{ "lcs",
	  "K RO,access i1 r1,1,0\n"
	  "- key1 key @0\n"
	  "- key2 key @0\n"
	  "- len pure-token =LEN ?\n"
	  "- idx pure-token =IDX ?\n"
	  "- len integer =MINMATCHLEN ?\n"
	  "- withmatchlen pure-token =WITHMATCHLEN ?\n" },
	{ "lindex",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- index integer\n" },
	{ "linsert",
	  "K RW,insert i1 r0,1,0\n"
	  "- key key @0\n"
	  "- where oneof\n"
	  "  - before pure-token =BEFORE\n"
	  "  - after pure-token =AFTER\n"
	  "- pivot string\n"
	  "- element string\n" },
	{ "llen",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "lmove",
	  "K RW,access,delete i1 r0,1,0\n"
	  "K RW,insert i2 r0,1,0\n"
	  "- source key @0\n"
	  "- destination key @1\n"
	  "- wherefrom oneof\n"
	  "  - left pure-token =LEFT\n"
	  "  - right pure-token =RIGHT\n"
	  "- whereto oneof\n"
	  "  - left pure-token =LEFT\n"
	  "  - right pure-token =RIGHT\n" },
	{ "lmpop",
	  "K RW,access,delete i1 n0,1,1\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- where oneof\n"
	  "  - left pure-token =LEFT\n"
	  "  - right pure-token =RIGHT\n"
	  "- count integer =COUNT ?\n" },
	{ "lolwut",
	  "- version integer =VERSION ?\n" },
	{ "lpop",
	  "K RW,access,delete i1 r0,1,0\n"
	  "H 6.2.0 Added the `count` argument.\n"
	  "- key key @0\n"
	  "- count integer ^6.2.0 ?\n" },
	{ "lpos",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- element string\n"
	  "- rank integer =RANK ?\n"
	  "- num-matches integer =COUNT ?\n"
	  "- len integer =MAXLEN ?\n" },
	{ "lpush",
	  "K RW,insert i1 r0,1,0\n"
	  "H 2.4.0 Accepts multiple `element` arguments.\n"
	  "- key key @0\n"
	  "- element string *\n" },
	{ "lpushx",
	  "K RW,insert i1 r0,1,0\n"
	  "H 4.0.0 Accepts multiple `element` arguments.\n"
	  "- key key @0\n"
	  "- element string *\n" },
	{ "lrange",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- start integer\n"
	  "- stop integer\n" },
	{ "lrem",
	  "K RW,delete i1 r0,1,0\n"
	  "- key key @0\n"
	  "- count integer\n"
	  "- element string\n" },
	{ "lset",
	  "K RW,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- index integer\n"
	  "- element string\n" },
	{ "ltrim",
	  "K RW,delete i1 r0,1,0\n"
	  "- key key @0\n"
	  "- start integer\n"
	  "- stop integer\n" },
	{ "memory",
	  "" },
	{ "memory|doctor",
	  "T nondeterministic_output\n"
	  "T request_policy:all_shards\n"
	  "T response_policy:special\n" },
	{ "memory|help",
	  "" },
	{ "memory|malloc-stats",
	  "T nondeterministic_output\n"
	  "T request_policy:all_shards\n"
	  "T response_policy:special\n" },
	{ "memory|purge",
	  "T request_policy:all_shards\n"
	  "T response_policy:all_succeeded\n" },
	{ "memory|stats",
	  "T nondeterministic_output\n"
	  "T request_policy:all_shards\n"
	  "T response_policy:special\n" },
	{ "memory|usage",
	  "K RO i2 r0,1,0\n"
	  "- key key @0\n"
	  "- count integer =SAMPLES ?\n" },
	{ "mget",
	  "K RO,access i1 r-1,1,0\n"
	  "T request_policy:multi_shard\n"
	  "- key key @0 *\n" },
	{ "migrate",
	  "K RW,access,delete i3 r0,1,0\n"
	  "K RW,access,delete,incomplete k-2,KEYS r-1,1,0\n"
	  "T nondeterministic_output\n"
	  "H 3.0.0 Added the `COPY` and `REPLACE` options.\n"
	  "H 3.0.6 Added the `KEYS` option.\n"
	  "H 4.0.7 Added the `AUTH` option.\n"
	  "H 6.0.0 Added the `AUTH2` option.\n"
	  "- host string\n"
	  "- port integer\n"
	  "- key_or_empty_string oneof\n"
	  "  - key key @0\n"
	  "  - empty_string pure-token =\n"
	  "- destination-db integer\n"
	  "- timeout integer\n"
	  "- copy pure-token =COPY ^3.0.0 ?\n"
	  "- replace pure-token =REPLACE ^3.0.0 ?\n"
	  "- authentication oneof ?\n"
	  "  - password string =AUTH ^4.0.7 ?\n"
	  "  - username_password block =AUTH2 ^6.0.0 ?\n"
	  "    - username string\n"
	  "    - password string\n"
	  "- key key @1 =KEYS ^3.0.6 ?*\n" },
	{ "module",
	  "" },
	{ "module|help",
	  "" },
	{ "module|list",
	  "T nondeterministic_output_order\n" },
	{ "module|load",
	  "- path string\n"
	  "- arg string ?*\n" },
	{ "module|loadex",
	  "- path string\n"
	  "- configs block =CONFIG ?*+\n"
	  "  - name string\n"
	  "  - value string\n"
	  "- args block =ARGS ?*\n"
	  "  - arg string\n" },
	{ "module|unload",
	  "- name string\n" },
	{ "monitor",
	  "" },
	{ "move",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- db integer\n" },
	{ "mset",
	  "K OW,update i1 r-1,2,0\n"
	  "T request_policy:multi_shard\n"
	  "T response_policy:all_succeeded\n"
	  "- key_value block *\n"
	  "  - key key @0\n"
	  "  - value string\n" },
	{ "msetnx",
	  "K OW,insert i1 r-1,2,0\n"
	  "T request_policy:multi_shard\n"
	  "T response_policy:agg_min\n"
	  "- key_value block *\n"
	  "  - key key @0\n"
	  "  - value string\n" },
	{ "multi",
	  "" },
	{ "object",
	  "" },
	{ "object|encoding",
	  "K RO i2 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n" },
	{ "object|freq",
	  "K RO i2 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n" },
	{ "object|help",
	  "" },
	{ "object|idletime",
	  "K RO i2 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n" },
	{ "object|refcount",
	  "K RO i2 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n" },
	{ "persist",
	  "K RW,update i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "pexpire",
	  "K RW,update i1 r0,1,0\n"
	  "H 7.0.0 Added options: `NX`, `XX`, `GT` and `LT`.\n"
	  "- key key @0\n"
	  "- milliseconds integer\n"
	  "- condition oneof ^7.0.0 ?\n"
	  "  - nx pure-token =NX\n"
	  "  - xx pure-token =XX\n"
	  "  - gt pure-token =GT\n"
	  "  - lt pure-token =LT\n" },
	{ "pexpireat",
	  "K RW,update i1 r0,1,0\n"
	  "H 7.0.0 Added options: `NX`, `XX`, `GT` and `LT`.\n"
	  "- key key @0\n"
	  "- unix-time-milliseconds unix-time\n"
	  "- condition oneof ^7.0.0 ?\n"
	  "  - nx pure-token =NX\n"
	  "  - xx pure-token =XX\n"
	  "  - gt pure-token =GT\n"
	  "  - lt pure-token =LT\n" },
	{ "pexpiretime",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "pfadd",
	  "K RW,insert i1 r0,1,0\n"
	  "- key key @0\n"
	  "- element string ?*\n" },
	{ "pfcount",
	  "K RW,access i1 r-1,1,0 RW because it may change the internal representation of the key, and propagate to replicas\n"
	  "- key key @0 *\n" },
	{ "pfdebug",
	  "K RW,access i2 r0,1,0\n"
	  "F syscmd\n"
	  "- subcommand string\n"
	  "- key key @0\n" },
	{ "pfmerge",
	  "K RW,access,insert i1 r0,1,0\n"
	  "K RO,access i2 r-1,1,0\n"
	  "- destkey key @0\n"
	  "- sourcekey key @1 *\n" },
	{ "pfselftest",
	  "F syscmd\n" },
	{ "ping",
	  "T request_policy:all_shards\n"
	  "T response_policy:all_succeeded\n"
	  "- message string ?\n" },
	{ "psetex",
	  "K OW,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- milliseconds integer\n"
	  "- value string\n" },
	{ "psubscribe",
	  "- pattern block *\n"
	  "  - pattern pattern\n" },
	{ "psync",
	  "- replicationid string\n"
	  "- offset integer\n" },
	{ "pttl",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "H 2.8.0 Added the -2 reply.\n"
	  "- key key @0\n" },
	{ "publish",
	  "- channel string\n"
	  "- message string\n" },
	{ "pubsub",
	  "" },
	{ "pubsub|channels",
	  "- pattern pattern ?\n" },
	{ "pubsub|help",
	  "" },
	{ "pubsub|numpat",
	  "" },
	{ "pubsub|numsub",
	  "- channel string ?*\n" },
	{ "pubsub|shardchannels",
	  "- pattern pattern ?\n" },
	{ "pubsub|shardnumsub",
	  "- shardchannel string ?*\n" },
	{ "punsubscribe",
	  "- pattern pattern ?*\n" },
	{ "quit",
	  "" },
	{ "randomkey",
	  "T request_policy:all_shards\n"
	  "T nondeterministic_output\n" },
	{ "readonly",
	  "" },
	{ "readwrite",
	  "" },
	{ "rename",
	  "K RW,access,delete i1 r0,1,0\n"
	  "K OW,update i2 r0,1,0\n"
	  "- key key @0\n"
	  "- newkey key @1\n" },
	{ "renamenx",
	  "K RW,access,delete i1 r0,1,0\n"
	  "K OW,insert i2 r0,1,0\n"
	  "H 3.2.0 The command no longer returns an error when source and destination names are the same.\n"
	  "- key key @0\n"
	  "- newkey key @1\n" },
	{ "replconf",
	  "F syscmd\n" },
	{ "replicaof",
	  "- args oneof\n"
	  "  - host-port block\n"
	  "    - host string\n"
	  "    - port integer\n"
	  "  - no-one block\n"
	  "    - no pure-token =NO\n"
	  "    - one pure-token =ONE\n" },
	{ "reset",
	  "" },
	{ "restore",
	  "K OW,update i1 r0,1,0\n"
	  "H 3.0.0 Added the `REPLACE` modifier.\n"
	  "H 5.0.0 Added the `ABSTTL` modifier.\n"
	  "H 5.0.0 Added the `IDLETIME` and `FREQ` options.\n"
	  "- key key @0\n"
	  "- ttl integer\n"
	  "- serialized-value string\n"
	  "- replace pure-token =REPLACE ^3.0.0 ?\n"
	  "- absttl pure-token =ABSTTL ^5.0.0 ?\n"
	  "- seconds integer =IDLETIME ^5.0.0 ?\n"
	  "- frequency integer =FREQ ^5.0.0 ?\n" },
	{ "restore-asking",
	  "K OW,update i1 r0,1,0\n"
	  "F syscmd\n"
	  "H 3.0.0 Added the `REPLACE` modifier.\n"
	  "H 5.0.0 Added the `ABSTTL` modifier.\n"
	  "H 5.0.0 Added the `IDLETIME` and `FREQ` options.\n"
	  "- key key @0\n"
	  "- ttl integer\n"
	  "- serialized-value string\n"
	  "- replace pure-token =REPLACE ^3.0.0 ?\n"
	  "- absttl pure-token =ABSTTL ^5.0.0 ?\n"
	  "- seconds integer =IDLETIME ^5.0.0 ?\n"
	  "- frequency integer =FREQ ^5.0.0 ?\n" },
	{ "role",
	  "" },
	{ "rpop",
	  "K RW,access,delete i1 r0,1,0\n"
	  "H 6.2.0 Added the `count` argument.\n"
	  "- key key @0\n"
	  "- count integer ^6.2.0 ?\n" },
	{ "rpoplpush",
	  "K RW,access,delete i1 r0,1,0\n"
	  "K RW,insert i2 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `LMOVE` with the `RIGHT` and `LEFT` arguments\n"
	  "- source key @0\n"
	  "- destination key @1\n" },
	{ "rpush",
	  "K RW,insert i1 r0,1,0\n"
	  "H 2.4.0 Accepts multiple `element` arguments.\n"
	  "- key key @0\n"
	  "- element string *\n" },
	{ "rpushx",
	  "K RW,insert i1 r0,1,0\n"
	  "H 4.0.0 Accepts multiple `element` arguments.\n"
	  "- key key @0\n"
	  "- element string *\n" },
	{ "sadd",
	  "K RW,insert i1 r0,1,0\n"
	  "H 2.4.0 Accepts multiple `member` arguments.\n"
	  "- key key @0\n"
	  "- member string *\n" },
	{ "save",
	  "" },
	{ "scan",
	  "T nondeterministic_output\n"
	  "T request_policy:special\n"
	  "H 6.0.0 Added the `TYPE` subcommand.\n"
	  "- cursor integer\n"
	  "- pattern pattern =MATCH ?\n"
	  "- count integer =COUNT ?\n"
	  "- type string =TYPE ^6.0.0 ?\n" },
	{ "scard",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "script",
	  "" },
	{ "script|debug",
	  "- mode oneof\n"
	  "  - yes pure-token =YES\n"
	  "  - sync pure-token =SYNC\n"
	  "  - no pure-token =NO\n" },
	{ "script|exists",
	  "T request_policy:all_shards\n"
	  "T response_policy:agg_logical_and\n"
	  "- sha1 string *\n" },
	{ "script|flush",
	  "T request_policy:all_nodes\n"
	  "T response_policy:all_succeeded\n"
	  "H 6.2.0 Added the `ASYNC` and `SYNC` flushing mode modifiers.\n"
	  "- async oneof ^6.2.0 ?\n"
	  "  - async pure-token =ASYNC\n"
	  "  - sync pure-token =SYNC\n" },
	{ "script|help",
	  "" },
	{ "script|kill",
	  "T request_policy:all_shards\n"
	  "T response_policy:one_succeeded\n" },
	{ "script|load",
	  "T request_policy:all_nodes\n"
	  "T response_policy:all_succeeded\n"
	  "- script string\n" },
	{ "sdiff",
	  "K RO,access i1 r-1,1,0\n"
	  "T nondeterministic_output_order\n"
	  "- key key @0 *\n" },
	{ "sdiffstore",
	  "K OW,update i1 r0,1,0\n"
	  "K RO,access i2 r-1,1,0\n"
	  "- destination key @0\n"
	  "- key key @1 *\n" },
	{ "select",
	  "- index integer\n" },
	{ "set",
	  "K RW,access,update,variable_flags i1 r0,1,0 RW and ACCESS due to the optional `GET` argument\n"
	  "H 2.6.12 Added the `EX`, `PX`, `NX` and `XX` options.\n"
	  "H 6.0.0 Added the `KEEPTTL` option.\n"
	  "H 6.2.0 Added the `GET`, `EXAT` and `PXAT` option.\n"
	  "H 7.0.0 Allowed the `NX` and `GET` options to be used together.\n"
	  "- key key @0\n"
	  "- value string\n"
	  "- condition oneof ^2.6.12 ?\n"
	  "  - nx pure-token =NX\n"
	  "  - xx pure-token =XX\n"
	  "- get pure-token =GET ^6.2.0 ?\n"
	  "- expiration oneof ?\n"
	  "  - seconds integer =EX ^2.6.12\n"
	  "  - milliseconds integer =PX ^2.6.12\n"
	  "  - unix-time-seconds unix-time =EXAT ^6.2.0\n"
	  "  - unix-time-milliseconds unix-time =PXAT ^6.2.0\n"
	  "  - keepttl pure-token =KEEPTTL ^6.0.0\n" },
	{ "setbit",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- offset integer\n"
	  "- value integer\n" },
	{ "setex",
	  "K OW,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- seconds integer\n"
	  "- value string\n" },
	{ "setnx",
	  "K OW,insert i1 r0,1,0\n"
	  "- key key @0\n"
	  "- value string\n" },
	{ "setrange",
	  "K RW,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- offset integer\n"
	  "- value string\n" },
	{ "shutdown",
	  "H 7.0.0 Added the `NOW`, `FORCE` and `ABORT` modifiers.\n"
	  "- nosave_save oneof ?\n"
	  "  - nosave pure-token =NOSAVE\n"
	  "  - save pure-token =SAVE\n"
	  "- now pure-token =NOW ^7.0.0 ?\n"
	  "- force pure-token =FORCE ^7.0.0 ?\n"
	  "- abort pure-token =ABORT ^7.0.0 ?\n" },
	{ "sinter",
	  "K RO,access i1 r-1,1,0\n"
	  "T nondeterministic_output_order\n"
	  "- key key @0 *\n" },
	{ "sintercard",
	  "K RO,access i1 n0,1,1\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- limit integer =LIMIT ?\n" },
	{ "sinterstore",
	  "K RW,update i1 r0,1,0\n"
	  "K RO,access i2 r-1,1,0\n"
	  "- destination key @0\n"
	  "- key key @1 *\n" },
	{ "sismember",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member string\n" },
	{ "slaveof",
	  "F deprecated\n"
	  "D 5.0.0\n"
	  "R `REPLICAOF`\n"
	  "- args oneof\n"
	  "  - host-port block\n"
	  "    - host string\n"
	  "    - port integer\n"
	  "  - no-one block\n"
	  "    - no pure-token =NO\n"
	  "    - one pure-token =ONE\n" },
	{ "slowlog",
	  "" },
	{ "slowlog|get",
	  "T request_policy:all_nodes\n"
	  "T nondeterministic_output\n"
	  "H 4.0.0 Added client IP address, port and name to the reply.\n"
	  "- count integer ?\n" },
	{ "slowlog|help",
	  "" },
	{ "slowlog|len",
	  "T request_policy:all_nodes\n"
	  "T response_policy:agg_sum\n"
	  "T nondeterministic_output\n" },
	{ "slowlog|reset",
	  "T request_policy:all_nodes\n"
	  "T response_policy:all_succeeded\n" },
	{ "smembers",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output_order\n"
	  "- key key @0\n" },
	{ "smismember",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member string *\n" },
	{ "smove",
	  "K RW,access,delete i1 r0,1,0\n"
	  "K RW,insert i2 r0,1,0\n"
	  "- source key @0\n"
	  "- destination key @1\n"
	  "- member string\n" },
	{ "sort",
	  "K RO,access i1 r0,1,0\n"
	  "K RO,access ? ? For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort\n"
	  "K OW,update ? ? For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array\n"
	  "- key key @0\n"
	  "- pattern pattern @1 =BY ?\n"
	  "- offset_count block =LIMIT ?\n"
	  "  - offset integer\n"
	  "  - count integer\n"
	  "- pattern pattern @1 =GET ?*+\n"
	  "- order oneof ?\n"
	  "  - asc pure-token =ASC\n"
	  "  - desc pure-token =DESC\n"
	  "- sorting pure-token =ALPHA ?\n"
	  "- destination key @2 =STORE ?\n" },
	{ "sort_ro",
	  "K RO,access i1 r0,1,0\n"
	  "K RO,access ? ? For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort\n"
	  "- key key @0\n"
	  "- pattern pattern @1 =BY ?\n"
	  "- offset_count block =LIMIT ?\n"
	  "  - offset integer\n"
	  "  - count integer\n"
	  "- pattern pattern @1 =GET ?*+\n"
	  "- order oneof ?\n"
	  "  - asc pure-token =ASC\n"
	  "  - desc pure-token =DESC\n"
	  "- sorting pure-token =ALPHA ?\n" },
	{ "spop",
	  "K RW,access,delete i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "H 3.2.0 Added the `count` argument.\n"
	  "- key key @0\n"
	  "- count integer ^3.2.0 ?\n" },
	{ "spublish",
	  "K not_key i1 r0,1,0\n"
	  "- shardchannel string\n"
	  "- message string\n" },
	{ "srandmember",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "H 2.6.0 Added the optional `count` argument.\n"
	  "- key key @0\n"
	  "- count integer ^2.6.0 ?\n" },
	{ "srem",
	  "K RW,delete i1 r0,1,0\n"
	  "H 2.4.0 Accepts multiple `member` arguments.\n"
	  "- key key @0\n"
	  "- member string *\n" },
	{ "sscan",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n"
	  "- cursor integer\n"
	  "- pattern pattern =MATCH ?\n"
	  "- count integer =COUNT ?\n" },
	{ "ssubscribe",
	  "K not_key i1 r-1,1,0\n"
	  "- shardchannel string *\n" },
	{ "strlen",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "subscribe",
	  "- channel string *\n" },
	{ "substr",
	  "K RO,access i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 2.0.0\n"
	  "R `GETRANGE`\n"
	  "- key key @0\n"
	  "- start integer\n"
	  "- end integer\n" },
	{ "sunion",
	  "K RO,access i1 r-1,1,0\n"
	  "T nondeterministic_output_order\n"
	  "- key key @0 *\n" },
	{ "sunionstore",
	  "K OW,update i1 r0,1,0\n"
	  "K RO,access i2 r-1,1,0\n"
	  "- destination key @0\n"
	  "- key key @1 *\n" },
	{ "sunsubscribe",
	  "K not_key i1 r-1,1,0\n"
	  "- shardchannel string ?*\n" },
	{ "swapdb",
	  "- index1 integer\n"
	  "- index2 integer\n" },
	{ "sync",
	  "" },
	{ "time",
	  "T nondeterministic_output\n" },
	{ "touch",
	  "K RO i1 r-1,1,0\n"
	  "T request_policy:multi_shard\n"
	  "T response_policy:agg_sum\n"
	  "- key key @0 *\n" },
	{ "ttl",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "H 2.8.0 Added the -2 reply.\n"
	  "- key key @0\n" },
	{ "type",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "unlink",
	  "K RM,delete i1 r-1,1,0\n"
	  "T request_policy:multi_shard\n"
	  "T response_policy:agg_sum\n"
	  "- key key @0 *\n" },
	{ "unsubscribe",
	  "- channel string ?*\n" },
	{ "unwatch",
	  "" },
	{ "wait",
	  "T request_policy:all_shards\n"
	  "T response_policy:agg_min\n"
	  "- numreplicas integer\n"
	  "- timeout integer\n" },
	{ "waitaof",
	  "- numlocal integer\n"
	  "- numreplicas integer\n"
	  "- timeout integer\n" },
	{ "watch",
	  "K RO i1 r-1,1,0\n"
	  "- key key @0 *\n" },
	{ "xack",
	  "K RW,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- group string\n"
	  "- id string *\n" },
	{ "xadd",
	  "K RW,update i1 r0,1,0 UPDATE instead of INSERT because of the optional trimming feature\n"
	  "T nondeterministic_output\n"
	  "H 6.2.0 Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option.\n"
	  "H 7.0.0 Added support for the `<ms>-*` explicit ID form.\n"
	  "- key key @0\n"
	  "- nomkstream pure-token =NOMKSTREAM ^6.2.0 ?\n"
	  "- trim block ?\n"
	  "  - strategy oneof\n"
	  "    - maxlen pure-token =MAXLEN\n"
	  "    - minid pure-token =MINID ^6.2.0\n"
	  "  - operator oneof ?\n"
	  "    - equal pure-token ==\n"
	  "    - approximately pure-token =~\n"
	  "  - threshold string\n"
	  "  - count integer =LIMIT ^6.2.0 ?\n"
	  "- id_or_auto oneof\n"
	  "  - auto_id pure-token =*\n"
	  "  - id string\n"
	  "- field_value block *\n"
	  "  - field string\n"
	  "  - value string\n" },
	{ "xautoclaim",
	  "K RW,delete i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "H 7.0.0 Added an element to the reply array, containing deleted entries the command cleared from the PEL\n"
	  "- key key @0\n"
	  "- group string\n"
	  "- consumer string\n"
	  "- min-idle-time string\n"
	  "- start string\n"
	  "- count integer =COUNT ?\n"
	  "- justid pure-token =JUSTID ?\n" },
	{ "xclaim",
	  "K RW,update i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n"
	  "- group string\n"
	  "- consumer string\n"
	  "- min-idle-time string\n"
	  "- id string *\n"
	  "- ms integer =IDLE ?\n"
	  "- unix-time-milliseconds unix-time =TIME ?\n"
	  "- count integer =RETRYCOUNT ?\n"
	  "- force pure-token =FORCE ?\n"
	  "- justid pure-token =JUSTID ?\n"
	  "- id string =LASTID ?\n" },
	{ "xdel",
	  "K RW,delete i1 r0,1,0\n"
	  "- key key @0\n"
	  "- id string *\n" },
	{ "xgroup",
	  "" },
	{ "xgroup|create",
	  "K RW,insert i2 r0,1,0\n"
	  "H 7.0.0 Added the `entries_read` named argument.\n"
	  "- key key @0\n"
	  "- groupname string\n"
	  "- id oneof\n"
	  "  - id string\n"
	  "  - new_id pure-token =$\n"
	  "- mkstream pure-token =MKSTREAM ?\n"
	  "- entries_read integer =ENTRIESREAD ?\n" },
	{ "xgroup|createconsumer",
	  "K RW,insert i2 r0,1,0\n"
	  "- key key @0\n"
	  "- groupname string\n"
	  "- consumername string\n" },
	{ "xgroup|delconsumer",
	  "K RW,delete i2 r0,1,0\n"
	  "- key key @0\n"
	  "- groupname string\n"
	  "- consumername string\n" },
	{ "xgroup|destroy",
	  "K RW,delete i2 r0,1,0\n"
	  "- key key @0\n"
	  "- groupname string\n" },
	{ "xgroup|help",
	  "" },
	{ "xgroup|setid",
	  "K RW,update i2 r0,1,0\n"
	  "H 7.0.0 Added the optional `entries_read` argument.\n"
	  "- key key @0\n"
	  "- groupname string\n"
	  "- id oneof\n"
	  "  - id string\n"
	  "  - new_id pure-token =$\n"
	  "- entries_read integer =ENTRIESREAD ?\n" },
	{ "xinfo",
	  "" },
	{ "xinfo|consumers",
	  "K RO,access i2 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n"
	  "- groupname string\n" },
	{ "xinfo|groups",
	  "K RO,access i2 r0,1,0\n"
	  "H 7.0.0 Added the `entries-read` and `lag` fields\n"
	  "- key key @0\n" },
	{ "xinfo|help",
	  "" },
	{ "xinfo|stream",
	  "K RO,access i2 r0,1,0\n"
	  "H 6.0.0 Added the `FULL` modifier.\n"
	  "H 7.0.0 Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, `entries-read` and `lag` fields\n"
	  "- key key @0\n"
	  "- full block =FULL ?\n"
	  "  - count integer =COUNT ?\n" },
	{ "xlen",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "xpending",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "H 6.2.0 Added the `IDLE` option and exclusive range intervals.\n"
	  "- key key @0\n"
	  "- group string\n"
	  "- filters block ?\n"
	  "  - min-idle-time integer =IDLE ^6.2.0 ?\n"
	  "  - start string\n"
	  "  - end string\n"
	  "  - count integer\n"
	  "  - consumer string ?\n" },
	{ "xrange",
	  "K RO,access i1 r0,1,0\n"
	  "H 6.2.0 Added exclusive ranges.\n"
	  "- key key @0\n"
	  "- start string\n"
	  "- end string\n"
	  "- count integer =COUNT ?\n" },
	{ "xread",
	  "K RO,access k1,STREAMS r-1,1,2\n"
	  "- count integer =COUNT ?\n"
	  "- milliseconds integer =BLOCK ?\n"
	  "- streams block =STREAMS\n"
	  "  - key key @0 *\n"
	  "  - id string *\n" },
	{ "xreadgroup",
	  "K RO,access k4,STREAMS r-1,1,2\n"
	  "- group_consumer block =GROUP\n"
	  "  - group string\n"
	  "  - consumer string\n"
	  "- count integer =COUNT ?\n"
	  "- milliseconds integer =BLOCK ?\n"
	  "- noack pure-token =NOACK ?\n"
	  "- streams block =STREAMS\n"
	  "  - key key @0 *\n"
	  "  - id string *\n" },
	{ "xrevrange",
	  "K RO,access i1 r0,1,0\n"
	  "H 6.2.0 Added exclusive ranges.\n"
	  "- key key @0\n"
	  "- end string\n"
	  "- start string\n"
	  "- count integer =COUNT ?\n" },
	{ "xsetid",
	  "K RW,update i1 r0,1,0\n"
	  "H 7.0.0 Added the `entries_added` and `max_deleted_entry_id` arguments.\n"
	  "- key key @0\n"
	  "- last-id string\n"
	  "- entries_added integer =ENTRIESADDED ^7.0.0 ?\n"
	  "- max_deleted_entry_id string =MAXDELETEDID ^7.0.0 ?\n" },
	{ "xtrim",
	  "K RW,delete i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "H 6.2.0 Added the `MINID` trimming strategy and the `LIMIT` option.\n"
	  "- key key @0\n"
	  "- trim block\n"
	  "  - strategy oneof\n"
	  "    - maxlen pure-token =MAXLEN\n"
	  "    - minid pure-token =MINID ^6.2.0\n"
	  "  - operator oneof ?\n"
	  "    - equal pure-token ==\n"
	  "    - approximately pure-token =~\n"
	  "  - threshold string\n"
	  "  - count integer =LIMIT ^6.2.0 ?\n" },
	{ "zadd",
	  "K RW,update i1 r0,1,0\n"
	  "H 2.4.0 Accepts multiple elements.\n"
	  "H 3.0.2 Added the `XX`, `NX`, `CH` and `INCR` options.\n"
	  "H 6.2.0 Added the `GT` and `LT` options.\n"
	  "- key key @0\n"
	  "- condition oneof ^3.0.2 ?\n"
	  "  - nx pure-token =NX\n"
	  "  - xx pure-token =XX\n"
	  "- comparison oneof ^6.2.0 ?\n"
	  "  - gt pure-token =GT\n"
	  "  - lt pure-token =LT\n"
	  "- change pure-token =CH ^3.0.2 ?\n"
	  "- increment pure-token =INCR ^3.0.2 ?\n"
	  "- score_member block *\n"
	  "  - score double\n"
	  "  - member string\n" },
	{ "zcard",
	  "K RO i1 r0,1,0\n"
	  "- key key @0\n" },
	{ "zcount",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- min double\n"
	  "- max double\n" },
	{ "zdiff",
	  "K RO,access i1 n0,1,1\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- withscores pure-token =WITHSCORES ?\n" },
	{ "zdiffstore",
	  "K OW,update i1 r0,1,0\n"
	  "K RO,access i2 n0,1,1\n"
	  "- destination key @0\n"
	  "- numkeys integer\n"
	  "- key key @1 *\n" },
	{ "zincrby",
	  "K RW,access,update i1 r0,1,0\n"
	  "- key key @0\n"
	  "- increment integer\n"
	  "- member string\n" },
	{ "zinter",
	  "K RO,access i1 n0,1,1\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- weight integer =WEIGHTS ?*\n"
	  "- aggregate oneof =AGGREGATE ?\n"
	  "  - sum pure-token =SUM\n"
	  "  - min pure-token =MIN\n"
	  "  - max pure-token =MAX\n"
	  "- withscores pure-token =WITHSCORES ?\n" },
	{ "zintercard",
	  "K RO,access i1 n0,1,1\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- limit integer =LIMIT ?\n" },
	{ "zinterstore",
	  "K OW,update i1 r0,1,0\n"
	  "K RO,access i2 n0,1,1\n"
	  "- destination key @0\n"
	  "- numkeys integer\n"
	  "- key key @1 *\n"
	  "- weight integer =WEIGHTS ?*\n"
	  "- aggregate oneof =AGGREGATE ?\n"
	  "  - sum pure-token =SUM\n"
	  "  - min pure-token =MIN\n"
	  "  - max pure-token =MAX\n" },
	{ "zlexcount",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- min string\n"
	  "- max string\n" },
	{ "zmpop",
	  "K RW,access,delete i1 n0,1,1\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- where oneof\n"
	  "  - min pure-token =MIN\n"
	  "  - max pure-token =MAX\n"
	  "- count integer =COUNT ?\n" },
	{ "zmscore",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member string *\n" },
	{ "zpopmax",
	  "K RW,access,delete i1 r0,1,0\n"
	  "- key key @0\n"
	  "- count integer ?\n" },
	{ "zpopmin",
	  "K RW,access,delete i1 r0,1,0\n"
	  "- key key @0\n"
	  "- count integer ?\n" },
	{ "zrandmember",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n"
	  "- options block ?\n"
	  "  - count integer\n"
	  "  - withscores pure-token =WITHSCORES ?\n" },
	{ "zrange",
	  "K RO,access i1 r0,1,0\n"
	  "H 6.2.0 Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options.\n"
	  "- key key @0\n"
	  "- start string\n"
	  "- stop string\n"
	  "- sortby oneof ^6.2.0 ?\n"
	  "  - byscore pure-token =BYSCORE\n"
	  "  - bylex pure-token =BYLEX\n"
	  "- rev pure-token =REV ^6.2.0 ?\n"
	  "- offset_count block =LIMIT ^6.2.0 ?\n"
	  "  - offset integer\n"
	  "  - count integer\n"
	  "- withscores pure-token =WITHSCORES ?\n" },
	{ "zrangebylex",
	  "K RO,access i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `ZRANGE` with the `BYLEX` argument\n"
	  "- key key @0\n"
	  "- min string\n"
	  "- max string\n"
	  "- offset_count block =LIMIT ?\n"
	  "  - offset integer\n"
	  "  - count integer\n" },
	{ "zrangebyscore",
	  "K RO,access i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `ZRANGE` with the `BYSCORE` argument\n"
	  "H 2.0.0 Added the `WITHSCORES` modifier.\n"
	  "- key key @0\n"
	  "- min double\n"
	  "- max double\n"
	  "- withscores pure-token =WITHSCORES ^2.0.0 ?\n"
	  "- offset_count block =LIMIT ?\n"
	  "  - offset integer\n"
	  "  - count integer\n" },
	{ "zrangestore",
	  "K OW,update i1 r0,1,0\n"
	  "K RO,access i2 r0,1,0\n"
	  "- dst key @0\n"
	  "- src key @1\n"
	  "- min string\n"
	  "- max string\n"
	  "- sortby oneof ?\n"
	  "  - byscore pure-token =BYSCORE\n"
	  "  - bylex pure-token =BYLEX\n"
	  "- rev pure-token =REV ?\n"
	  "- offset_count block =LIMIT ?\n"
	  "  - offset integer\n"
	  "  - count integer\n" },
	{ "zrank",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member string\n" },
	{ "zrem",
	  "K RW,delete i1 r0,1,0\n"
	  "H 2.4.0 Accepts multiple elements.\n"
	  "- key key @0\n"
	  "- member string *\n" },
	{ "zremrangebylex",
	  "K RW,delete i1 r0,1,0\n"
	  "- key key @0\n"
	  "- min string\n"
	  "- max string\n" },
	{ "zremrangebyrank",
	  "K RW,delete i1 r0,1,0\n"
	  "- key key @0\n"
	  "- start integer\n"
	  "- stop integer\n" },
	{ "zremrangebyscore",
	  "K RW,delete i1 r0,1,0\n"
	  "- key key @0\n"
	  "- min double\n"
	  "- max double\n" },
	{ "zrevrange",
	  "K RO,access i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `ZRANGE` with the `REV` argument\n"
	  "- key key @0\n"
	  "- start integer\n"
	  "- stop integer\n"
	  "- withscores pure-token =WITHSCORES ?\n" },
	{ "zrevrangebylex",
	  "K RO,access i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `ZRANGE` with the `REV` and `BYLEX` arguments\n"
	  "- key key @0\n"
	  "- max string\n"
	  "- min string\n"
	  "- offset_count block =LIMIT ?\n"
	  "  - offset integer\n"
	  "  - count integer\n" },
	{ "zrevrangebyscore",
	  "K RO,access i1 r0,1,0\n"
	  "F deprecated\n"
	  "D 6.2.0\n"
	  "R `ZRANGE` with the `REV` and `BYSCORE` arguments\n"
	  "H 2.1.6 `min` and `max` can be exclusive.\n"
	  "- key key @0\n"
	  "- max double\n"
	  "- min double\n"
	  "- withscores pure-token =WITHSCORES ?\n"
	  "- offset_count block =LIMIT ?\n"
	  "  - offset integer\n"
	  "  - count integer\n" },
	{ "zrevrank",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member string\n" },
	{ "zscan",
	  "K RO,access i1 r0,1,0\n"
	  "T nondeterministic_output\n"
	  "- key key @0\n"
	  "- cursor integer\n"
	  "- pattern pattern =MATCH ?\n"
	  "- count integer =COUNT ?\n" },
	{ "zscore",
	  "K RO,access i1 r0,1,0\n"
	  "- key key @0\n"
	  "- member string\n" },
	{ "zunion",
	  "K RO,access i1 n0,1,1\n"
	  "- numkeys integer\n"
	  "- key key @0 *\n"
	  "- weight integer =WEIGHTS ?*\n"
	  "- aggregate oneof =AGGREGATE ?\n"
	  "  - sum pure-token =SUM\n"
	  "  - min pure-token =MIN\n"
	  "  - max pure-token =MAX\n"
	  "- withscores pure-token =WITHSCORES ?\n" },
	{ "zunionstore",
	  "K OW,update i1 r0,1,0\n"
	  "K RO,access i2 n0,1,1\n"
	  "- destination key @0\n"
	  "- numkeys integer\n"
	  "- key key @1 *\n"
	  "- weight integer =WEIGHTS ?*\n"
	  "- aggregate oneof =AGGREGATE ?\n"
	  "  - sum pure-token =SUM\n"
	  "  - min pure-token =MIN\n"
	  "  - max pure-token =MAX\n" },
};
