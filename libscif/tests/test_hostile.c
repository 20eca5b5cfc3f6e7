/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Hostile peers: one case per way a peer, another user or a resource limit
 * could make libscif write outside the connected peer's windows, crash, or
 * stall. The victim is this process, using libscif as libzmq does; the
 * attackers are raw peers (rawpeer.c) forked as children. Every case
 * checks that
 *   - nothing outside the connected peer's windows is written (a bystander
 *     process keeps canary pages and checks them at the end),
 *   - nothing crashes (a crash of the victim fails the case),
 *   - every call libzmq's I/O thread makes returns within IO_BOUND_MS.
 * Cases needing a second user run when we are root and are reported as
 * skipped (exit 77) otherwise. Raw helpers only run in children: opening
 * and closing the domain's lock file would drop the victim's locks.
 *
 * Usage: scif_test_hostile CASE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "rawpeer.h"
#include "scif_emu.h"

/*
 * The bound the trust model sets for calls made on libzmq's I/O thread.
 * libscif's own longest wait there is RETIRE_WAIT_MS (20 ms); the rest is
 * slack for a loaded CI machine.
 */
#define IO_BOUND_MS 100.0

#define PORT	     5000
#define PEER_PORT    3000
#define CANARY_ADDR  ((void *)0x6f0000000000UL)
#define CANARY_LEN   (4 * 4096)
#define CANARY_BYTE  0xA5
#define NOBODY	     65534
#define OTHER_NOBODY 65533

/* Evaluates a call and checks it returned within IO_BOUND_MS. */
#define FAST(call)                                                             \
	({                                                                     \
		struct timespec _t0;                                           \
		clock_gettime(CLOCK_MONOTONIC, &_t0);                          \
		__typeof__(call) _rc = (call);                                 \
		int _e = errno;                                                \
		double _ms = raw_ms_since(&_t0);                               \
		harness_check(_ms < IO_BOUND_MS, #call " returns in time",     \
			      __FILE__, __LINE__);                             \
		if (_ms >= IO_BOUND_MS)                                        \
			fprintf(stderr, "    took %.1f ms\n", _ms);            \
		errno = _e;                                                    \
		_rc;                                                           \
	})

static void need_root(void)
{
	if (geteuid() != 0) {
		printf("SKIPPED: needs root to act as a second user\n");
		exit(77);
	}
}

/* A directory every user may enter, root's, as install -d -m 1777 makes. */
static char shared_dir[64];

static void use_shared_dir(void)
{
	snprintf(shared_dir, sizeof(shared_dir), "/tmp/scif-shared-XXXXXX");
	CHECK(mkdtemp(shared_dir) != NULL);
	CHECK(chmod(shared_dir, 01777) == 0);
	setenv("SCIF_EMU_DOMAIN", shared_dir, 1);
}

/*
 * An explicit, shared domain: such a directory, set up by its owner (its
 * lock file is the owner's) before any other member comes.
 */
static void use_shared_domain(void)
{
	uint16_t self;

	use_shared_dir();
	CHECK(scif_get_nodeIDs(NULL, 0, &self) >= 1);
}

/* --- the bystander ----------------------------------------------------------
 */

static struct harness_gate bystander_ready, bystander_check;

static void bystander(void *arg)
{
	(void)arg;
	unsigned char *canary =
	    raw_fixed_pages(CANARY_ADDR, CANARY_LEN, CANARY_BYTE);
	gate_open(&bystander_ready);
	gate_wait(&bystander_check);
	for (size_t i = 0; i < CANARY_LEN; i++)
		if (canary[i] != CANARY_BYTE) {
			CHECK(!"the bystander's canary was written");
			break;
		}
}

static pid_t start_bystander(void)
{
	gate_init(&bystander_ready);
	gate_init(&bystander_check);
	pid_t pid = harness_spawn(0, bystander, NULL);
	gate_wait(&bystander_ready);
	return pid;
}

static void finish_bystander(pid_t pid)
{
	gate_open(&bystander_check);
	harness_join(pid);
}

/* --- shared pieces
 * ------------------------------------------------------------ */

static struct harness_gate peer_ready, peer_go, peer_done;

static void gates_init(void)
{
	gate_init(&peer_ready);
	gate_init(&peer_go);
	gate_init(&peer_done);
}

/*
 * A raw peer connected to our listener as (1, PEER_PORT), publishing one
 * read-write window at offset 0 over len bytes at addr of its own memory.
 */
static int raw_peer_with_window(void *addr, size_t len,
				struct window_table **table)
{
	int memfd;
	int fd = raw_connect_as(1, PEER_PORT, 0, PORT);
	struct window_table *t = raw_table(RAW_SEALS_ALL, &memfd);

	CHECK(fd >= 0 && t != NULL);
	raw_publish(t, 0, 0, len, (uint64_t)(uintptr_t)addr,
		    SCIF_PROT_READ | SCIF_PROT_WRITE);
	CHECK(raw_send_hello(fd, WINDOW_TABLE_MAGIC, &memfd, 1) == 0);
	close(memfd);
	if (table)
		*table = t;
	return fd;
}

static scif_epd_t accept_one(scif_epd_t listener, struct scif_portID *peer)
{
	scif_epd_t conn = -1;
	struct pollfd pfd = {.fd = scif_get_fd(listener), .events = POLLIN};

	CHECK(poll(&pfd, 1, 5000) == 1);
	CHECK(FAST(scif_accept(listener, peer, &conn, 0)) == 0);
	return conn;
}

static void *local_pages(size_t len, int byte)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	memset(p, byte, len);
	return p;
}

/* --- 1. an RMA reaches only the connected peer's own memory ------------- */

/*
 * The old attack: the peer pointed its window at another process (its pid
 * field) and our vwriteto landed there. Now the peer's process comes from
 * the kernel, so the same window names an address in the peer itself.
 */
static void writer_peer(void *arg)
{
	bool other_user = arg != NULL;
	if (other_user)
		raw_become(NOBODY);
	unsigned char *mine = raw_fixed_pages(CANARY_ADDR, CANARY_LEN, 0x5A);
	int fd = raw_peer_with_window(mine, CANARY_LEN, NULL);

	/* Our peer's table is sealed and read-only to us. */
	int vmemfd = raw_recv_hello(fd);
	CHECK(vmemfd >= 0);
	CHECK(mmap(NULL, sizeof(struct window_table), PROT_READ | PROT_WRITE,
		   MAP_SHARED, vmemfd, 0) == MAP_FAILED);
	CHECK(ftruncate(vmemfd, 0) < 0);
	CHECK(pwrite(vmemfd, "x", 1, 0) < 0);
	CHECK(raw_map_table(vmemfd) != NULL);
	gate_open(&peer_ready);
	gate_wait(&peer_done);
	/* The victim's write landed here, in the connected peer. */
	CHECK(mine[0] == 0x77 && mine[CANARY_LEN - 1] == 0x77);
}

static void write_lands_in_peer(bool other_user)
{
	struct scif_portID peer;
	scif_epd_t listener = harness_listener(PORT);
	pid_t bystander_pid = start_bystander();
	gates_init();
	pid_t peer_pid =
	    harness_spawn(1, writer_peer, other_user ? (void *)1 : NULL);
	scif_epd_t conn = accept_one(listener, &peer);
	gate_wait(&peer_ready);
	CHECK(peer.node == 1 && peer.port == PEER_PORT);
	char *buf = local_pages(CANARY_LEN, 0x77);
	CHECK(FAST(scif_vwriteto(conn, buf, CANARY_LEN, 0, SCIF_RMA_SYNC)) ==
	      0);

	/* Local windows are ours alone: a signal lands where we said. */
	char *mine = local_pages(4096, 0);
	off_t loff =
	    scif_register(conn, mine, 4096, 0x40000,
			  SCIF_PROT_READ | SCIF_PROT_WRITE, SCIF_MAP_FIXED);
	CHECK(loff == 0x40000);
	CHECK(scif_fence_signal(conn, loff + 8, 0x1234, 0, 0,
				SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL) == 0);
	int mark;
	CHECK(scif_fence_mark(conn, SCIF_FENCE_INIT_SELF, &mark) == 0);
	CHECK(scif_fence_wait(conn, mark) == 0);
	uint64_t value;
	memcpy(&value, mine + 8, sizeof(value));
	CHECK(value == 0x1234);

	gate_open(&peer_done);
	harness_join(peer_pid);
	finish_bystander(bystander_pid);
	scif_close(conn);
	scif_close(listener);
}

