/*
 * reactor_uring.c - the completion-based reactor: one io_uring per shard
 * carrying every socket operation of that shard (and, from the AOF work on,
 * its file writes).
 *
 *   - one multishot ACCEPT per listening socket;
 *   - one multishot RECV per connection, drawing buffers from a per-shard
 *     provided-buffer ring; a buffer is copied into the connection's input and
 *     handed back to the kernel at once;
 *   - at most one SEND in flight per connection, from a buffer that stays put
 *     while the kernel owns it (`conn.sending`), refilled from `conn.out`;
 *   - a READ on the shard's eventfd, so a peer's wake-up is a completion and
 *     the shard can park inside io_uring_enter;
 *   - every SQE prepared during a loop turn goes to the kernel in the single
 *     io_uring_enter of the next poll() (submit + wait together).
 *
 * A full submission queue is flushed and the preparation retried, so a
 * re-arm can never be lost (a lost multishot re-arm would wedge its
 * connection for good).  user_data is the connection pointer with the
 * operation in its low 3 bits (connections are 16-byte aligned).
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/kv.h"
#include "persist/kvio.h"
#include "base/log.h"
#include "server/shard.h"

#define UR_OP_MASK KVIO_RING_TAG_MASK   /* the file ops share the tagging */
enum { UR_ACCEPT = 1, UR_RECV = 2, UR_SEND = 3, UR_EVENTFD = 4, UR_IGNORE = 5, UR_FILE = 6,
       UR_UNLISTEN = 7 };

#define UR_BUF_GROUP 7
#define UR_BUF_COUNT 512      /* power of two */
#define UR_BUF_SIZE (16 * 1024)

struct uring_state {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	unsigned recycled;        /* buffers added since the last advance */
	uint64_t efd_value;
	unsigned sq_entries;
	/* Listeners CONFIG SET replaced whose accept is being cancelled
	 * (ur_relisten): closed once it is, by shard_retire_listener. */
	struct { uint32_t gen; int idx; int fd; } retired[32];
	int nretired;
};

static unsigned ur_sq_entries(void)
{
	/* Test knob: a tiny queue forces the full-SQ paths. */
	const char *env = getenv("KEVY_URING_SQ_ENTRIES");
	if (env) {
		long v = strtol(env, NULL, 10);
		if (v >= 4 && v <= 32768)
			return (unsigned)v;
	}
	return 1024;
}

static struct io_uring_sqe *ur_sqe(struct uring_state *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	for (int tries = 0; !sqe; tries++) {
		/* The SQ is full: hand what is queued to the kernel, then retry. */
		int rc = io_uring_submit(&u->ring);
		kv_assert(rc >= 0 || rc == -EBUSY || rc == -EAGAIN || rc == -EINTR);
		sqe = io_uring_get_sqe(&u->ring);
		kv_assert(tries < 1000000);
	}
	return sqe;
}

static inline uint64_t ur_data(const void *p, unsigned op)
{
	return (uint64_t)(uintptr_t)p | op;
}

/* An accept's tag: the listener's index (4 bits, at most 16) and the
 * listeners' generation, so that the completions of an accept on a
 * listener CONFIG SET port/bind replaced are not re-armed. */
static inline uint64_t ur_accept_data(uint32_t gen, int idx)
{
	return (((uint64_t)gen << 4 | (uint64_t)idx) << 3) | UR_ACCEPT;
}

static void ur_arm_accept(struct shard *s, struct uring_state *u, int idx)
{
	struct io_uring_sqe *sqe = ur_sqe(u);
	io_uring_prep_multishot_accept(sqe, s->listen_fds[idx], NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ur_accept_data(s->listen_gen, idx));
}

static void ur_arm_eventfd(struct shard *s, struct uring_state *u)
{
	struct io_uring_sqe *sqe = ur_sqe(u);
	io_uring_prep_read(sqe, s->event_fd, &u->efd_value, sizeof(u->efd_value), 0);
	io_uring_sqe_set_data64(sqe, UR_EVENTFD);
}

static void ur_arm_recv(struct uring_state *u, struct conn *c)
{
	struct io_uring_sqe *sqe = ur_sqe(u);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UR_BUF_GROUP;
	io_uring_sqe_set_data64(sqe, ur_data(c, UR_RECV));
	c->recv_armed = true;
}

static void ur_recycle(struct uring_state *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * UR_BUF_SIZE, UR_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(UR_BUF_COUNT),
			      (int)u->recycled);
	u->recycled++;
}

