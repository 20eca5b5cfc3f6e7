// SPDX-License-Identifier: MPL-2.0
/*
 * What the benchmark's reference tools (memcpy_thr.c, link_thr.c) share: the
 * clock, their arguments, and messages as libzmq's remote_thr has them, a
 * fresh malloc each, never written, freed once `queued` later ones were
 * allocated.
 */
#ifndef THR_TOOL_H
#define THR_TOOL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A positive integer argument; -1 if text is not one. */
static int parse(const char *text, size_t *value)
{
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v == 0 || v > SIZE_MAX / 2)
		return -1;
	*value = (size_t)v;
	return 0;
}

struct messages {
	unsigned char **queue;
	size_t queued, next;
};

/* Room for `queued` messages in flight; 0 or -1 if memory is short. */
static int messages_init(struct messages *m, size_t queued)
{
	m->queue = calloc(queued, sizeof *m->queue);
	m->queued = queued;
	m->next = 0;
	return m->queue ? 0 : -1;
}

/* The next message, of size bytes; frees the one allocated `queued` ago. */
static unsigned char *message_next(struct messages *m, size_t size)
{
	unsigned char **slot = &m->queue[m->next++ % m->queued];
	free(*slot);
	*slot = malloc(size);
	return *slot;
}

static void messages_free(struct messages *m)
{
	for (size_t i = 0; i < m->queued; i++)
		free(m->queue[i]);
	free(m->queue);
}

/* What local_thr prints, over count messages of size bytes in elapsed s. */
static void print_throughput(size_t count, size_t size, double elapsed)
{
	printf("mean throughput: %.0f [msg/s]\n", (double)count / elapsed);
	printf("mean throughput: %.3f [Mb/s]\n",
	       (double)count * (double)size * 8 / 1e6 / elapsed);
	fflush(stdout);
}

#endif