static void case_write_target(void)
{
	write_lands_in_peer(false);
}

static void case_write_target_other_user(void)
{
	need_root();
	use_shared_domain();
	write_lands_in_peer(true);
}

/* --- 2. reachability --------------------------------------------------------
 */

static char private_domain[256];

static void outsider(void *arg)
{
	(void)arg;
	/* Forked before we used libscif: it inherits nothing of ours. */
	gate_wait(&peer_go);
	raw_become(NOBODY);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	/* Neither connect nor bind in another user's domain. */
	raw_address(&addr, "%s/0/%d", private_domain, PORT);
	CHECK(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 &&
	      errno == EACCES);
	raw_address(&addr, "%s/0/6000", private_domain);
	CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 &&
	      errno == EACCES);
	setenv("SCIF_EMU_DOMAIN", private_domain, 1);
	CHECK_FAILS(scif_open(), EACCES);

	/* The same name is a machine of our own, where nobody listens. */
	setenv("SCIF_EMU_DOMAIN", strrchr(private_domain, '/') + 1, 1);
	scif_epd_t epd = scif_open();
	struct scif_portID dst = {0, PORT};
	CHECK(epd >= 0);
	CHECK_FAILS(scif_bind(epd, 100), EACCES);
	CHECK_FAILS(scif_connect(epd, &dst), ECONNREFUSED);
	scif_close(epd);
	harness_remove_domain(getenv("SCIF_EMU_DOMAIN"));
}

static void case_other_user_isolated(void)
{
	struct scif_portID peer;
	scif_epd_t conn;

	need_root();
	snprintf(private_domain, sizeof(private_domain), "%s",
		 raw_domain_dir());
	gates_init();
	pid_t pid = harness_spawn(1, outsider, NULL);
	scif_epd_t listener = harness_listener(PORT);
	gate_open(&peer_go);
	harness_join(pid);
	CHECK_FAILS(scif_accept(listener, &peer, &conn, 0), EAGAIN);
	scif_close(listener);
}