static int ur_setup_buffers(struct uring_state *u)
{
	size_t ring_bytes = UR_BUF_COUNT * sizeof(struct io_uring_buf);
	void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
			 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	u->br = mem;
	io_uring_buf_ring_init(u->br);
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)mem,
		.ring_entries = UR_BUF_COUNT,
		.bgid = UR_BUF_GROUP,
	};
	int rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (rc < 0) {
		munmap(mem, ring_bytes);
		u->br = NULL;
		return rc;
	}
	u->bufs = kv_malloc((size_t)UR_BUF_COUNT * UR_BUF_SIZE);
	for (unsigned i = 0; i < UR_BUF_COUNT; i++)
		ur_recycle(u, i);
	io_uring_buf_ring_advance(u->br, (int)u->recycled);
	u->recycled = 0;
	return 0;
}

static int ur_queue_init(struct uring_state *u)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQSIZE;
	p.cq_entries = u->sq_entries * 8;
	int rc = io_uring_queue_init_params(u->sq_entries, &u->ring, &p);
	if (rc == -EINVAL) {
		/* Kernels before 6.1 lack DEFER_TASKRUN; cooperative task work
		 * is the next best thing. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
		p.cq_entries = u->sq_entries * 8;
		rc = io_uring_queue_init_params(u->sq_entries, &u->ring, &p);
	}
	return rc;
}

const char *reactor_uring_unavailable(void)
{
	static char why[160];
	struct uring_state u;
	memset(&u, 0, sizeof(u));
	u.sq_entries = 8;
	int rc = ur_queue_init(&u);
	if (rc < 0) {
		snprintf(why, sizeof(why), "io_uring_setup failed: %s", strerror(-rc));
		return why;
	}
	struct io_uring_probe *probe = io_uring_get_probe_ring(&u.ring);
	const char *missing = NULL;
	if (!probe)
		missing = "the kernel cannot list io_uring operations";
	else if (!io_uring_opcode_supported(probe, IORING_OP_ACCEPT) ||
		 !io_uring_opcode_supported(probe, IORING_OP_RECV) ||
		 !io_uring_opcode_supported(probe, IORING_OP_SEND) ||
		 !io_uring_opcode_supported(probe, IORING_OP_READ))
		missing = "the kernel lacks io_uring accept/recv/send/read";
	if (probe)
		io_uring_free_probe(probe);
	if (!missing) {
		rc = ur_setup_buffers(&u);
		if (rc < 0) {
			snprintf(why, sizeof(why), "provided buffer rings unavailable (Linux 5.19+): %s",
				 strerror(-rc));
			missing = why;
		} else {
			free(u.bufs);
		}
	}
	io_uring_queue_exit(&u.ring);
	if (u.br)
		munmap(u.br, UR_BUF_COUNT * sizeof(struct io_uring_buf));
	if (missing && missing != why) {
		snprintf(why, sizeof(why), "%s", missing);
	}
	return missing ? why : NULL;
}

static int ur_init(struct shard *s)
{
	struct uring_state *u = kv_calloc(1, sizeof(*u));
	u->sq_entries = ur_sq_entries();
	int rc = ur_queue_init(u);
	if (rc < 0) {
		free(u);
		return rc;
	}
	rc = ur_setup_buffers(u);
	if (rc < 0) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return rc;
	}
	s->reactor_data = u;
	for (int i = 0; i < s->nlisten; i++)
		ur_arm_accept(s, u, i);
	ur_arm_eventfd(s, u);
	return 0;
}

/* The old listener (gen, idx) accepts no more on the ring: take what is
 * queued on it and close it (once: the accept's last completion and the
 * cancel's may both come). */
static void ur_retire(struct shard *s, struct uring_state *u, uint32_t gen, int idx)
{
	for (int i = 0; i < u->nretired; i++) {
		if (u->retired[i].gen != gen || u->retired[i].idx != idx)
			continue;
		int fd = u->retired[i].fd;
		u->retired[i] = u->retired[--u->nretired];
		shard_retire_listener(s, fd);
		return;
	}
}

static void ur_relisten(struct shard *s, const int *old_fds, int nold)
{
	struct uring_state *u = s->reactor_data;
	for (int i = 0; i < nold; i++) {
		/* The old socket is closed once its accept is cancelled, after
		 * the connections queued on it are taken (ur_retire); a table
		 * full (32 changes in one turn) closes at once, as before. */
		uint32_t gen = s->listen_gen - 1;
		struct io_uring_sqe *sqe = ur_sqe(u);
		io_uring_prep_cancel64(sqe, ur_accept_data(gen, i), 0);
		if (u->nretired < (int)(sizeof(u->retired) / sizeof(u->retired[0]))) {
			u->retired[u->nretired].gen = gen;
			u->retired[u->nretired].idx = i;
			u->retired[u->nretired++].fd = old_fds[i];
			io_uring_sqe_set_data64(sqe, (ur_accept_data(gen, i) & ~(uint64_t)UR_OP_MASK) |
							     UR_UNLISTEN);
		} else {
			io_uring_sqe_set_data64(sqe, UR_IGNORE);
			close(old_fds[i]);
		}
	}
	for (int i = 0; i < s->nlisten; i++)
		ur_arm_accept(s, u, i);
}

static void ur_fini(struct shard *s)
{
	struct uring_state *u = s->reactor_data;
	if (!u)
		return;
	for (int i = 0; i < u->nretired; i++)
		close(u->retired[i].fd);
	io_uring_queue_exit(&u->ring);
	munmap(u->br, UR_BUF_COUNT * sizeof(struct io_uring_buf));
	free(u->bufs);
	free(u);
	s->reactor_data = NULL;
}

static void ur_start_send(struct uring_state *u, struct conn *c)
{
	struct io_uring_sqe *sqe = ur_sqe(u);
	io_uring_prep_send(sqe, c->fd, c->sending.data + c->send_off,
			   c->sending.len - c->send_off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ur_data(c, UR_SEND));
	c->send_inflight = true;
}

static void ur_conn_flush(struct shard *s, struct conn *c)
{
	struct uring_state *u = s->reactor_data;
	if (c->send_inflight || c->close_started || c->out.len == 0)
		return;
	/* Swap buffers: the kernel reads `sending` while replies keep
	 * accumulating in `out`. */
	struct kv_buf tmp = c->sending;
	c->sending = c->out;
	c->out = tmp;
	c->out.len = 0;
	c->send_off = 0;
	if (kvio_trace_enabled())
		kvio_trace_reply(c->id, c->sending.data, c->sending.len);
	ur_start_send(u, c);
}

/* End c's multishot recv: its last completion (-ECANCELED, without
 * IORING_CQE_F_MORE) leaves it unarmed (ur_on_recv). */
static void ur_cancel_recv(struct uring_state *u, struct conn *c)
{
	struct io_uring_sqe *sqe = ur_sqe(u);
	io_uring_prep_cancel64(sqe, ur_data(c, UR_RECV), 0);
	io_uring_sqe_set_data64(sqe, UR_IGNORE);
}

static void ur_conn_start(struct shard *s, struct conn *c)
{
	c->recv_paused = false;
	ur_arm_recv(s->reactor_data, c);
}

static void ur_conn_recv(struct shard *s, struct conn *c, bool on)
{
	struct uring_state *u = s->reactor_data;
	if (!on) {
		c->recv_paused = true;
		if (c->recv_armed)
			ur_cancel_recv(u, c);
		return;
	}
	c->recv_paused = false;
	if (!c->recv_armed && !c->close_started && !c->read_eof && !c->io_dead &&
	    c->mig_state == MIG_NONE)
		ur_arm_recv(u, c);
}

static void ur_maybe_done(struct shard *s, struct conn *c)
{
	if (c->close_started && !c->recv_armed && !c->send_inflight && !c->io_closed)
		shard_conn_io_done(s, c);
}

static void ur_conn_close(struct shard *s, struct conn *c)
{
	struct uring_state *u = s->reactor_data;
	if (c->recv_armed)
		ur_cancel_recv(u, c);
	/* Ends a send stuck on a peer that stopped reading; not for a replica's
	 * socket, which becomes a replica's link (repl.c). */
	if (!c->repl_handoff)
		shutdown(c->fd, SHUT_RDWR);
	ur_maybe_done(s, c);
}

static void ur_conn_detach(struct shard *s, struct conn *c)
{
	struct uring_state *u = s->reactor_data;
	if (!c->recv_armed) {
		shard_conn_detached(s, c);
		return;
	}
	ur_cancel_recv(u, c);
}

static void ur_on_recv(struct shard *s, struct uring_state *u, struct conn *c,
		       struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (cqe->res > 0)
			shard_on_data(s, c, u->bufs + (size_t)bid * UR_BUF_SIZE, (size_t)cqe->res);
		ur_recycle(u, bid);
	}
	if (more)
		return;
	c->recv_armed = false;
	if (c->close_started) {
		ur_maybe_done(s, c);
		return;
	}
	if (c->mig_state == MIG_DETACHING) {
		/* conn_detach's cancel ended the recv (or it ended on its own):
		 * the socket is free for another shard's ring. */
		shard_conn_detached(s, c);
		if (cqe->res == 0)
			shard_on_eof(s, c);
		else if (cqe->res < 0 && cqe->res != -ECANCELED && cqe->res != -ENOBUFS)
			shard_on_hangup(s, c);
		return;
	}
	if (cqe->res > 0 || cqe->res == -ENOBUFS || cqe->res == -ECANCELED) {
		/* The multishot ended (buffers ran out, the kernel chose to, or
		 * conn_recv paused it): the buffers come back this turn, so
		 * re-arm right away unless the input is paused. */
		if (!c->recv_paused)
			ur_arm_recv(u, c);
		return;
	}
	if (cqe->res == 0)
		shard_on_eof(s, c);
	else
		shard_on_hangup(s, c);
	ur_maybe_done(s, c);
}

