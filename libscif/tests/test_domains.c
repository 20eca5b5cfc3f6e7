/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Two emulated machines (domains) side by side: the same node/port can be
 * bound in both, and neither can reach the other's listeners. A domain is
 * removed only once nobody uses it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "scif_emu.h"

static pid_t test_pid;

static void use_domain(char which)
{
	char name[64];
	snprintf(name, sizeof(name), "t-domains-%d-%c", (int)test_pid, which);
	setenv("SCIF_EMU_DOMAIN", name, 1);
}

static struct harness_gate bound_a, bound_b, done;

static void machine(void *arg)
{
	char which = (char)(intptr_t)arg;
	use_domain(which);
	scif_epd_t listener = harness_listener(9900);
	gate_open(which == 'a' ? &bound_a : &bound_b);

	/* A peer in our own domain gets through ... */
	scif_epd_t self = harness_connect(0, 9900);
	struct scif_portID peer;
	scif_epd_t conn;
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	char tag = which;
	CHECK(scif_send(self, &tag, 1, SCIF_SEND_BLOCK) == 1);
	tag = 0;
	CHECK(scif_recv(conn, &tag, 1, SCIF_RECV_BLOCK) == 1 && tag == which);
	gate_wait(&done);
	scif_close(conn);
	scif_close(self);
	scif_close(listener);
}

int main(void)
{
	harness_init("domains", 30);
	test_pid = getpid();
	gate_init(&bound_a);
	gate_init(&bound_b);
	gate_init(&done);
	pid_t a = harness_spawn(0, machine, (void *)(intptr_t)'a');
	pid_t b = harness_spawn(0, machine, (void *)(intptr_t)'b');
	gate_wait(&bound_a);
	gate_wait(&bound_b);

	/* ... while a third domain sees nobody on node 0 port 9900. */
	use_domain('c');
	struct scif_portID dst = {.node = 0, .port = 9900};
	scif_epd_t epd = scif_open();
	CHECK_FAILS(scif_connect(epd, &dst), ECONNREFUSED);
	scif_close(epd);
	/* Binding it in the third domain works too. */
	epd = scif_open();
	CHECK(scif_bind(epd, 9900) == 9900);
	scif_close(epd);

	/* In use: by the children (members, a port bound), by this process. */
	char name[64], path[128];
	struct stat st;
	snprintf(name, sizeof(name), "t-domains-%d-a", (int)test_pid);
	snprintf(path, sizeof(path), "/tmp/scif-emu-%lu/%s",
		 (unsigned long)geteuid(), name);
	CHECK_FAILS(scif_emu_remove_domain(name), EBUSY);
	CHECK(stat(path, &st) == 0);
	epd = scif_open(); /* a member of domain c, as a program would be */
	CHECK_FAILS(scif_emu_remove_domain(getenv("SCIF_EMU_DOMAIN")), EBUSY);
	scif_close(epd);
	CHECK_FAILS(scif_emu_remove_domain("a/b"), EINVAL);
	CHECK_FAILS(scif_emu_remove_domain(NULL), EINVAL);

	gate_open(&done);
	gate_open(&done);
	harness_join(a);
	harness_join(b);
	/* Nobody left: each goes, files and all, once. */
	for (char which = 'a'; which <= 'b'; which++) {
		use_domain(which);
		CHECK(scif_emu_remove_domain(getenv("SCIF_EMU_DOMAIN")) == 0);
		CHECK_FAILS(scif_emu_remove_domain(getenv("SCIF_EMU_DOMAIN")),
			    ENOENT);
	}
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	use_domain('c');
	return harness_finish();
}
