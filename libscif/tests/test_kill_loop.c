/* SPDX-License-Identifier: MPL-2.0 */
/*
 * A kill loop: 200 peers SIGKILLed at random points during RMAs; the
 * listener then accepts and serves a new peer each time.
 *
 * Each peer (node 1) connects to the host's listener, registers a 1 MiB
 * window and then loops over scif_vwriteto/scif_vreadfrom of 256 KiB..1 MiB
 * into and from the host's window until the host SIGKILLs it, 0..5 ms
 * after its first RMA. The host (node 0) runs a few RMAs of its own into
 * the peer's window before the kill; on one iteration in four it keeps
 * running them while another thread kills the peer, on another one in
 * four it unregisters its window under the peer's RMAs before the kill.
 * After the kill it must find the connection dead (ECONNRESET everywhere)
 * and its window holding nothing the peer could not have written (per
 * byte: the initial fill or the peer's pattern for that position). It
 * closes the connection with scif_close (even iterations) or with plain
 * close(2) as libzmq does (odd ones), leaving the library to clean the
 * stale endpoint up when the next accept reuses the number. Every 20
 * iterations a peer that is not killed completes a full exchange. At the
 * end neither descriptors nor window table mappings may have piled up.
 *
 * The run is driven by a seeded PRNG; SCIF_TEST_SEED=<n> repeats a run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ITERATIONS    200
#define HEALTHY_EVERY 20
#define PORT	      9100
#define WIN	      (1 << 20) /* the windows of a killed peer's exchange */
#define CHUNK_MIN     (256 << 10)
#define SMALL	      (256 << 10) /* windows of the healthy exchanges */
#define FILL	      0xEE	  /* the host window before the peer writes */
#define KILL_DELAY_US 5000
#define RW	      (SCIF_PROT_READ | SCIF_PROT_WRITE)

/*
 * The library bounds its waits on a peer (RETIRE_WAIT_MS in internal.h, a
 * few tens of ms, for unregister/close against the peer's RMAs, none once
 * it is dead): 100 ms leaves room for scheduling. The other bounds only
 * tell a hang from a slow machine (sanitizers, two copies of the test at
 * once): scif_accept of a queued request does no waiting at all, and once
 * the peer is reaped the kernel has closed its socket, so its death is
 * visible at once.
 */
#define RETIRE_BOUND_MS 100
#define ACCEPT_BOUND_MS 500
#define DEAD_BOUND_MS	5000
#define LEAK_ALLOWANCE	8

/* Written by the peers, read by the host. */
struct shared {
	_Atomic int errors;	   /* unexpected failures seen by the peer */
	_Atomic int unregistering; /* host retires its window: RMAs may fail */
	_Atomic unsigned long rmas;
	_Atomic int connect_errno; /* the peer could not connect */
};

static struct shared *sh;
static pid_t host_pid;
static uint64_t run_seed;
static int iteration; /* copied into each peer by fork() */
static struct harness_gate connected, rma_started;

static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* A chunk of 256 KiB..1 MiB and a (byte-granular) offset where it fits. */
static void random_chunk(uint64_t *rng, size_t *len, size_t *off)
{
	*len = CHUNK_MIN + next_random(rng) % (WIN - CHUNK_MIN + 1);
	*off = next_random(rng) % (WIN - *len + 1);
}

/* What a killed peer of iteration i writes, by position in the window. */
static uint64_t peer_seed(int i)
{
	return run_seed ^ (0x1000u + (unsigned)i);
}

/* What the host writes into the peer's window. */
static uint64_t host_seed(int i)
{
	return run_seed ^ (0x100000u + (unsigned)i);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *map_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

/* Bytes that are neither the initial fill nor what the writer wrote. */
static size_t count_bad(const uint8_t *got, const uint8_t *want, size_t len)
{
	size_t bad = 0;

	for (size_t k = 0; k < len; k++)
		bad += got[k] != FILL && got[k] != want[k];
	return bad;
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n - 1; /* the directory's own descriptor */
}

/* Mappings of window tables (ours and our peers'), one memfd each. */
static int count_table_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "scif-emu-windows") != NULL;
	fclose(f);
	return n;
}