/* Squats port 100's socket where a privileged listener would be. */
static void squatter(void *arg)
{
	if (arg)
		raw_become(NOBODY);
	char path[300];
	/* Not under admin/: never what a connect to port 100 reaches. */
	int plain = raw_bound_socket(0, 2100);
	snprintf(path, sizeof(path), "%s/0/100", raw_domain_dir());
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	raw_address(&addr, "%s", path);
	int fake = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(fake, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(listen(fake, 4) == 0);
	/* An admin directory of our own making, with a listener in it. */
	snprintf(path, sizeof(path), "%s/admin", raw_domain_dir());
	CHECK(mkdir(path, 0755) == 0);
	raw_address(&addr, "%s/0.100", path);
	int admin = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(admin, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(listen(admin, 4) == 0);
	gate_open(&peer_ready);
	gate_wait(&peer_done);
	/* Nobody ever reached either listener. */
	struct pollfd pending[2] = {{fake, POLLIN, 0}, {admin, POLLIN, 0}};
	CHECK(poll(pending, 2, 0) == 0);
	close(plain);
}

static void privileged_port_squat(bool other_user)
{
	struct scif_portID dst = {0, 100};
	gates_init();
	pid_t pid = harness_spawn(0, squatter, other_user ? (void *)1 : NULL);
	gate_wait(&peer_ready);
	scif_epd_t epd = scif_open();
	CHECK_FAILS(FAST(scif_connect(epd, &dst)), ECONNREFUSED);
	/* Not even root binds into a directory someone else made. */
	if (geteuid() == 0 && other_user) {
		scif_epd_t fresh = scif_open();
		CHECK_FAILS(scif_bind(fresh, 100), EACCES);
		scif_close(fresh);
	}
	gate_open(&peer_done);
	harness_join(pid);
	scif_close(epd);
}

static void case_privileged_squat(void)
{
	if (geteuid() == 0) {
		/* Root's own admin directory is root's: squat as nobody. */
		use_shared_domain();
		privileged_port_squat(true);
	} else {
		privileged_port_squat(false);
	}
}

/* Connections whose claims the kernel does not back are refused. */
static void claimant(void *arg)
{
	int which = (int)(intptr_t)arg;
	int fd = -1, memfd;

	switch (which) {
	case 0: /* not bound at all */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		break;
	case 1: /* bound, without holding the port */
		fd = raw_bound_socket(1, PEER_PORT + 1);
		break;
	case 2: /* bound to a node that does not exist */
		raw_hold_port(9, PEER_PORT + 2);
		fd = raw_bound_socket(9, PEER_PORT + 2);
		break;
	case 3: /* bound to a port another process holds */
		fd = raw_bound_socket(1, PEER_PORT + 3);
		break;
	}
	CHECK(raw_connect(fd, 0, PORT) == 0);
	raw_table(RAW_SEALS_ALL, &memfd);
	raw_send_hello(fd, WINDOW_TABLE_MAGIC, &memfd, 1);
	gate_open(&peer_ready);
	/* Refused: the victim closes its end (unread data: ECONNRESET). */
	char byte;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(fd, &byte, 1, 0);
	CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void port_holder(void *arg)
{
	(void)arg;
	CHECK(raw_hold_port(1, PEER_PORT + 3) >= 0);
	gate_open(&peer_ready);
	gate_wait(&peer_done);
}

/* Listens on a port's socket file without holding the port. */
static void fake_listener(void *arg)
{
	(void)arg;
	int fd = raw_bound_socket(1, PEER_PORT + 4);
	CHECK(listen(fd, 4) == 0);
	gate_open(&peer_ready);
	gate_wait(&peer_done);
}

static void real_listener(void *arg)
{
	(void)arg;
	struct scif_portID peer;
	scif_epd_t conn;
	scif_epd_t listener = harness_listener(PEER_PORT + 5);
	gate_open(&peer_ready);
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	char byte = 0;
	CHECK(scif_recv(conn, &byte, 1, SCIF_RECV_BLOCK) == 1 && byte == 'k');
	scif_close(conn);
	scif_close(listener);
}

static void case_claims_checked(void)
{
	struct scif_portID peer;
	scif_epd_t conn;
	pid_t pids[4];

	scif_epd_t listener = harness_listener(PORT);
	gates_init();
	pid_t holder = harness_spawn(1, port_holder, NULL);
	gate_wait(&peer_ready);
	for (int i = 0; i < 4; i++) {
		pids[i] = harness_spawn(1, claimant, (void *)(intptr_t)i);
		gate_wait(&peer_ready);
	}
	/* All four are refused in one call that does not wait for more. */
	CHECK_FAILS(FAST(scif_accept(listener, &peer, &conn, 0)), EAGAIN);
	for (int i = 0; i < 4; i++)
		harness_join(pids[i]);
	gate_open(&peer_done);
	harness_join(holder);

	/* One who holds its port is accepted, under that port. */
	gates_init();
	pid_t legit = harness_spawn(1, writer_peer, NULL);
	conn = accept_one(listener, &peer);
	gate_wait(&peer_ready);
	CHECK(peer.node == 1 && peer.port == PEER_PORT);
	char *buf = local_pages(CANARY_LEN, 0x77);
	CHECK(scif_vwriteto(conn, buf, CANARY_LEN, 0, SCIF_RMA_SYNC) == 0);
	gate_open(&peer_done);
	harness_join(legit);
	scif_close(conn);

	/* A listener that does not hold the port is not connected to ... */
	struct scif_portID dst = {1, PEER_PORT + 4};
	gates_init();
	pid_t fake = harness_spawn(1, fake_listener, NULL);
	gate_wait(&peer_ready);
	scif_epd_t epd = scif_open();
	CHECK_FAILS(FAST(scif_connect(epd, &dst)), ECONNREFUSED);
	gate_open(&peer_done);
	harness_join(fake);
	/* ... and the endpoint stays usable for a real one. */
	gates_init();
	pid_t real = harness_spawn(1, real_listener, NULL);
	gate_wait(&peer_ready);
	dst.port = PEER_PORT + 5;
	CHECK(scif_connect(epd, &dst) >= SCIF_PORT_RSVD);
	CHECK(scif_send(epd, "k", 1, SCIF_SEND_BLOCK) == 1);
	harness_join(real);
	scif_close(epd);
	scif_close(listener);
}

/* --- 3. nothing a peer publishes can crash us ---------------------------- */

/* Tables we must refuse: no seals (it can shrink), wrong size, no magic. */
static void bad_table_peer(void *arg)
{
	int which = (int)(intptr_t)arg, memfd = -1;
	int fd = raw_connect_as(1, PEER_PORT + which, 0, PORT);

	switch (which) {
	case 0:
		raw_table(0, &memfd);
		break;
	case 1:
		raw_table(F_SEAL_GROW | F_SEAL_SEAL, &memfd);
		break;
	case 2:
		raw_table(0, &memfd);
		CHECK(ftruncate(memfd, 2 * sizeof(struct window_table)) == 0);
		fcntl(memfd, F_ADD_SEALS, RAW_SEALS_ALL);
		break;
	case 3: {
		struct window_table *t = raw_table(0, &memfd);
		t->magic = 0;
		fcntl(memfd, F_ADD_SEALS, RAW_SEALS_ALL);
		break;
	}
	}
	CHECK(raw_send_hello(fd, WINDOW_TABLE_MAGIC, &memfd, 1) == 0);
	gate_open(&peer_ready);
	gate_wait(&peer_go);
	/* Shrinking an unsealed table under a reader would SIGBUS it. */
	if (which < 2)
		CHECK(ftruncate(memfd, 0) == 0);
	gate_open(&peer_ready);
	gate_wait(&peer_done);
}

static void case_bad_tables(void)
{
	struct scif_portID peer;
	char buf[64] = {0};
	scif_epd_t listener = harness_listener(PORT);

	for (int which = 0; which < 4; which++) {
		gates_init();
		pid_t pid =
		    harness_spawn(1, bad_table_peer, (void *)(intptr_t)which);
		gate_wait(&peer_ready);
		scif_epd_t conn = accept_one(listener, &peer);
		gate_open(&peer_go);
		gate_wait(&peer_ready);
		CHECK_FAILS(FAST(scif_recv(conn, buf, 1, 0)), ECONNRESET);
		CHECK_FAILS(
		    FAST(scif_vwriteto(conn, buf, 64, 0, SCIF_RMA_SYNC)),
		    ECONNRESET);
		CHECK_FAILS(FAST(scif_send(conn, buf, 1, 0)), ECONNRESET);
		gate_open(&peer_done);
		harness_join(pid);
		CHECK(FAST(scif_close(conn)) == 0);
	}
	scif_close(listener);
}

/* A table full of lies, changing under the reader. */
static void lying_peer(void *arg)
{
	(void)arg;
	unsigned char *mine = raw_fixed_pages(CANARY_ADDR, CANARY_LEN, 0);
	struct window_table *t;
	int fd = raw_peer_with_window(mine, 4096, &t);
	const uint64_t rw = SCIF_PROT_READ | SCIF_PROT_WRITE;

	raw_publish(t, 1, 1ULL << 63, 4096, 0x1000, rw);   /* reserved */
	raw_publish(t, 2, 0x10000, ~0xfffULL, 0x1000, rw); /* wraps */
	raw_publish(t, 3, 0x20000, 4096, 0x1001, rw);	   /* unaligned */
	raw_publish(t, 4, 0x30000, 4096, 0x1000, 0xff);	   /* prot */
	raw_publish(t, 5, 0x40000, 4096, ~0xfffULL, rw);   /* addr wraps */
	atomic_store(&t->slots[6].seq, 1);		   /* never stable */
	atomic_store(&t->used_slots, 0xffffffffu);	   /* past the end */
	gate_open(&peer_ready);
	/* Keep rewriting a slot while the victim reads the table. */
	struct pollfd done = {peer_done.fds[0], POLLIN, 0};
	for (unsigned i = 0; i % 1024 || poll(&done, 1, 0) == 0; i++)
		raw_publish(t, 7, 0x50000 + (i & 1) * 0x1000, (i & 3) * 4096,
			    (uint64_t)(uintptr_t)mine, rw);
	CHECK(mine[0] == 0x77);
	close(fd);
}

static void case_lying_table(void)
{
	struct scif_portID peer;
	scif_epd_t listener = harness_listener(PORT);
	pid_t bystander_pid = start_bystander();
	gates_init();
	pid_t pid = harness_spawn(1, lying_peer, NULL);
	gate_wait(&peer_ready);
	scif_epd_t conn = accept_one(listener, &peer);
	char *buf = local_pages(4096, 0x77);

	CHECK(FAST(scif_vwriteto(conn, buf, 4096, 0, SCIF_RMA_SYNC)) == 0);
	const off_t liars[] = {0x10000, 0x20000, 0x30000, 0x40000, 0x1000};
	for (size_t i = 0; i < sizeof(liars) / sizeof(liars[0]); i++)
		CHECK_FAILS(
		    FAST(scif_vwriteto(conn, buf, 64, liars[i], SCIF_RMA_SYNC)),
		    ENXIO);
	CHECK_FAILS(
	    scif_fence_signal(conn, 0, 0, 0x30000, 1,
			      SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_REMOTE),
	    ENXIO);
	/* The moving slot: each RMA is whole or refused, never a crash. */
	for (int i = 0; i < 2000; i++) {
		int rc = scif_vwriteto(conn, buf, 64, 0x50000, SCIF_RMA_SYNC);
		CHECK(rc == 0 || errno == ENXIO || errno == ECONNRESET);
	}
	gate_open(&peer_done);
	harness_join(pid);
	finish_bystander(bystander_pid);
	scif_close(conn);
	scif_close(listener);
}

/* --- 4. nothing a peer does stalls us ---------------------------------------
 */

/* Pretends an RMA into our window never ends. */
static void pin_holder(void *arg)
{
	bool die = arg != NULL;
	struct window_table *t;
	unsigned char *mine = raw_fixed_pages(CANARY_ADDR, 4096, 0);
	int fd = raw_peer_with_window(mine, 4096, &t);
	const struct window_table *victim = raw_map_table(raw_recv_hello(fd));

	CHECK(victim != NULL);
	while (!atomic_load(&victim->slots[0].len))
		usleep(1000);
	atomic_store(&t->pins[0], 1);
	gate_open(&peer_ready);
	if (die)
		raise(SIGKILL);
	gate_wait(&peer_done);
}

static void case_held_pins(void)
{
	struct scif_portID peer;
	char *win = local_pages(4096, 0);
	const int rw = SCIF_PROT_READ | SCIF_PROT_WRITE;
	scif_epd_t listener = harness_listener(PORT);

	/* Unregister and close give up on a live peer within the bound ... */
	for (int round = 0; round < 2; round++) {
		gates_init();
		pid_t pid = harness_spawn(1, pin_holder, NULL);
		scif_epd_t conn = accept_one(listener, &peer);
		CHECK(scif_register(conn, win, 4096, 0, rw, SCIF_MAP_FIXED) ==
		      0);
		gate_wait(&peer_ready);
		if (round == 0) {
			CHECK(FAST(scif_unregister(conn, 0, 4096)) == 0);
			/* ... resetting a connection that broke the rules. */
			CHECK_FAILS(scif_send(conn, "x", 1, 0), ECONNRESET);
		}
		CHECK(FAST(scif_close(conn)) == 0);
		gate_open(&peer_done);
		harness_join(pid);
	}
	/* ... and a dead peer holds nothing. */
	gates_init();
	pid_t pid = harness_spawn(1, pin_holder, (void *)1);
	scif_epd_t conn = accept_one(listener, &peer);
	CHECK(scif_register(conn, win, 4096, 0, rw, SCIF_MAP_FIXED) == 0);
	gate_wait(&peer_ready);
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status));
	CHECK_FAILS(FAST(scif_unregister(conn, 0, 4096)), ECONNRESET);
	CHECK(FAST(scif_close(conn)) == 0);
	scif_close(listener);
}

/* Opens connections that never say hello, one every few milliseconds. */
static void silent_peer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		CHECK(raw_connect_as(1, (uint16_t)(PEER_PORT + i), 0, PORT) >=
		      0);
		usleep(5000);
	}
	gate_open(&peer_ready);
	gate_wait(&peer_done);
}

