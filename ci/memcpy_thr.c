// SPDX-License-Identifier: MPL-2.0
/*
 * memcpy_thr SIZE COUNT REGION: the bandwidth of one copy per byte, the way
 * a one-copy transport must copy a message. As libzmq's remote_thr does, each
 * message is a fresh malloc(SIZE), never written, and messages queue: each is
 * freed once REGION bytes of later ones were allocated. It is copied into a
 * destination region of max(REGION, SIZE) bytes, written once beforehand, at
 * offsets that rotate through it. Prints what local_thr prints, over all
 * COUNT messages:
 *
 *   mean throughput: N [msg/s]
 *   mean throughput: M [Mb/s]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse(const char *text, size_t *value)
{
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v == 0 || v > SIZE_MAX / 2)
		return -1;
	*value = (size_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	size_t size, count, region;
	if (argc != 4 || parse(argv[1], &size) || parse(argv[2], &count) ||
	    parse(argv[3], &region)) {
		fprintf(stderr, "usage: memcpy_thr SIZE COUNT REGION (positive integers)\n");
		return 2;
	}
	if (region < size)
		region = size;
	unsigned char *dst = malloc(region);
	if (!dst) {
		perror("memcpy_thr: destination");
		return 1;
	}
	memset(dst, 1, region);
	const size_t queued = region / size;
	unsigned char **queue = calloc(queued, sizeof *queue);
	if (!queue) {
		perror("memcpy_thr: queue");
		return 1;
	}

	size_t offset = 0;
	const double start = now();
	for (size_t i = 0; i < count; i++) {
		unsigned char **slot = &queue[i % queued];
		free(*slot);
		*slot = malloc(size);
		if (!*slot) {
			perror("memcpy_thr: message");
			return 1;
		}
		if (offset + size > region)
			offset = 0;
		memcpy(dst + offset, *slot, size);
		/* The copy must happen: the compiler may not see dst read. */
		__asm__ volatile("" : : "r"(dst) : "memory");
		offset += size;
	}
	const double elapsed = now() - start;
	for (size_t i = 0; i < queued; i++)
		free(queue[i]);
	free(queue);
	printf("mean throughput: %.0f [msg/s]\n", (double)count / elapsed);
	printf("mean throughput: %.3f [Mb/s]\n",
	       (double)count * (double)size * 8 / 1e6 / elapsed);
	free(dst);
	return 0;
}