/* --- the peers ---------------------------------------------------------- */

/*
 * Every peer starts here. It dies with the host (one killed by the
 * watchdog leaves no peer behind holding the test's output open), and it
 * tells the host whether it could connect, so that a failure never leaves
 * the host waiting in scif_accept.
 */
static scif_epd_t peer_connect(void)
{
	struct scif_portID dst = {.node = 0, .port = PORT};
	scif_epd_t epd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != host_pid)
		_exit(1);
	epd = scif_open();
	if (epd < 0 || scif_connect(epd, &dst) < 0) {
		atomic_store(&sh->connect_errno, errno ? errno : EIO);
		gate_open(&connected);
		_exit(1);
	}
	gate_open(&connected);
	return epd;
}

/* Host side: false (the peer reaped) if the peer could not connect. */
static bool peer_connected(pid_t child)
{
	gate_wait(&connected);
	int err = atomic_exchange(&sh->connect_errno, 0);
	if (!err)
		return true;
	CHECK(!"the peer connects to the listener");
	fprintf(stderr, "    its scif_connect: %s\n", strerror(err));
	waitpid(child, NULL, 0);
	return false;
}

static bool peer_gate_opened;

/* A call failed, or an RMA brought back what nobody wrote. */
static void peer_note(const char *what, int err)
{
	if (!atomic_load(&sh->unregistering)) {
		atomic_fetch_add(&sh->errors, 1);
		fprintf(stderr, "[peer %d, iteration %d] %s: %s\n",
			(int)getpid(), iteration, what,
			err ? strerror(err) : "unexpected data");
	}
}

/* Stops RMAs after a failure and waits for the host's SIGKILL. */
static void peer_error(const char *what, int err)
{
	peer_note(what, err);
	/* The host waits for this gate before it kills: never leave it. */
	if (!peer_gate_opened)
		gate_open(&rma_started);
	for (;;)
		pause();
}

static void killed_peer(void *arg)
{
	uint64_t rng = run_seed ^ ((uint64_t)iteration << 32) ^ 0x5eedULL;
	(void)arg;

	scif_epd_t epd = peer_connect();
	uint8_t *win = map_pages(WIN), *src = map_pages(WIN);
	uint8_t *dst = map_pages(WIN);
	off_t poff = scif_register(epd, win, WIN, 0, RW, 0), hoff = -1;

	/* Set-up failures are noted but the host still gets its answer. */
	if (poff == SCIF_REGISTER_FAILED)
		peer_note("scif_register", errno);
	if (scif_recv(epd, &hoff, sizeof(hoff), SCIF_RECV_BLOCK) !=
	    sizeof(hoff))
		peer_note("scif_recv", errno);
	if (scif_send(epd, &poff, sizeof(poff), SCIF_SEND_BLOCK) !=
	    sizeof(poff))
		peer_error("scif_send", errno);
	pattern_fill(src, WIN, 0, peer_seed(iteration));
	for (;;) {
		size_t len, off;

		random_chunk(&rng, &len, &off);
		if (scif_vwriteto(epd, src + off, len, hoff + (off_t)off,
				  SCIF_RMA_SYNC) < 0)
			peer_error("scif_vwriteto", errno);
		random_chunk(&rng, &len, &off);
		if (scif_vreadfrom(epd, dst, len, hoff + (off_t)off,
				   SCIF_RMA_SYNC) < 0)
			peer_error("scif_vreadfrom", errno);
		if (count_bad(dst, src + off, len))
			peer_error("scif_vreadfrom", 0);
		atomic_fetch_add(&sh->rmas, 2);
		if (!peer_gate_opened) {
			peer_gate_opened = true;
			gate_open(&rma_started);
		}
	}
}

/* --- the host's side of a killed peer ------------------------------------ */

struct killer {
	pid_t pid;
	unsigned delay_us;
	_Atomic bool killed;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_us);
	CHECK(kill(k->pid, SIGKILL) == 0);
	atomic_store(&k->killed, true);
	return NULL;
}

