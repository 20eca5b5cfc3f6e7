/* SPDX-License-Identifier: MPL-2.0 */
/*
 * 1 GiB streamed in each direction at the same time, content checked. Each
 * process sends from one thread and receives in another on the same
 * endpoint, which also exercises concurrent scif_send/scif_recv.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define TOTAL (1ULL << 30)
#define CHUNK (1 << 20)

struct stream_args {
	scif_epd_t epd;
	uint64_t seed;
	int ok;
};

static void *sender(void *arg)
{
	struct stream_args *a = arg;
	char *buf = malloc(CHUNK);

	a->ok = buf != NULL;
	for (uint64_t pos = 0; a->ok && pos < TOTAL; pos += CHUNK) {
		pattern_fill(buf, CHUNK, pos, a->seed);
		a->ok = scif_send(a->epd, buf, CHUNK, SCIF_SEND_BLOCK) == CHUNK;
	}
	free(buf);
	return NULL;
}

/* Receives in uneven non-blocking pieces to exercise partial reads. */
static int receive_all(scif_epd_t epd, uint64_t seed)
{
	char *buf = malloc(CHUNK);
	uint64_t pos = 0;
	int ok = buf != NULL;

	while (ok && pos < TOTAL) {
		int want = (pos / CHUNK) % 2 ? CHUNK : CHUNK - 13;
		if (TOTAL - pos < (uint64_t)want)
			want = (int)(TOTAL - pos);
		int n = scif_recv(epd, buf, want, SCIF_RECV_BLOCK);
		ok = n == want && pattern_check(buf, (size_t)n, pos, seed);
		pos += (uint64_t)n;
	}
	free(buf);
	return ok;
}

static void run_both_ways(scif_epd_t epd, uint64_t send_seed,
			  uint64_t recv_seed)
{
	struct stream_args a = {.epd = epd, .seed = send_seed};
	pthread_t thread;

	CHECK(pthread_create(&thread, NULL, sender, &a) == 0);
	CHECK(receive_all(epd, recv_seed));
	pthread_join(thread, NULL);
	CHECK(a.ok);
}

static struct harness_gate listening;

static void card(void *arg)
{
	(void)arg;
	scif_epd_t listener = harness_listener(7000);
	struct scif_portID peer;
	scif_epd_t conn;

	gate_open(&listening);
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	run_both_ways(conn, 2, 1);
	scif_close(conn);
	scif_close(listener);
}

int main(void)
{
	harness_init("stream", 120);
	gate_init(&listening);
	pid_t child = harness_spawn(1, card, NULL);
	gate_wait(&listening);
	scif_epd_t epd = harness_connect(1, 7000);
	run_both_ways(epd, 1, 2);
	harness_join(child);
	scif_close(epd);
	return harness_finish();
}
