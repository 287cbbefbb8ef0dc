/*
 * main.c - kevy-server's entry point: configuration, logging, the command
 * table, then the shards (server.c) until shutdown.
 */
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "commands/cmd.h"
#include "commands/config.h"
#include "base/log.h"
#include "server/server.h"
#include "server/shard.h"

int main(int argc, char **argv)
{
	/* SORT ... ALPHA compares with strcoll in the environment's collation,
	 * as redis-server does; numbers keep the C locale's format. */
	setlocale(LC_COLLATE, "");
	/* The table first: `user` lines of the config name commands. */
	server_commands_init();
	if (config_load(argc, argv) != 0)
		return 1;
	int rc = log_open(g_config.logfile);
	if (rc < 0) {
		fprintf(stderr, "Can't open the log file: %s\n", kv_strerror(rc));
		return 1;
	}
	log_set_level(g_config.loglevel);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	return server_run(exe);
}