static void reap_killed(pid_t child)
{
	int status = 0;

	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fprintf(stderr, "    peer %d status 0x%x\n", (int)child,
			status);
}

static scif_epd_t accept_peer(scif_epd_t listener)
{
	struct scif_portID peer = {0};
	scif_epd_t conn = -1;
	double t0 = mono_ms();

	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	double dt = mono_ms() - t0;
	CHECK(dt < ACCEPT_BOUND_MS);
	if (dt >= ACCEPT_BOUND_MS)
		fprintf(stderr, "    scif_accept took %.1f ms\n", dt);
	CHECK(peer.node == 1);
	return conn;
}

/* Host RMAs into the peer's window, read back: only we write it. */
static void host_rmas(scif_epd_t conn, off_t poff, uint8_t *hsrc, uint8_t *back,
		      uint64_t *rng, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		size_t len, off;

		random_chunk(rng, &len, &off);
		CHECK(scif_vwriteto(conn, hsrc + off, len, poff + (off_t)off,
				    SCIF_RMA_SYNC) == 0);
		CHECK(scif_vreadfrom(conn, back, len, poff + (off_t)off,
				     SCIF_RMA_SYNC) == 0);
		CHECK(memcmp(back, hsrc + off, len) == 0);
	}
}

/*
 * Host RMAs while another thread kills the peer: each succeeds (with the
 * right data) until the peer is gone, then ECONNRESET, nothing else.
 */
static void host_rmas_racing_kill(scif_epd_t conn, off_t poff, pid_t child,
				  uint8_t *hsrc, uint8_t *back, uint64_t *rng)
{
	struct killer k = {.pid = child,
			   .delay_us = next_random(rng) % (KILL_DELAY_US + 1)};
	double killed_at = 0;
	pthread_t thread;
	int rc, err;

	atomic_init(&k.killed, false);
	CHECK(pthread_create(&thread, NULL, kill_later, &k) == 0);
	for (;;) {
		size_t len, off;

		random_chunk(rng, &len, &off);
		rc = scif_vwriteto(conn, hsrc + off, len, poff + (off_t)off,
				   SCIF_RMA_SYNC);
		if (rc == 0) {
			rc = scif_vreadfrom(conn, back, len, poff + (off_t)off,
					    SCIF_RMA_SYNC);
			if (rc == 0 && memcmp(back, hsrc + off, len) != 0)
				CHECK(!"read back what the host wrote");
		}
		if (rc < 0)
			break;
		if (atomic_load(&k.killed)) {
			if (killed_at == 0)
				killed_at = mono_ms();
			else if (mono_ms() - killed_at > DEAD_BOUND_MS)
				break;
		}
	}
	err = errno;
	CHECK(rc == -1 && err == ECONNRESET);
	if (rc != -1 || err != ECONNRESET)
		fprintf(stderr,
			"    RMA racing the kill: rc=%d errno=%d (%s)\n", rc,
			err, strerror(err));
	pthread_join(thread, NULL);
}

/* The peer is reaped: the connection is dead, in bounded time. */
static void expect_dead(scif_epd_t conn, off_t poff, uint8_t *buf)
{
	double t0 = mono_ms();
	int n, err;

	/* Drain whatever is buffered (nothing, normally). */
	for (;;) {
		n = scif_recv(conn, buf, 4096, 0);
		if (n > 0)
			continue;
		if (n < 0 || mono_ms() - t0 > DEAD_BOUND_MS)
			break;
		usleep(1000);
	}
	err = errno;
	CHECK(n == -1 && err == ECONNRESET);
	if (n != -1 || err != ECONNRESET)
		fprintf(stderr,
			"    drain: rc=%d errno=%d (%s) after %.1f ms\n", n,
			err, strerror(err), mono_ms() - t0);
	CHECK_FAILS(scif_recv(conn, buf, 1, SCIF_RECV_BLOCK), ECONNRESET);
	CHECK_FAILS(scif_send(conn, buf, 1, SCIF_SEND_BLOCK), ECONNRESET);
	CHECK_FAILS(scif_send(conn, buf, 1, 0), ECONNRESET);
	CHECK_FAILS(scif_vwriteto(conn, buf, 4096, poff, 0), ECONNRESET);
	CHECK_FAILS(scif_vreadfrom(conn, buf, 4096, poff, 0), ECONNRESET);
	struct scif_pollepd p = {.epd = conn, .events = SCIF_POLLIN};
	CHECK(scif_poll(&p, 1, DEAD_BOUND_MS) == 1 &&
	      (p.revents & SCIF_POLLHUP));
}