static void chatty_peer(void *arg)
{
	(void)arg;
	char reply[4] = {0};
	scif_epd_t epd = harness_connect(0, PORT);
	CHECK(scif_send(epd, "ping", 4, SCIF_SEND_BLOCK) == 4);
	CHECK(scif_recv(epd, reply, 4, SCIF_RECV_BLOCK) == 4);
	CHECK(memcmp(reply, "pong", 4) == 0);
	scif_close(epd);
}

static void case_silent_connections(void)
{
	struct scif_portID peer;
	scif_epd_t conns[32];
	int count = 0, silent = 0;
	bool answered = false;
	scif_epd_t listener = harness_listener(PORT);

	gates_init();
	pid_t quiet = harness_spawn(1, silent_peer, NULL);
	pid_t chatty = harness_spawn(1, chatty_peer, NULL);
	/* An I/O thread's loop: nothing here may wait for a silent peer. */
	for (int round = 0; round < 2000 && (!answered || count < 21);
	     round++) {
		struct pollfd pfd = {scif_get_fd(listener), POLLIN, 0};
		if (poll(&pfd, 1, 5) == 1 && count < 32 &&
		    FAST(scif_accept(listener, &peer, &conns[count], 0)) == 0)
			count++;
		for (int i = 0; i < count; i++) {
			char buf[4];
			int n = FAST(scif_recv(conns[i], buf, 4, 0));
			if (n == 4 && memcmp(buf, "ping", 4) == 0) {
				CHECK(scif_send(conns[i], "pong", 4,
						SCIF_SEND_BLOCK) == 4);
				answered = true;
			}
		}
	}
	CHECK(answered);
	CHECK(count == 21);
	harness_join(chatty);
	for (int i = 0; i < count; i++) {
		struct pollfd pfd = {scif_get_fd(conns[i]), POLLIN, 0};
		/* Silent ones are not readable: no spurious wake-ups. */
		if (poll(&pfd, 1, 0) == 0)
			silent++;
		scif_close(conns[i]);
	}
	CHECK(silent == 20);
	gate_open(&peer_done);
	harness_join(quiet);
	scif_close(listener);
}

/*
 * The fallback service serves every channel in a thread of its own: a
 * client that stalls in the middle of a request holds up nobody else, and
 * its channel is dropped after FALLBACK_TIMEOUT_MS.
 */
static struct harness_gate token_gate;

static void staller(void *arg)
{
	pid_t victim = (pid_t)(intptr_t)arg;
	unsigned char *mine = raw_fixed_pages(CANARY_ADDR, 4096, 0);
	int fd = raw_peer_with_window(mine, 4096, NULL);
	const struct window_table *vt = raw_map_table(raw_recv_hello(fd));
	int32_t status;

	gate_wait(&token_gate); /* the victim registered its window */
	int chan = raw_channel(victim, vt->token, &status);
	CHECK(chan >= 0 && status == 0);
	struct fallback_request req = {RMA_WRITE, 0, 0, 1 << 20};
	CHECK(send(chan, &req, sizeof(req), 0) == sizeof(req));
	CHECK(recv(chan, &status, sizeof(status), MSG_WAITALL) ==
		  sizeof(status) &&
	      status == 0);
	CHECK(send(chan, mine, 1000, 0) == 1000); /* and then nothing */
	gate_open(&peer_ready);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char byte;
	struct timeval tv = {.tv_sec = 10};
	setsockopt(chan, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK(recv(chan, &byte, 1, 0) == 0); /* dropped ... */
	double ms = raw_ms_since(&t0);
	CHECK(ms < 5.0 * FALLBACK_TIMEOUT_MS); /* ... in bounded time */
	gate_wait(&peer_done);
}

static void socket_writer(void *arg)
{
	(void)arg;
	setenv("SCIF_EMU_RMA_PATH", "socket", 1);
	scif_epd_t epd = harness_connect(0, PORT + 1);
	off_t off;
	char *buf = local_pages(65536, 0x42);

	CHECK(scif_recv(epd, &off, sizeof(off), SCIF_RECV_BLOCK) ==
	      sizeof(off));
	gate_wait(&peer_go);
	for (int i = 0; i < 20; i++)
		CHECK(FAST(scif_vwriteto(epd, buf, 65536, off,
					 SCIF_RMA_SYNC)) == 0);
	CHECK(strcmp(scif_emu_ep_rma_path(epd), "socket") == 0);
	CHECK(scif_send(epd, "d", 1, SCIF_SEND_BLOCK) == 1);
	scif_close(epd);
}

static void case_fallback_concurrent(void)
{
	struct scif_portID peer;
	const int rw = SCIF_PROT_READ | SCIF_PROT_WRITE;
	char *w1 = local_pages(1 << 20, 0), *w2 = local_pages(65536, 0);
	scif_epd_t listener = harness_listener(PORT);
	scif_epd_t listener2 = harness_listener(PORT + 1);

	gates_init();
	gate_init(&token_gate);
	pid_t stall = harness_spawn(1, staller, (void *)(intptr_t)getpid());
	scif_epd_t c1 = accept_one(listener, &peer);
	CHECK(scif_register(c1, w1, 1 << 20, 0, rw, SCIF_MAP_FIXED) == 0);
	gate_open(&token_gate);
	gate_wait(&peer_ready); /* a channel is now stuck mid-request */

	pid_t writer = harness_spawn(1, socket_writer, NULL);
	scif_epd_t c2 = -1;
	CHECK(scif_accept(listener2, &peer, &c2, SCIF_ACCEPT_SYNC) == 0);
	off_t off = scif_register(c2, w2, 65536, 0, rw, 0);
	CHECK(scif_send(c2, &off, sizeof(off), SCIF_SEND_BLOCK) == sizeof(off));
	gate_open(&peer_go);
	char done;
	CHECK(scif_recv(c2, &done, 1, SCIF_RECV_BLOCK) == 1);
	CHECK(w2[0] == 0x42 && w2[65535] == 0x42);
	harness_join(writer);
	gate_open(&peer_done);
	harness_join(stall);
	scif_close(c1);
	scif_close(c2);
	scif_close(listener);
	scif_close(listener2);
}

/*
 * libzmq closes descriptors with close(2). Such an endpoint, whose peer
 * still holds a count or was killed mid-RMA, is retired when its number
 * comes back, without waiting; its port is reclaimed the same way.
 */
static void case_closed_descriptor(void)
{
	struct scif_portID peer;
	char *win = local_pages(4096, 0);
	scif_epd_t listener = harness_listener(PORT);

	for (int round = 0; round < 2; round++) {
		gates_init();
		pid_t pid = harness_spawn(1, pin_holder, NULL);
		scif_epd_t conn = accept_one(listener, &peer);
		CHECK(scif_register(conn, win, 4096, 0,
				    SCIF_PROT_READ | SCIF_PROT_WRITE,
				    SCIF_MAP_FIXED) == 0);
		gate_wait(&peer_ready);
		CHECK(close(scif_get_fd(conn)) == 0);
		if (round == 1) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		/* The next accept reuses the number. */
		pid_t next = harness_spawn(1, chatty_peer, NULL);
		scif_epd_t again = accept_one(listener, &peer);
		CHECK(again == conn);
		char buf[4];
		CHECK(scif_recv(again, buf, 4, SCIF_RECV_BLOCK) == 4);
		CHECK(scif_send(again, "pong", 4, SCIF_SEND_BLOCK) == 4);
		harness_join(next);
		CHECK(FAST(scif_close(again)) == 0);
		if (round == 0) {
			gate_open(&peer_done);
			harness_join(pid);
		}
	}
	/* A listener closed with close(2): its port can be bound again. */
	CHECK(close(scif_get_fd(listener)) == 0);
	scif_epd_t rebound = scif_open();
	CHECK(FAST(scif_bind(rebound, PORT)) == PORT);
	scif_close(rebound);
}

/* --- 5. the fallback path ---------------------------------------------------
 */

/*
 * A process we are not connected to gets nothing from our service: no
 * share of channels, so not even an answer.
 */
static void stranger(void *arg)
{
	pid_t victim = (pid_t)(intptr_t)arg;
	for (uint64_t token = 0; token < 64; token++) {
		int32_t status = 0;
		CHECK(raw_channel(victim, token, &status) < 0);
	}
}

/* Our connected peer gets our windows only, with their protection. */
static void scoped_peer(void *arg)
{
	pid_t victim = (pid_t)(intptr_t)arg;
	unsigned char *mine = raw_fixed_pages(CANARY_ADDR, 4096, 0);
	int fd = raw_peer_with_window(mine, 4096, NULL);
	const struct window_table *vt = raw_map_table(raw_recv_hello(fd));
	int32_t status;
	char data[4096];

	gate_wait(&token_gate);
	/* Naming a connection that is not ours: refused. */
	int chan = raw_channel(victim, vt->token + 1, &status);
	CHECK(chan >= 0 && status == EACCES);
	close(chan);
	chan = raw_channel(victim, vt->token, &status);
	CHECK(chan >= 0 && status == 0);
	const struct {
		uint32_t dir;
		uint64_t offset;
		int32_t expect;
	} asks[] = {
	    {RMA_WRITE, 0x20000, EACCES}, /* read-only window */
	    {RMA_WRITE, 0x30000, ENXIO},  /* no window */
	    {RMA_READ, 0x1ff000, ENXIO},  /* straddles into nothing */
	    {RMA_WRITE, 0x10000, 0},	  /* ours to write */
	};
	memset(data, 0x3C, sizeof(data));
	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		struct fallback_request req = {asks[i].dir, 0, asks[i].offset,
					       i == 2 ? 8192 : 4096};
		CHECK(send(chan, &req, sizeof(req), 0) == sizeof(req));
		CHECK(recv(chan, &status, sizeof(status), MSG_WAITALL) ==
		      sizeof(status));
		CHECK(status == asks[i].expect);
		if (status == 0) {
			CHECK(send(chan, data, 4096, 0) == 4096);
			CHECK(recv(chan, &status, sizeof(status),
				   MSG_WAITALL) == sizeof(status) &&
			      status == 0);
		}
	}
	close(chan);
	gate_open(&peer_ready);
	gate_wait(&peer_done);
}

