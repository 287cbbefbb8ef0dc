/*
 * loadnet.h - what the bench load tools (xload.c, txload.c) share: a TCP
 * connection to the server under test, with TCP_NODELAY.  Header-only so
 * that each tool stays one `cc` command; the including file defines
 * die(fmt, ...) (print, exit 1) before including it.
 */
#ifndef KEVY_BENCH_LOADNET_H
#define KEVY_BENCH_LOADNET_H

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

/* Connects to host:port or dies; nonblock: the socket is set O_NONBLOCK. */
static int load_connect(const char *host, const char *port, bool nonblock)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		die("%s:%s: %s", host, port, gai_strerror(rc));
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect %s:%s: %s", host, port, strerror(errno));
	freeaddrinfo(ai);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nonblock && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
	return fd;
}

#endif