struct buffers {
	uint8_t *hwin;	 /* the host's window */
	uint8_t *expect; /* what the peer writes into it */
	uint8_t *hsrc;	 /* what the host writes into the peer's */
	uint8_t *back;
};

/*
 * One killed peer. Variants by i % 4: 0, 1 plain; 2 the host's own RMAs
 * race the kill; 3 the host unregisters its window under the peer's RMAs
 * before the kill. Even iterations end with scif_close, odd ones with
 * close(2). Returns the connection's (now closed) descriptor number, or
 * -1 if the peer could not connect.
 */
static scif_epd_t killed_iteration(int i, scif_epd_t listener,
				   struct buffers *b, uint64_t *rng)
{
	int variant = i % 4;
	double t0, dt;

	atomic_store(&sh->errors, 0);
	atomic_store(&sh->unregistering, 0);
	atomic_store(&sh->rmas, 0);
	/*
	 * Filled before this peer exists and while the last one's endpoint
	 * may still be stale (close(2)): from here on only this peer may
	 * write into the memory, whichever endpoint's window it lies in.
	 */
	memset(b->hwin, FILL, WIN);
	iteration = i;
	pid_t child = harness_spawn(1, killed_peer, NULL);

	if (!peer_connected(child))
		return -1;
	scif_epd_t conn = accept_peer(listener);
	off_t hoff = scif_register(conn, b->hwin, WIN, 0, RW, 0), poff = -1;
	CHECK(hoff != SCIF_REGISTER_FAILED);
	CHECK(scif_send(conn, &hoff, sizeof(hoff), SCIF_SEND_BLOCK) ==
	      sizeof(hoff));
	CHECK(scif_recv(conn, &poff, sizeof(poff), SCIF_RECV_BLOCK) ==
	      sizeof(poff));
	gate_wait(&rma_started);
	pattern_fill(b->hsrc, WIN, 0, host_seed(i));

	if (variant == 2) {
		host_rmas_racing_kill(conn, poff, child, b->hsrc, b->back, rng);
	} else {
		host_rmas(conn, poff, b->hsrc, b->back, rng, 3);
		if (variant == 3) {
			/* Waits for the peer's RMAs, bounded while it lives. */
			atomic_store(&sh->unregistering, 1);
			t0 = mono_ms();
			CHECK(scif_unregister(conn, hoff, WIN) == 0);
			dt = mono_ms() - t0;
			CHECK(dt < RETIRE_BOUND_MS);
			if (dt >= RETIRE_BOUND_MS)
				fprintf(stderr,
					"    scif_unregister under the peer's "
					"RMAs took %.1f ms\n",
					dt);
		}
		usleep(next_random(rng) % (KILL_DELAY_US + 1));
		CHECK(kill(child, SIGKILL) == 0);
	}
	reap_killed(child);
	CHECK(atomic_load(&sh->errors) == 0);
	CHECK(atomic_load(&sh->rmas) > 0);

	expect_dead(conn, poff, b->back);
	pattern_fill(b->expect, WIN, 0, peer_seed(i));
	size_t bad = count_bad(b->hwin, b->expect, WIN);
	CHECK(bad == 0);
	if (bad)
		fprintf(stderr, "    iteration %d: %zu corrupt bytes\n", i,
			bad);

