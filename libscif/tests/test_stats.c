/* SPDX-License-Identifier: MPL-2.0 */
/*
 * SCIF_EMU_STATS: with the variable set when a process starts, each process
 * appends one line per call it made when it exits (a fork()ed child its
 * own calls only), with the counts and bytes of what it did; without it,
 * nothing is written. The test runs itself again with the variable set,
 * as a program using the library would be started.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PORT  9750
#define BYTES 8192

/* Node 1: registers a window, tells its offset, waits for the writes. */
static void window_owner(void *unused)
{
	(void)unused;
	void *window = mmap(NULL, BYTES, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	scif_epd_t epd = harness_connect(0, PORT);
	off_t offset = scif_register(epd, window, BYTES, 0, SCIF_PROT_WRITE, 0);
	char done;

	CHECK(offset != SCIF_REGISTER_FAILED);
	CHECK(scif_send(epd, &offset, sizeof(offset), SCIF_SEND_BLOCK) ==
	      (int)sizeof(offset));
	CHECK(scif_recv(epd, &done, 1, SCIF_RECV_BLOCK) == 1);
	scif_close(epd);
	fflush(NULL);
	exit(harness_failures ? 1 : 0); /* exit(3): the report is written */
}

/* Node 0: two synchronous writes and a queued one, fenced. */
static int writer(void)
{
	static unsigned char data[BYTES];
	scif_epd_t listener = harness_listener(PORT);
	pid_t child = harness_spawn(1, window_owner, NULL);
	struct scif_portID peer;
	scif_epd_t epd;
	off_t offset;
	int mark;
	char done = 1;

	CHECK(scif_accept(listener, &peer, &epd, SCIF_ACCEPT_SYNC) == 0);
	CHECK(scif_recv(epd, &offset, sizeof(offset), SCIF_RECV_BLOCK) ==
	      (int)sizeof(offset));
	CHECK(scif_vwriteto(epd, data, BYTES, offset, SCIF_RMA_SYNC) == 0);
	CHECK(scif_vwriteto(epd, data, BYTES, offset, SCIF_RMA_SYNC) == 0);
	CHECK(scif_vwriteto(epd, data, BYTES, offset, 0) == 0);
	CHECK(scif_fence_mark(epd, SCIF_FENCE_INIT_SELF, &mark) == 0);
	CHECK(scif_fence_wait(epd, mark) == 0);
	CHECK(scif_send(epd, &done, 1, SCIF_SEND_BLOCK) == 1);
	harness_join(child);
	scif_close(epd);
	scif_close(listener);
	return harness_finish();
}

/* The count and bytes node reported for call, or -1 if it has no line. */
static long long reported(const char *report, int node, const char *call,
			  long long *bytes)
{
	char key[64];
	const char *line;

	snprintf(key, sizeof(key), "node=%d call=%s ", node, call);
	if (!(line = strstr(report, key)))
		return -1;
	long long count = -1;
	sscanf(strstr(line, "count="), "count=%lld bytes=%lld", &count, bytes);
	return count;
}

static void run_self(const char *stats)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (stats)
			setenv("SCIF_EMU_STATS", stats, 1);
		else
			unsetenv("SCIF_EMU_STATS");
		execl("/proc/self/exe", "test_stats", "writer", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "writer") == 0) {
		harness_init("stats-writer", 60);
		return writer();
	}
	harness_init("stats", 60);

	char path[] = "/tmp/scif-stats-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	run_self(path);
	static char report[4096];
	ssize_t n = read(fd, report, sizeof(report) - 1);
	CHECK(n > 0);
	report[n > 0 ? n : 0] = '\0';
	printf("%s", report);

	long long bytes = 0;
	CHECK(reported(report, 0, "vwriteto", &bytes) == 3);
	CHECK(bytes == 3 * BYTES);
	CHECK(reported(report, 0, "dma", &bytes) == 1); /* the queued one */
	CHECK(bytes == BYTES);
	CHECK(reported(report, 0, "fence_mark", &bytes) == 1);
	CHECK(reported(report, 0, "fence_wait", &bytes) == 1);
	CHECK(reported(report, 0, "register", &bytes) == -1);
	/* The forked child counted its own calls only. */
	CHECK(reported(report, 1, "register", &bytes) == 1);
	CHECK(bytes == BYTES);
	CHECK(reported(report, 1, "vwriteto", &bytes) == -1);
	CHECK(reported(report, 1, "send", &bytes) == 1);

	/* Without the variable, nothing is written. */
	struct stat before, after;
	CHECK(fstat(fd, &before) == 0);
	run_self(NULL);
	CHECK(fstat(fd, &after) == 0);
	CHECK(after.st_size == before.st_size);
	close(fd);
	unlink(path);
	return harness_finish();
}