static void case_fallback_scope(void)
{
	struct scif_portID peer;
	const int rw = SCIF_PROT_READ | SCIF_PROT_WRITE;
	char *w1 = local_pages(4096, 0), *w2 = local_pages(4096, 0x11);
	scif_epd_t listener = harness_listener(PORT);
	pid_t bystander_pid = start_bystander();

	gates_init();
	gate_init(&token_gate);
	pid_t pid = harness_spawn(1, scoped_peer, (void *)(intptr_t)getpid());
	scif_epd_t conn = accept_one(listener, &peer);
	CHECK(scif_register(conn, w1, 4096, 0x10000, rw, SCIF_MAP_FIXED) ==
	      0x10000);
	CHECK(scif_register(conn, w2, 4096, 0x20000, SCIF_PROT_READ,
			    SCIF_MAP_FIXED) == 0x20000);
	harness_join(harness_spawn(1, stranger, (void *)(intptr_t)getpid()));
	gate_open(&token_gate);
	gate_wait(&peer_ready);
	CHECK(w1[0] == 0x3C && w1[4095] == 0x3C);
	CHECK(w2[0] == 0x11 && w2[4095] == 0x11);
	gate_open(&peer_done);
	harness_join(pid);
	finish_bystander(bystander_pid);
	scif_close(conn);
	scif_close(listener);
}

/*
 * Whoever listens where our peer's service should be must be our peer:
 * a squatter there gets not one byte of the payload.
 */
static int squat_pipe[2];

static void raw_listener_peer(void *arg)
{
	(void)arg;
	int memfd;
	unsigned char *mine = raw_fixed_pages(CANARY_ADDR, 65536, 0);
	raw_hold_port(1, PEER_PORT);
	int l = raw_bound_socket(1, PEER_PORT);
	CHECK(listen(l, 4) == 0);
	gate_open(&peer_ready);
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	struct window_table *t = raw_table(RAW_SEALS_ALL, &memfd);
	raw_publish(t, 0, 0, 65536, (uint64_t)(uintptr_t)mine,
		    SCIF_PROT_READ | SCIF_PROT_WRITE);
	CHECK(raw_send_hello(fd, WINDOW_TABLE_MAGIC, &memfd, 1) == 0);
	gate_open(&peer_ready);
	gate_wait(&peer_done);
	CHECK(mine[0] == 0); /* never written: there is no service */
}