	if (i & 1) {
		/* As libzmq does; no scif_unregister needed either. */
		CHECK(close(scif_get_fd(conn)) == 0);
		return conn;
	}
	/* The peer is gone: nothing to wait for (scif.h: ECONNRESET). */
	t0 = mono_ms();
	CHECK_FAILS(scif_unregister(conn, hoff, WIN), ECONNRESET);
	dt = mono_ms() - t0;
	CHECK(dt < RETIRE_BOUND_MS);
	if (dt >= RETIRE_BOUND_MS)
		fprintf(stderr, "    scif_unregister took %.1f ms\n", dt);
	/* Retires the window still registered: a dead peer holds nothing. */
	t0 = mono_ms();
	CHECK(scif_close(conn) == 0);
	dt = mono_ms() - t0;
	CHECK(dt < RETIRE_BOUND_MS);
	if (dt >= RETIRE_BOUND_MS)
		fprintf(stderr, "    scif_close took %.1f ms\n", dt);
	return conn;
}

/* --- a healthy exchange ------------------------------------------------- */

static void healthy_peer(void *arg)
{
	uint64_t seed = peer_seed(iteration) ^ 0xAB;
	uint8_t *win = map_pages(SMALL), *src = map_pages(SMALL);
	uint8_t *back = map_pages(SMALL);
	char msg[64], c = 1;
	off_t hoff = -1;
	(void)arg;

	scif_epd_t epd = peer_connect();
	off_t poff = scif_register(epd, win, SMALL, 0, RW, 0);
	CHECK(poff != SCIF_REGISTER_FAILED);
	CHECK(scif_recv(epd, &hoff, sizeof(hoff), SCIF_RECV_BLOCK) ==
	      sizeof(hoff));
	CHECK(scif_send(epd, &poff, sizeof(poff), SCIF_SEND_BLOCK) ==
	      sizeof(poff));
	CHECK(scif_recv(epd, msg, sizeof(msg), SCIF_RECV_BLOCK) == sizeof(msg));
	CHECK(pattern_check(msg, sizeof(msg), 0, seed + 1));

	pattern_fill(src, SMALL, 0, seed + 2);
	CHECK(scif_vwriteto(epd, src, SMALL, hoff, SCIF_RMA_SYNC) == 0);
	CHECK(scif_vreadfrom(epd, back, SMALL, hoff, SCIF_RMA_SYNC) == 0);
	CHECK(memcmp(back, src, SMALL) == 0);
	CHECK(scif_send(epd, &c, 1, SCIF_SEND_BLOCK) == 1);

	/* The host has written our window and is done with its own. */
	CHECK(scif_recv(epd, &c, 1, SCIF_RECV_BLOCK) == 1);
	CHECK(pattern_check(win, SMALL, 0, seed + 3));
	CHECK(scif_unregister(epd, poff, SMALL) == 0);
	CHECK(scif_close(epd) == 0);
}

/* A peer that is not killed; returns as killed_iteration does. */
static scif_epd_t healthy_exchange(int i, scif_epd_t listener,
				   struct buffers *b)
{
	uint64_t seed = peer_seed(i) ^ 0xAB;
	char msg[64], c = 0;
	off_t poff = -1;

	iteration = i;
	pid_t child = harness_spawn(1, healthy_peer, NULL);
	if (!peer_connected(child))
		return -1;
	scif_epd_t conn = accept_peer(listener);
	memset(b->hwin, FILL, SMALL);
	off_t hoff = scif_register(conn, b->hwin, SMALL, 0, RW, 0);
	CHECK(hoff != SCIF_REGISTER_FAILED);
	CHECK(scif_send(conn, &hoff, sizeof(hoff), SCIF_SEND_BLOCK) ==
	      sizeof(hoff));
	CHECK(scif_recv(conn, &poff, sizeof(poff), SCIF_RECV_BLOCK) ==
	      sizeof(poff));
	pattern_fill(msg, sizeof(msg), 0, seed + 1);
	CHECK(scif_send(conn, msg, sizeof(msg), SCIF_SEND_BLOCK) ==
	      sizeof(msg));