static void ur_on_send(struct shard *s, struct uring_state *u, struct conn *c, int res)
{
	c->send_inflight = false;
	if (res < 0 || c->close_started) {
		if (res < 0 && !c->close_started)
			shard_on_hangup(s, c);
		ur_maybe_done(s, c);
		return;
	}
	shard_on_sent(s, c, (size_t)res);
	c->send_off += (size_t)res;
	if (c->send_off < c->sending.len) {
		ur_start_send(u, c);
		return;
	}
	c->sending.len = 0;
	c->send_off = 0;
	kv_buf_shrink(&c->sending, 1 << 20);
	if (c->out.len)
		ur_conn_flush(s, c);
	else
		shard_conn_drained(s, c);
}

static void ur_handle(struct shard *s, struct uring_state *u, struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	unsigned op = (unsigned)(data & UR_OP_MASK);
	switch (op) {
	case UR_ACCEPT: {
		int idx = (int)((data >> 3) & 15);
		bool current = (uint32_t)(data >> 7) == s->listen_gen;
		/* An old listener's last connections are served like any. */
		if (cqe->res >= 0)
			shard_on_accept(s, cqe->res);
		else if (cqe->res != -ECANCELED && current)
			log_warning("shard %u: accept failed: %s", s->id, strerror(-cqe->res));
		if (!(cqe->flags & IORING_CQE_F_MORE) && !s->stopping && current)
			ur_arm_accept(s, u, idx);
		else if (!(cqe->flags & IORING_CQE_F_MORE) && !current)
			ur_retire(s, u, (uint32_t)(data >> 7), idx);
		break;
	}
	case UR_UNLISTEN:
		/* The cancel found no accept (it had ended): retire now.
		 * Otherwise the accept's last completion does. */
		if (cqe->res < 0 && cqe->res != -EALREADY)
			ur_retire(s, u, (uint32_t)(data >> 7), (int)((data >> 3) & 15));
		break;
	case UR_RECV:
		ur_on_recv(s, u, (struct conn *)(uintptr_t)(data & ~UR_OP_MASK), cqe);
		break;
	case UR_SEND:
		ur_on_send(s, u, (struct conn *)(uintptr_t)(data & ~UR_OP_MASK), cqe->res);
		break;
	case UR_EVENTFD:
		shard_on_wakeup(s);
		ur_arm_eventfd(s, u);
		break;
	case UR_FILE:
		/* An AOF write or fsync (or a replica link's read): work, so the loop does not park on it
		 * (a parked fsync completion would stall appendfsync always). */
		shard_on_ring_file(s, kvio_op_of(data), cqe->res);
		break;
	default:
		break;
	}
}

