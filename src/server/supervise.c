/*
 * supervise.c - telling a service manager how the server is doing
 * (`supervised systemd|upstart|auto|no`), as redis-server does.
 *
 * systemd's readiness protocol is small enough to speak without
 * libsystemd: the manager puts the path of a unix datagram socket in
 * NOTIFY_SOCKET ("/run/..." for a file, "@name" for the abstract
 * namespace), and the service sends it datagrams of newline-separated
 * VAR=value lines: STATUS=<text> for humans, READY=1 once it serves,
 * STOPPING=1 when it begins to shut down.  server.c decides when; this
 * file only knows how.
 *
 * Not here: vsock notify sockets ("vsock:cid:port", systemd 254), watchdog
 * pings and file descriptor stores, which kevy does not use.
 */
#include "server/supervise.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"

/* The mode supervise_init() settled on: only systemd sends anything. */
static int supervise_mode = KV_SUPERVISED_NO;

int supervise_sd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
		return -EINVAL;
	memcpy(sun.sun_path, path, plen);
	/* "@name": the abstract namespace, whose addresses start with a NUL
	 * and are exactly as long as given (no terminating NUL). */
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
				     (path[0] == '/' ? 1 : 0));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	size_t len = strlen(msg);
	ssize_t n = sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&sun, alen);
	int rc = n < 0 ? -errno : (n == (ssize_t)len ? 1 : -EMSGSIZE);
	close(fd);
	return rc;
}

/* Redis's redisCommunicateSystemd(): the same warnings when it fails. */
static int supervise_send(const char *msg)
{
	int rc = supervise_sd_notify(msg);
	if (rc == 0)
		log_warning("systemd supervision error: NOTIFY_SOCKET not found!");
	else if (rc < 0)
		log_warning("systemd supervision error: sd_notify: %s", strerror(-rc));
	return rc;
}

int supervise_init(int mode)
{
	if (mode == KV_SUPERVISED_AUTO) {
		if (getenv("UPSTART_JOB")) {
			log_verbose("Upstart supervision detected.");
			mode = KV_SUPERVISED_UPSTART;
		} else if (getenv("NOTIFY_SOCKET")) {
			log_verbose("Systemd supervision detected.");
			mode = KV_SUPERVISED_SYSTEMD;
		}
	}
	switch (mode) {
	case KV_SUPERVISED_UPSTART:
		/* Upstart's "expect stop": the job is ready when the process
		 * stops itself, and the manager continues it. */
		if (!getenv("UPSTART_JOB")) {
			log_warning("upstart supervision requested, but UPSTART_JOB not found!");
			return supervise_mode = KV_SUPERVISED_NO;
		}
		log_notice("supervised by upstart, will stop to signal readiness.");
		raise(SIGSTOP);
		unsetenv("UPSTART_JOB");
		return supervise_mode = KV_SUPERVISED_UPSTART;
	case KV_SUPERVISED_SYSTEMD:
		if (supervise_send("STATUS=kevy is loading...\n") <= 0)
			return supervise_mode = KV_SUPERVISED_NO;
		log_notice("Supervised by systemd. Please make sure you set appropriate values for "
			   "TimeoutStartSec and TimeoutStopSec in your service unit.");
		return supervise_mode = KV_SUPERVISED_SYSTEMD;
	default:
		return supervise_mode = KV_SUPERVISED_NO;
	}
}

int supervise_active(void)
{
	return supervise_mode;
}

void supervise_ready(void)
{
	if (supervise_mode != KV_SUPERVISED_SYSTEMD)
		return;
	supervise_send("STATUS=Ready to accept connections\n");
	supervise_send("READY=1\n");
}

void supervise_stopping(void)
{
	if (supervise_mode != KV_SUPERVISED_SYSTEMD)
		return;
	supervise_send("STOPPING=1\n");
}