static void service_squatter(void *arg)
{
	pid_t target = (pid_t)(intptr_t)arg;
	char dir[300];
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	snprintf(dir, sizeof(dir), "%s/rma", raw_domain_dir());
	mkdir(dir, 0700);
	raw_address(&addr, "%s/%d", dir, (int)target);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(l, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(listen(l, 4) == 0);
	gate_open(&peer_ready);
	long got = 0;
	struct pollfd pfd = {l, POLLIN, 0};
	while (poll(&pfd, 1, 1000) == 1) {
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		char buf[4096];
		ssize_t n;
		struct timeval tv = {.tv_sec = 1};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
			got += n;
		close(c);
	}
	CHECK(write(squat_pipe[1], &got, sizeof(got)) == sizeof(got));
}

static void case_fallback_impostor(void)
{
	struct scif_portID dst = {1, PEER_PORT};
	long got = -1;

	setenv("SCIF_EMU_RMA_PATH", "socket", 1);
	scif_epd_t epd = scif_open(); /* the domain exists from now on */
	CHECK(pipe(squat_pipe) == 0);
	gates_init();
	pid_t peer = harness_spawn(1, raw_listener_peer, NULL);
	gate_wait(&peer_ready);
	pid_t squat =
	    harness_spawn(0, service_squatter, (void *)(intptr_t)peer);
	gate_wait(&peer_ready);
	CHECK(scif_connect(epd, &dst) >= SCIF_PORT_RSVD);
	gate_wait(&peer_ready); /* its hello is on the way */
	char *secret = local_pages(65536, 0x5E);
	CHECK_FAILS(FAST(scif_vwriteto(epd, secret, 65536, 0, SCIF_RMA_SYNC)),
		    ECONNRESET);
	harness_join(squat);
	CHECK(read(squat_pipe[0], &got, sizeof(got)) == sizeof(got));
	CHECK(got == 0);
	gate_open(&peer_done);
	harness_join(peer);
	scif_close(epd);
}

/*
 * The path is chosen per peer: one the kernel keeps us out of (another
 * user, or a non-dumpable process) goes through its service, while
 * another peer of the same process keeps process_vm.
 */
static void window_owner(void *arg)
{
	uid_t uid = (uid_t)(intptr_t)arg;
	if (geteuid() == 0)
		raw_become(uid);
	else if (uid == OTHER_NOBODY)
		prctl(PR_SET_DUMPABLE, 0); /* no ptrace, no process_vm */
	scif_epd_t epd = harness_connect(0, PORT);
	char *win = local_pages(65536, 0);
	off_t off = scif_register(epd, win, 65536, 0,
				  SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	CHECK(scif_send(epd, &off, sizeof(off), SCIF_SEND_BLOCK) ==
	      sizeof(off));
	char byte;
	CHECK(scif_recv(epd, &byte, 1, SCIF_RECV_BLOCK) == 1);
	CHECK(win[0] == byte && win[65535] == byte);
	scif_close(epd);
}

static void per_peer_victim(void *arg)
{
	(void)arg;
	if (geteuid() == 0)
		raw_become(NOBODY);
	struct scif_portID peer;
	scif_epd_t listener = harness_listener(PORT), conns[2];
	char *buf = local_pages(65536, 0);
	gate_open(&peer_ready);
	for (int i = 0; i < 2; i++) {
		off_t off;
		CHECK(scif_accept(listener, &peer, &conns[i],
				  SCIF_ACCEPT_SYNC) == 0);
		CHECK(scif_recv(conns[i], &off, sizeof(off), SCIF_RECV_BLOCK) ==
		      sizeof(off));
		char byte = (char)('a' + i);
		memset(buf, byte, 65536);
		CHECK(scif_vwriteto(conns[i], buf, 65536, off, SCIF_RMA_SYNC) ==
		      0);
		CHECK(scif_send(conns[i], &byte, 1, SCIF_SEND_BLOCK) == 1);
	}
	/* The first peer shares our user: one copy, no help. */
	CHECK(strcmp(scif_emu_ep_rma_path(conns[0]), "process_vm") == 0);
	CHECK(strcmp(scif_emu_ep_rma_path(conns[1]), "socket") == 0);
	for (int i = 0; i < 2; i++) {
		char byte;
		CHECK_FAILS(scif_recv(conns[i], &byte, 1, SCIF_RECV_BLOCK),
			    ECONNRESET);
		scif_close(conns[i]);
	}
	scif_close(listener);
}

static void case_fallback_per_peer(void)
{
	if (geteuid() == 0)
		use_shared_domain();
	gates_init();
	pid_t victim = harness_spawn(0, per_peer_victim, NULL);
	gate_wait(&peer_ready);
	pid_t same = harness_spawn(1, window_owner, (void *)(intptr_t)NOBODY);
	harness_join(same);
	pid_t other =
	    harness_spawn(1, window_owner, (void *)(intptr_t)OTHER_NOBODY);
	harness_join(other);
	harness_join(victim);
}

/* --- 6. resource limits and malformed hellos --------------------------------
 */

static void waiting_peer(void *arg)
{
	(void)arg;
	scif_epd_t epd = harness_connect(0, PORT);
	gate_open(&peer_ready);
	char byte;
	CHECK(scif_recv(epd, &byte, 1, SCIF_RECV_BLOCK) == 1 && byte == 'z');
	scif_close(epd);
}

/* Descriptors open here, but for the pipes the test's gates use. */
static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++) {
		char link[64], target[64] = "";
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if (readlink(link, target, sizeof(target) - 1) > 0 &&
		    strncmp(target, "pipe:", 5) != 0)
			n++;
	}
	return n;
}

static void case_descriptor_limit(void)
{
	struct scif_portID peer;
	scif_epd_t conn = -1;
	struct rlimit saved, tight;
	int fillers[1024], nfill = 0;
	scif_epd_t listener = harness_listener(PORT);

	gates_init();
	pid_t pid = harness_spawn(1, waiting_peer, NULL);
	gate_wait(&peer_ready);
	/* Use up every descriptor number below a tight limit. */
	getrlimit(RLIMIT_NOFILE, &saved);
	int highest = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			highest = fd;
	tight = saved;
	tight.rlim_cur = (rlim_t)highest + 1;
	CHECK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
	while (nfill < 1024 &&
	       (fillers[nfill] = open("/dev/null", O_RDONLY)) >= 0)
		nfill++;
	CHECK(nfill < 1024 && errno == EMFILE);
	CHECK_FAILS(FAST(scif_accept(listener, &peer, &conn, 0)), EMFILE);
	CHECK_FAILS(FAST(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC)),
		    EMFILE);
	CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
	while (nfill > 0)
		close(fillers[--nfill]);
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	CHECK(scif_send(conn, "z", 1, SCIF_SEND_BLOCK) == 1);
	harness_join(pid);
	scif_close(conn);
	scif_close(listener);
}

/* Hellos that are late, partial, without a table or with far too much. */
static void odd_hello_peer(void *arg)
{
	int which = (int)(intptr_t)arg, memfd;
	int fd = raw_connect_as(1, (uint16_t)(PEER_PORT + which), 0, PORT);
	raw_table(RAW_SEALS_ALL, &memfd);
	uint32_t hello[2] = {WINDOW_TABLE_MAGIC, WINDOW_TABLE_VERSION};

	switch (which) {
	case 0: /* half now, the rest (with the table) later */
		CHECK(send(fd, hello, 4, 0) == 4);
		gate_open(&peer_ready);
		gate_wait(&peer_go);
		CHECK(raw_send_fds(fd, &hello[1], 4, &memfd, 1) == 0);
		break;
	case 1: /* no table */
		raw_send_hello(fd, WINDOW_TABLE_MAGIC, NULL, 0);
		break;
	case 2: { /* 200 descriptors */
		int many[200];
		for (int i = 0; i < 200; i++)
			many[i] = memfd;
		raw_send_hello(fd, WINDOW_TABLE_MAGIC, many, 200);
		break;
	}
	case 3: /* not our protocol */
		raw_send_hello(fd, 0xdeadbeef, &memfd, 1);
		break;
	case 4: /* gone before saying anything */
		close(fd);
		break;
	}
	if (which != 0)
		gate_open(&peer_ready);
	gate_wait(&peer_done);
}

static void case_odd_hellos(void)
{
	struct scif_portID peer;
	char buf[8];
	scif_epd_t listener = harness_listener(PORT);
	int before = open_fds();

	/* Half a hello: no data, no spin; the rest completes it. */
	gates_init();
	pid_t pid = harness_spawn(1, odd_hello_peer, (void *)0);
	gate_wait(&peer_ready);
	scif_epd_t conn = accept_one(listener, &peer);
	CHECK(FAST(scif_recv(conn, buf, 1, 0)) == 0);
	struct pollfd pfd = {scif_get_fd(conn), POLLIN, 0};
	CHECK(poll(&pfd, 1, 50) == 0); /* nothing left to wake us up */
	gate_open(&peer_go);
	CHECK(poll(&pfd, 1, 5000) == 1);
	CHECK(FAST(scif_recv(conn, buf, 1, 0)) == 0); /* hello, no data */
	CHECK(FAST(scif_vwriteto(conn, buf, 1, 0, SCIF_RMA_SYNC)) == -1 &&
	      errno == ENXIO);
	gate_open(&peer_done);
	harness_join(pid);
	scif_close(conn);

	for (int which = 1; which <= 4; which++) {
		gates_init();
		pid = harness_spawn(1, odd_hello_peer, (void *)(intptr_t)which);
		gate_wait(&peer_ready);
		conn = accept_one(listener, &peer);
		CHECK_FAILS(FAST(scif_recv(conn, buf, 1, 0)), ECONNRESET);
		gate_open(&peer_done);
		harness_join(pid);
		scif_close(conn);
	}
	/* Nothing the peers sent stayed open here. */
	CHECK(open_fds() == before);
	scif_close(listener);
}

/* --- a member of a shared domain injects no faults ----------------------- */