	pattern_fill(b->hsrc, SMALL, 0, seed + 3);
	CHECK(scif_vwriteto(conn, b->hsrc, SMALL, poff, SCIF_RMA_SYNC) == 0);
	CHECK(scif_vreadfrom(conn, b->back, SMALL, poff, SCIF_RMA_SYNC) == 0);
	CHECK(memcmp(b->back, b->hsrc, SMALL) == 0);

	/* The peer has written our window and read it back. */
	CHECK(scif_recv(conn, &c, 1, SCIF_RECV_BLOCK) == 1);
	CHECK(pattern_check(b->hwin, SMALL, 0, seed + 2));
	CHECK(scif_unregister(conn, hoff, SMALL) == 0);
	CHECK(scif_send(conn, &c, 1, SCIF_SEND_BLOCK) == 1);

	/* The peer closes: end of stream, then our own close. */
	CHECK_FAILS(scif_recv(conn, &c, 1, SCIF_RECV_BLOCK), ECONNRESET);
	CHECK(scif_close(conn) == 0);
	harness_join(child);
	return conn;
}

int main(void)
{
	const char *seed_env = getenv("SCIF_TEST_SEED");
	int baseline_fds = -1, baseline_maps = -1, max_fds = 0;
	int reused = 0, reuse_chances = 0;
	scif_epd_t closed_by_close2 = -1;
	struct buffers b;
	uint64_t rng;

	harness_init("kill_loop", 120);
	host_pid = getpid();
	run_seed = seed_env ? strtoull(seed_env, NULL, 0)
			    : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	printf("kill_loop: seed %" PRIu64 " (SCIF_TEST_SEED=%" PRIu64
	       " repeats this run)\n",
	       run_seed, run_seed);
	rng = run_seed;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	gate_init(&connected);
	gate_init(&rma_started);
	b.hwin = map_pages(WIN);
	b.expect = map_pages(WIN);
	b.hsrc = map_pages(WIN);
	b.back = map_pages(WIN);
	scif_epd_t listener = harness_listener(PORT);

	for (int i = 0; i < ITERATIONS; i++) {
		scif_epd_t conn = killed_iteration(i, listener, &b, &rng);

		if (conn < 0)
			break; /* no peer to serve: nothing more to learn */
		if (closed_by_close2 >= 0) {
			reuse_chances++;
			reused += conn == closed_by_close2;
		}
		closed_by_close2 = (i & 1) ? conn : -1;
		if ((i + 1) % HEALTHY_EVERY == 0) {
			conn = healthy_exchange(i, listener, &b);
			if (conn < 0)
				break;
			if (closed_by_close2 >= 0) {
				reuse_chances++;
				reused += conn == closed_by_close2;
			}
			closed_by_close2 = -1;
		}
		if (i == 0) {
			baseline_fds = count_fds();
			baseline_maps = count_table_maps();
		}
		int fds = count_fds();
		if (fds > max_fds)
			max_fds = fds;
	}

	/*
	 * No descriptor or window table left behind per killed peer. On the
	 * fallback path the service's threads let go of a dead peer's
	 * endpoint asynchronously: give them a moment (generous, for loaded
	 * machines) before counting.
	 */
	int fds = count_fds(), maps = count_table_maps();
	for (int wait = 0;
	     wait < 100 && (fds > baseline_fds + LEAK_ALLOWANCE ||
			    maps > baseline_maps + LEAK_ALLOWANCE);
	     wait++) {
		usleep(50 * 1000);
		fds = count_fds();
		maps = count_table_maps();
	}
	printf("kill_loop: descriptors %d after the first iteration, %d at "
	       "the end (max %d); table mappings %d -> %d; %d of %d close(2)d "
	       "numbers reused by the next accept\n",
	       baseline_fds, fds, max_fds, baseline_maps, maps, reused,
	       reuse_chances);
	CHECK(baseline_fds > 0 && fds <= baseline_fds + LEAK_ALLOWANCE);
	CHECK(baseline_maps >= 0 && maps <= baseline_maps + LEAK_ALLOWANCE);
	/* Else the stale-endpoint clean-up above was never exercised. */
	CHECK(reused > 0);
	CHECK(scif_close(listener) == 0);
	return harness_finish();
}
