/* SPDX-License-Identifier: MPL-2.0 */
/*
 * What a test driver needs to start peers on other nodes without knowing
 * the emulation's variables. scif_emu_node_environment(): a program run
 * (exec) with the entry it gives acts as that node of our machine, which
 * the node id scif_accept reports shows; a node the machine does not have
 * is EINVAL, a short buffer ERANGE. scif_emu_private_domain(): a fresh
 * machine of our own, where nothing of the previous one is seen and a
 * node taken offline stays online in the previous one; a second call
 * replaces (and removes) the first, and the machine's directory is gone
 * once its creator has exited, not when a forked child does.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "scif_emu.h"

#define PORT 9700

/* The exec'd program: connects to the parent's listener and says its node. */
static int connecting_node(void)
{
	uint16_t self = 0xffff;
	struct scif_portID dst = {.node = 0, .port = PORT};
	scif_epd_t epd = scif_open();

	CHECK(scif_get_nodeIDs(NULL, 0, &self) >= 1);
	CHECK(scif_connect(epd, &dst) >= 0);
	CHECK(scif_send(epd, &self, sizeof(self), SCIF_SEND_BLOCK) ==
	      (int)sizeof(self));
	scif_close(epd);
	return harness_failures ? 1 : 0;
}

static void test_node_environment(void)
{
	char entry[64];
	scif_epd_t listener = harness_listener(PORT);

	CHECK(scif_emu_node_environment(1, entry, sizeof(entry)) == 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		/* Our environment (the domain) with the entry on top. */
		char *eq = strchr(entry, '=');
		*eq = '\0';
		setenv(entry, eq + 1, 1);
		execl("/proc/self/exe", "test_launch", "connecting-node",
		      (char *)NULL);
		_exit(127);
	}
	struct scif_portID peer;
	scif_epd_t conn;
	uint16_t said = 0xffff;
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	CHECK(peer.node == 1);
	CHECK(scif_recv(conn, &said, sizeof(said), SCIF_RECV_BLOCK) ==
	      (int)sizeof(said));
	CHECK(said == 1);
	harness_join(pid);
	scif_close(conn);
	scif_close(listener);

	CHECK_FAILS(scif_emu_node_environment(2, entry, sizeof(entry)), EINVAL);
	CHECK_FAILS(scif_emu_node_environment(1, entry, 4), ERANGE);
}

static int domain_exists(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "/tmp/scif-emu-%lu/%s",
		 (unsigned long)geteuid(), name);
	return stat(path, &st) == 0;
}

static void test_private_domain(void)
{
	char shared[64], first[64];
	scif_epd_t listener = harness_listener(PORT);

	snprintf(shared, sizeof(shared), "%s", getenv("SCIF_EMU_DOMAIN"));
	CHECK(scif_emu_private_domain() == 0);
	snprintf(first, sizeof(first), "%s", getenv("SCIF_EMU_DOMAIN"));
	CHECK(strcmp(shared, first) != 0 && domain_exists(first));
	struct scif_portID dst = {.node = 0, .port = PORT};
	scif_epd_t epd = scif_open();
	CHECK_FAILS(scif_connect(epd, &dst), ECONNREFUSED);
	scif_close(epd);
	uint16_t nodes[2], self;
	CHECK(scif_emu_node_offline(1) == 0);
	CHECK(scif_get_nodeIDs(nodes, 2, &self) == 1);

	/* A second private machine replaces the first. */
	CHECK(scif_emu_private_domain() == 0);
	CHECK(!domain_exists(first));
	CHECK(scif_get_nodeIDs(nodes, 2, &self) == 2);

	/* The shared machine's node never went offline. */
	setenv("SCIF_EMU_DOMAIN", shared, 1);
	CHECK(scif_get_nodeIDs(nodes, 2, &self) == 2);
	scif_close(listener);

	/* Removed when its creator exits, not when a forked child does. */
	int report[2];
	CHECK(pipe(report) == 0);
	fflush(NULL);
	pid_t creator = fork();
	if (creator == 0) {
		int ok = scif_emu_private_domain() == 0;
		const char *name = getenv("SCIF_EMU_DOMAIN");
		pid_t child = fork();
		if (child == 0)
			exit(0);
		ok = ok && waitpid(child, NULL, 0) == child &&
		     domain_exists(name);
		ok = ok && write(report[1], name, strlen(name) + 1) > 0;
		exit(ok ? 0 : 1);
	}
	char name[64] = {0};
	close(report[1]);
	CHECK(read(report[0], name, sizeof(name) - 1) > 0);
	harness_join(creator);
	CHECK(name[0] && !domain_exists(name));
	close(report[0]);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "connecting-node") == 0)
		return connecting_node();
	harness_init("launch", 30);
	test_node_environment();
	test_private_domain();
	return harness_finish();
}