/* Root acting as node 0 of a shared domain: what taking node 0 down hits. */
static void node_member(void *arg)
{
	(void)arg;
	uint16_t nodes[4], self;
	scif_epd_t epd = scif_open();

	CHECK(epd >= 0);
	gate_open(&peer_ready);
	gate_wait(&peer_done);
	CHECK(scif_get_nodeIDs(nodes, 4, &self) == 2); /* node 0 still up */
	scif_close(epd);
}

/* Another user, a member too: the machine is not its to reset. */
static void fault_injector(void *arg)
{
	(void)arg;
	raw_become(NOBODY);
	CHECK_FAILS(scif_emu_node_offline(0), EPERM);
	CHECK_FAILS(scif_emu_node_online(0), EPERM);
}

static void case_member_fault_injection(void)
{
	need_root();
	use_shared_domain();
	gates_init();
	pid_t member = harness_spawn(0, node_member, NULL);
	gate_wait(&peer_ready);
	harness_join(harness_spawn(1, fault_injector, NULL));
	gate_open(&peer_done);
	harness_join(member);
}

/* --- a member of a shared domain chmods no file of anyone else's ------- */

/* A file of root's that no member may read, and a flag ending the race. */
static char chmod_target[64];
static volatile int *race_over;

/*
 * Nobody, a member: makes node 0's directory its own, then keeps renaming
 * a symlink to root's file over the socket file of the victim's port, so
 * that it lands between the victim's bind(2) and its chmod.
 */
static void socket_swapper(void *arg)
{
	(void)arg;
	char node_dir[300], sock[320], link_tmp[320];

	raw_become(NOBODY);
	snprintf(node_dir, sizeof(node_dir), "%s/0", raw_domain_dir());
	CHECK(mkdir(node_dir, 0777) == 0 && chmod(node_dir, 0777) == 0);
	snprintf(sock, sizeof(sock), "%s/%d", node_dir, PORT);
	snprintf(link_tmp, sizeof(link_tmp), "%s/swap", node_dir);
	gate_open(&peer_ready);
	while (!*race_over) {
		symlink(chmod_target, link_tmp);
		rename(link_tmp, sock);
	}
}

static void case_member_chmod_race(void)
{
	struct stat st;
	int binds = 0, rounds = 0;

	need_root();
	use_shared_domain();
	race_over = mmap(NULL, sizeof(*race_over), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(race_over != MAP_FAILED);
	snprintf(chmod_target, sizeof(chmod_target), "/tmp/scif-target-XXXXXX");
	int fd = mkstemp(chmod_target);
	CHECK(fd >= 0 && fchmod(fd, 0600) == 0);
	close(fd);
	gates_init();
	pid_t swapper = harness_spawn(0, socket_swapper, NULL);
	gate_wait(&peer_ready);
	/*
	 * Binding until the race was lost once would be: within 1000 binds
	 * before the fix; 5000 binds or 3 s at most.
	 */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rounds < 5000 && raw_ms_since(&t0) < 3000 &&
	       stat(chmod_target, &st) == 0 && (st.st_mode & 07777) == 0600) {
		scif_epd_t epd = scif_open();
		CHECK(epd >= 0);
		binds += scif_bind(epd, PORT) == PORT;
		scif_close(epd);
		rounds++;
	}
	*race_over = 1;
	harness_join(swapper);
	CHECK(stat(chmod_target, &st) == 0 && (st.st_mode & 07777) == 0600);
	printf("    %d binds of %d attempts against the swapper\n", binds,
	       rounds);
	unlink(chmod_target);
}

/* --- a member of a shared domain passes for no bound port -------------- */

static struct harness_gate victim_bound, impostor_ready, client_done;

/*
 * Nobody, a member who came first: made the domain's lock file and node
 * 0's directory, so both are its own. Once root listens on PORT, it puts a
 * fresh lock file in place, holds PORT's lock there and listens on PORT's
 * socket file instead of root.
 */