static int ur_poll(struct shard *s, int64_t timeout_us)
{
	struct uring_state *u = s->reactor_data;
	int rc;
	if (timeout_us > 0) {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_us / 1000000,
			.tv_nsec = (timeout_us % 1000000) * 1000,
		};
		struct io_uring_cqe *cqe;
		rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
		if (rc == -ETIME || rc == -EINTR)
			rc = 0;
	} else {
		rc = io_uring_submit_and_get_events(&u->ring);
		if (rc == -EINTR)
			rc = 0;
	}
	shard_unpark(s);
	if (rc < 0 && rc != -EBUSY && rc != -EAGAIN)
		return rc;
	int events = 0;
	unsigned head;
	struct io_uring_cqe *cqe;
	unsigned seen = 0;
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		ur_handle(s, u, cqe);
		seen++;
		if (cqe->user_data != UR_IGNORE && (cqe->user_data & UR_OP_MASK) != UR_EVENTFD)
			events++;
	}
	io_uring_cq_advance(&u->ring, seen);
	if (u->recycled) {
		io_uring_buf_ring_advance(u->br, (int)u->recycled);
		u->recycled = 0;
	}
	return events;
}

static void ur_lend_files(struct shard *s)
{
	struct uring_state *u = s->reactor_data;
	aof_attach(&s->aof, &u->ring, UR_FILE);
}

const struct reactor_ops reactor_uring_ops = {
	.name = "io_uring",
	.init = ur_init,
	.fini = ur_fini,
	.lend_files = ur_lend_files,
	.poll = ur_poll,
	.conn_start = ur_conn_start,
	.conn_flush = ur_conn_flush,
	.conn_close = ur_conn_close,
	.conn_detach = ur_conn_detach,
	.conn_recv = ur_conn_recv,
	.relisten = ur_relisten,
};
