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
#include <string.h>

#include "thr_tool.h"

int main(int argc, char **argv)
{
	size_t size, count, region;
	if (argc != 4 || parse(argv[1], &size) || parse(argv[2], &count) ||
	    parse(argv[3], &region)) {
		fprintf(stderr, "usage: memcpy_thr SIZE COUNT REGION (positive "
				"integers)\n");
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
	struct messages messages;
	if (messages_init(&messages, region / size) < 0) {
		perror("memcpy_thr: queue");
		return 1;
	}

	size_t offset = 0;
	const double start = now();
	for (size_t i = 0; i < count; i++) {
		unsigned char *message = message_next(&messages, size);
		if (!message) {
			perror("memcpy_thr: message");
			return 1;
		}
		if (offset + size > region)
			offset = 0;
		memcpy(dst + offset, message, size);
		/* The copy must happen: the compiler may not see dst read. */
		__asm__ volatile("" : : "r"(dst) : "memory");
		offset += size;
	}
	print_throughput(count, size, now() - start);
	messages_free(&messages);
	free(dst);
	return 0;
}