static void port_impostor(void *arg)
{
	(void)arg;
	char path[300], node_dir[300], sock[320];

	raw_become(NOBODY);
	snprintf(path, sizeof(path), "%s/locks", raw_domain_dir());
	snprintf(node_dir, sizeof(node_dir), "%s/0", raw_domain_dir());
	snprintf(sock, sizeof(sock), "%s/%d", node_dir, PORT);
	int lockfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	CHECK(lockfd >= 0 && fchmod(lockfd, 0666) == 0);
	CHECK(mkdir(node_dir, 0777) == 0 && chmod(node_dir, 0777) == 0);
	gate_open(&peer_ready);
	gate_wait(&victim_bound);
	CHECK(unlink(path) == 0);
	close(lockfd);
	CHECK(raw_hold_port(0, PORT) >= 0); /* a new lock file: still open */
	unlink(sock);
	struct sockaddr_un addr;
	raw_address(&addr, "%s", sock);
	int fake = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(fake, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(chmod(sock, 0666) == 0 && listen(fake, 4) == 0);
	gate_open(&impostor_ready);
	gate_wait(&client_done);
	/* Nobody's data came here. */
	struct pollfd pending = {fake, POLLIN, 0};
	CHECK(poll(&pending, 1, 0) == 0);
}

/* Root's client, forked before the domain was opened: opens it afresh. */
static void impostor_client(void *arg)
{
	(void)arg;
	struct scif_portID dst = {0, PORT};

	gate_wait(&impostor_ready);
	scif_epd_t epd = scif_open();
	int rc = epd >= 0 ? scif_connect(epd, &dst) : -1, err = errno;

	if (rc >= 0) {
		CHECK(scif_send(epd, "secret", 6, SCIF_SEND_BLOCK) == 6);
	} else {
		/* Refused: a domain whose lock file another member made. */
		if (err != EACCES)
			fprintf(stderr, "    refused with %s\n", strerror(err));
		CHECK(err == EACCES);
	}
	if (epd >= 0)
		scif_close(epd);
}

static void case_port_impostor(void)
{
	need_root();
	use_shared_dir(); /* the member comes before its owner set it up */
	gates_init();
	gate_init(&victim_bound);
	gate_init(&impostor_ready);
	gate_init(&client_done);
	pid_t impostor = harness_spawn(0, port_impostor, NULL);
	pid_t client = harness_spawn(1, impostor_client, NULL);
	gate_wait(&peer_ready);
	/* Root's listener: refused a lock file another member made. */
	scif_epd_t listener = scif_open();
	if (listener >= 0) {
		CHECK(scif_bind(listener, PORT) == PORT);
		CHECK(scif_listen(listener, 4) == 0);
	} else {
		CHECK(errno == EACCES);
	}
	gate_open(&victim_bound);
	harness_join(client);
	gate_open(&client_done);
	harness_join(impostor);
	if (listener >= 0)
		scif_close(listener);
}

/* --- an absolute domain path is used only when it is safe -------------- */

static char other_dir[64];

/* Nobody sets up a shared domain of its own, as its owner would. */
static void dir_maker(void *arg)
{
	(void)arg;
	uint16_t self;

	raw_become(NOBODY);
	CHECK(mkdir(other_dir, 0700) == 0 && chmod(other_dir, 01777) == 0);
	setenv("SCIF_EMU_DOMAIN", other_dir, 1);
	CHECK(scif_get_nodeIDs(NULL, 0, &self) >= 1);
}

/* SCIF_EMU_DOMAIN=dir: scif_open and scif_get_nodeIDs fail with err. */
static void domain_refused(const char *dir, int err)
{
	uint16_t self;

	setenv("SCIF_EMU_DOMAIN", dir, 1);
	CHECK_FAILS(scif_open(), err);
	CHECK_FAILS(scif_get_nodeIDs(NULL, 0, &self), err);
}

static void domain_accepted(const char *dir)
{
	setenv("SCIF_EMU_DOMAIN", dir, 1);
	scif_epd_t epd = scif_open();
	CHECK(epd >= 0 && scif_bind(epd, PORT) == PORT);
	scif_close(epd);
}

/* Our own directory: not through a symlink, nor open to all unless sticky. */
static void own_directories(void)
{
	char dir[64], link[80];
	struct stat st;

	snprintf(dir, sizeof(dir), "/tmp/scif-abs-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	domain_accepted(dir);
	snprintf(link, sizeof(link), "%s/0", dir);
	CHECK(rmdir(link) == 0); /* node 0's, made 0700 like the domain */
	CHECK(chmod(dir, 0777) == 0);
	domain_refused(dir, EPERM);
	CHECK(chmod(dir, 01777) == 0);
	domain_accepted(dir);
	/* What we create in it is sticky like it. */
	CHECK(stat(link, &st) == 0 && (st.st_mode & 07777) == 01777);
	/* A symlink to it is not it: whoever made the link chose the place. */
	snprintf(link, sizeof(link), "%s-link", dir);
	CHECK(symlink(dir, link) == 0);
	domain_refused(link, ELOOP);
	unlink(link);
	harness_remove_domain(dir);
}

/* Another user's directory, even one set up as a shared domain. */
static void other_users_directory(void)
{
	snprintf(other_dir, sizeof(other_dir), "/tmp/scif-nobody-%d",
		 (int)getpid());
	harness_join(harness_spawn(0, dir_maker, NULL));
	domain_refused(other_dir, EPERM);
	harness_remove_domain(other_dir);
}

static void case_absolute_domains(void)
{
	char own[256];

	snprintf(own, sizeof(own), "%s", getenv("SCIF_EMU_DOMAIN"));
	own_directories();
	if (geteuid() == 0)
		other_users_directory();
	else
		printf("SKIPPED another user's directory: needs root\n");
	setenv("SCIF_EMU_DOMAIN", own, 1); /* for the harness to remove */
}

/* --- no peer takes another's share of the fallback service -------------- */

#define HOG_CHANNELS 100

/* Channels of fds still open at the other end: no end of stream yet. */
static int open_channels(const int *fds, int count)
{
	int open = 0;

	for (int i = 0; i < count; i++) {
		struct pollfd pfd = {fds[i], POLLIN, 0};
		open += fds[i] >= 0 && poll(&pfd, 1, 0) == 0;
	}
	return open;
}

/*
 * A connected peer that opens HOG_CHANNELS channels for its one connection
 * and holds them idle: it keeps the newest (and one being opened) at most,
 * and not for longer than FALLBACK_IDLE_MS.
 */
static void channel_hog(void *arg)
{
	pid_t victim = (pid_t)(intptr_t)arg;
	unsigned char *mine = raw_fixed_pages(CANARY_ADDR, 4096, 0);
	int fd = raw_peer_with_window(mine, 4096, NULL);
	const struct window_table *vt = raw_map_table(raw_recv_hello(fd));
	int32_t status;
	int chans[HOG_CHANNELS];

	gate_wait(&token_gate); /* the victim's service runs */
	for (int i = 0; i < HOG_CHANNELS; i++)
		chans[i] = raw_channel(victim, vt->token, &status);
	gate_open(&peer_ready);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (open_channels(chans, HOG_CHANNELS) > 2 &&
	       raw_ms_since(&t0) < 1000)
		usleep(10000);
	CHECK(open_channels(chans, HOG_CHANNELS) <= 2);
	while (open_channels(chans, HOG_CHANNELS) > 0 &&
	       raw_ms_since(&t0) < 3 * FALLBACK_IDLE_MS)
		usleep(10000);
	CHECK(open_channels(chans, HOG_CHANNELS) == 0); /* idle: closed */
	gate_wait(&peer_done);
}

/* A member with no connection: silent connections to the service. */
static void silent_member(void *arg)
{
	pid_t victim = (pid_t)(intptr_t)arg;
	struct sockaddr_un addr;

	raw_address(&addr, "%s/rma/%d", raw_domain_dir(), (int)victim);
	for (int i = 0; i < HOG_CHANNELS; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	}
	gate_open(&peer_go);
	gate_wait(&peer_done);
}

/* An honest peer whose RMAs go through the victim's service. */
static void starved_reader(void *arg)
{
	(void)arg;
	scif_epd_t epd = harness_connect(0, PORT);
	off_t off;
	char *buf = local_pages(65536, 0);

	CHECK(scif_recv(epd, &off, sizeof(off), SCIF_RECV_BLOCK) ==
	      sizeof(off));
	CHECK(scif_vreadfrom(epd, buf, 65536, off, SCIF_RMA_SYNC) == 0);
	CHECK(buf[0] == 0x3c && buf[65535] == 0x3c);
	CHECK(strcmp(scif_emu_ep_rma_path(epd), "socket") == 0);
	/* Its channel closed for idleness meanwhile: a new one serves. */
	usleep((FALLBACK_IDLE_MS + 500) * 1000);
	memset(buf, 0, 65536);
	CHECK(scif_vreadfrom(epd, buf, 65536, off, SCIF_RMA_SYNC) == 0);
	CHECK(buf[0] == 0x3c && buf[65535] == 0x3c);
	scif_close(epd);
}

static void case_fallback_fair_share(void)
{
	struct scif_portID peer;

	setenv("SCIF_EMU_RMA_PATH", "socket", 1);
	gates_init();
	gate_init(&token_gate);
	scif_epd_t listener = harness_listener(PORT);
	pid_t hog = harness_spawn(1, channel_hog, (void *)(intptr_t)getpid());
	scif_epd_t hog_conn = accept_one(listener, &peer);
	pid_t reader = harness_spawn(1, starved_reader, NULL);
	scif_epd_t conn = accept_one(listener, &peer);
	char *win = local_pages(65536, 0x3c);
	off_t off = scif_register(conn, win, 65536, 0, SCIF_PROT_READ, 0);
	CHECK(off >= 0);
	gate_open(&token_gate);
	gate_wait(&peer_ready);
	pid_t member =
	    harness_spawn(1, silent_member, (void *)(intptr_t)getpid());
	gate_wait(&peer_go);
	/* Every channel the two could take is taken: now the honest peer. */
	CHECK(scif_send(conn, &off, sizeof(off), SCIF_SEND_BLOCK) ==
	      sizeof(off));
	harness_join(reader);
	gate_open(&peer_done);
	gate_open(&peer_done);
	harness_join(hog);
	harness_join(member);
	scif_close(conn);
	scif_close(hog_conn);
	scif_close(listener);
}

/* --- dispatch
 * ------------------------------------------------------------------ */

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
    {"write_target", case_write_target},
    {"write_target_other_user", case_write_target_other_user},
    {"other_user_isolated", case_other_user_isolated},
    {"privileged_squat", case_privileged_squat},
    {"claims_checked", case_claims_checked},
    {"bad_tables", case_bad_tables},
    {"lying_table", case_lying_table},
    {"held_pins", case_held_pins},
    {"silent_connections", case_silent_connections},
    {"fallback_concurrent", case_fallback_concurrent},
    {"closed_descriptor", case_closed_descriptor},
    {"fallback_scope", case_fallback_scope},
    {"fallback_impostor", case_fallback_impostor},
    {"fallback_per_peer", case_fallback_per_peer},
    {"descriptor_limit", case_descriptor_limit},
    {"odd_hellos", case_odd_hellos},
    {"member_fault_injection", case_member_fault_injection},
    {"member_chmod_race", case_member_chmod_race},
    {"port_impostor", case_port_impostor},
    {"absolute_domains", case_absolute_domains},
    {"fallback_fair_share", case_fallback_fair_share},
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc == 2 && i < sizeof(cases) / sizeof(cases[0]);
	     i++) {
		if (strcmp(argv[1], cases[i].name) != 0)
			continue;
		char name[64];
		snprintf(name, sizeof(name), "hostile-%s", cases[i].name);
		harness_init(name, 60);
		cases[i].run();
		if (shared_dir[0])
			harness_remove_domain(shared_dir);
		return harness_finish();
	}
	fprintf(stderr, "usage: %s CASE\n", argv[0]);
	return 2;
}
