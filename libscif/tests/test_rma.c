/* SPDX-License-Identifier: MPL-2.0 */
/*
 * RMA across processes: vwriteto/vreadfrom/writeto/readfrom over adjacent
 * windows, unaligned ranges, fences and signals in both directions, and
 * refused accesses (holes, out of range, wrong protection, unregistered)
 * that must leave the peer's memory untouched; asynchronous RMAs with
 * their fences, signals and late errors. Run once per RMA path
 * (SCIF_EMU_RMA_PATH unset -> process_vm, =socket -> fallback).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "scif_emu.h"

#define PAGE	4096
#define A_OFF	0x10000	  /* 4 pages, RW */
#define B_OFF	0x14000	  /* 2 pages, RW, adjacent to A */
#define C_OFF	0x20000	  /* 1 page, read-only */
#define D_OFF	0x30000	  /* 1 page, write-only */
#define E_OFF	0x1000000 /* E_LEN, RW: asynchronous RMAs */
#define E_LEN	(8u << 20)
#define AB_LEN	(6 * PAGE)
#define L_PAGES 8

static struct harness_gate listening, card_ready, host_done, card_done;

static void *pages(size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	return p;
}

static void check_register_errors(scif_epd_t epd, char *mem)
{
	const int rw = SCIF_PROT_READ | SCIF_PROT_WRITE;

	CHECK_FAILS(scif_register(epd, mem + 1, PAGE, 0, rw, 0), EINVAL);
	CHECK_FAILS(scif_register(epd, mem, 100, 0, rw, 0), EINVAL);
	CHECK_FAILS(scif_register(epd, mem, 0, 0, rw, 0), EINVAL);
	CHECK_FAILS(scif_register(epd, mem, PAGE, 0, 0, 0), EINVAL);
	CHECK_FAILS(scif_register(epd, mem, PAGE, 0, 4, 0), EINVAL);
	CHECK_FAILS(scif_register(epd, mem, PAGE, 0, rw, SCIF_MAP_KERNEL),
		    EINVAL);
	CHECK_FAILS(scif_register(epd, mem, PAGE, 100, rw, SCIF_MAP_FIXED),
		    EINVAL);
	CHECK_FAILS(scif_register(epd, mem, PAGE, -PAGE, rw, 0), EINVAL);
	CHECK_FAILS(
	    scif_register(epd, mem, PAGE, A_OFF + PAGE, rw, SCIF_MAP_FIXED),
	    EADDRINUSE);
	CHECK_FAILS(
	    scif_register(epd, mem, PAGE, (off_t)1 << 62, rw, SCIF_MAP_FIXED),
	    EADDRINUSE);
	char *hole = pages(1);
	munmap(hole, PAGE);
	CHECK_FAILS(scif_register(epd, hole, PAGE, 0, rw, 0), EFAULT);

	CHECK_FAILS(scif_unregister(epd, A_OFF, PAGE), EINVAL); /* cuts A */
	CHECK_FAILS(scif_unregister(epd, 0x50000, PAGE), ENXIO);
	CHECK_FAILS(scif_unregister(epd, A_OFF + 1, PAGE), EINVAL);
	CHECK_FAILS(scif_unregister(epd, -PAGE, PAGE), EINVAL);

	/* Without SCIF_MAP_FIXED an overlapping hint moves to a free range. */
	off_t placed = scif_register(epd, mem, 2 * PAGE, A_OFF, rw, 0);
	CHECK(placed != SCIF_REGISTER_FAILED && placed % PAGE == 0);
	CHECK(placed >= B_OFF + 2 * PAGE || placed + 2 * PAGE <= A_OFF);
	CHECK(scif_unregister(epd, placed, 2 * PAGE) == 0);
}

static void card(void *arg)
{
	(void)arg;
	const int rw = SCIF_PROT_READ | SCIF_PROT_WRITE;
	scif_epd_t listener = harness_listener(9500);
	struct scif_portID peer;
	scif_epd_t epd;

	gate_open(&listening);
	CHECK(scif_accept(listener, &peer, &epd, SCIF_ACCEPT_SYNC) == 0);
	char *ab = pages(6), *c = pages(1), *d = pages(1), *spare = pages(2);
	char *e = pages(E_LEN / PAGE);
	pattern_fill(ab, AB_LEN, 0, 10);
	pattern_fill(c, PAGE, 0, 40);
	memset(d, 0x5a, PAGE);
	CHECK(scif_register(epd, ab, 4 * PAGE, A_OFF, rw, SCIF_MAP_FIXED) ==
	      A_OFF);
	CHECK(scif_register(epd, ab + 4 * PAGE, 2 * PAGE, B_OFF, rw,
			    SCIF_MAP_FIXED) == B_OFF);
	CHECK(scif_register(epd, c, PAGE, C_OFF, SCIF_PROT_READ,
			    SCIF_MAP_FIXED) == C_OFF);
	CHECK(scif_register(epd, d, PAGE, D_OFF, SCIF_PROT_WRITE,
			    SCIF_MAP_FIXED) == D_OFF);
	CHECK(scif_register(epd, e, E_LEN, E_OFF, rw, SCIF_MAP_FIXED) == E_OFF);
	check_register_errors(epd, spare);
	gate_open(&card_ready);

	/* Expected after the host's RMAs: see main(). */
	gate_wait(&host_done);
	char *expect = malloc(AB_LEN);
	pattern_fill(expect, AB_LEN, 0, 20);
	pattern_fill(expect + 0x100, 5000, 0, 30);
	uint64_t signal = 0xBBBB;
	memcpy(expect + 8, &signal, 8);
	CHECK(memcmp(ab, expect, AB_LEN) == 0);
	CHECK(pattern_check(c, PAGE, 0, 40)); /* read-only: untouched */
	free(expect);
	for (int i = 0; i < PAGE; i++)
		if (d[i] != 0x5a) {
			CHECK(!"write-only window changed");
			break;
		}

	/* Now the card writes into the host's window and signals it. */
	off_t host_off;
	CHECK(scif_recv(epd, &host_off, sizeof(host_off), SCIF_RECV_BLOCK) ==
	      sizeof(host_off));
	char *mine = pages(4);
	pattern_fill(mine, 3 * PAGE, 0, 50);
	CHECK(scif_vwriteto(epd, mine, 3 * PAGE, host_off + 4 * PAGE,
			    SCIF_RMA_USECPU) == 0);
	CHECK(scif_fence_signal(epd, 0, 0, host_off + 7 * PAGE, 0xFEED,
				SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_REMOTE) ==
	      0);
	/* The signal is written by our engine; the host polls for it. */
	CHECK(scif_unregister(epd, D_OFF, PAGE) == 0);
	gate_open(&card_done);

	/* Stay connected until the host is finished. */
	char byte;
	CHECK(scif_recv(epd, &byte, 1, SCIF_RECV_BLOCK) == -1 &&
	      errno == ECONNRESET);
	scif_close(epd);
	scif_close(listener);
}

/*
 * Polls a signalled word, as a consumer of scif_fence_signal does. The 10 s
 * bound only catches a signal that never comes: it takes milliseconds.
 */
static bool poll_signal(const char *word, uint64_t expected)
{
	struct timespec pause = {.tv_nsec = 100 * 1000};

	for (int round = 0; round < 100000; round++) {
		if (__atomic_load_n((const uint64_t *)word, __ATOMIC_ACQUIRE) ==
		    expected)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

/*
 * Without SCIF_RMA_SYNC: ranges are checked by the call, the copy runs in
 * the engine, and a fence or a signal says when it is complete.
 */
static void check_async(scif_epd_t epd, char *signal_word, off_t signal_off)
{
	const size_t piece = 64 * 1024;
	char *src = malloc(E_LEN), *back = malloc(E_LEN);
	int mark;

	/* Many queued copies, then a signal: seen only once all landed. */
	pattern_fill(src, E_LEN, 0, 60);
	for (size_t done = 0; done < E_LEN; done += piece)
		CHECK(scif_vwriteto(epd, src + done, piece, E_OFF + done, 0) ==
		      0);
	CHECK(scif_fence_signal(epd, signal_off, 1, 0, 0,
				SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL) == 0);
	CHECK(poll_signal(signal_word, 1));
	CHECK(scif_vreadfrom(epd, back, E_LEN, E_OFF, SCIF_RMA_SYNC) == 0);
	CHECK(pattern_check(back, E_LEN, 0, 60));

	/* A mark covers the reads queued before it. */
	memset(back, 0, E_LEN);
	CHECK(scif_vreadfrom(epd, back, E_LEN / 2, E_OFF, SCIF_RMA_USECACHE) ==
	      0);
	CHECK(scif_vreadfrom(epd, back + E_LEN / 2, E_LEN / 2,
			     E_OFF + E_LEN / 2, 0) == 0);
	CHECK(scif_fence_mark(epd, SCIF_FENCE_INIT_SELF, &mark) == 0);
	CHECK(scif_fence_wait(epd, mark) == 0);
	CHECK(pattern_check(back, E_LEN, 0, 60));

	/* What the call can check, it reports at once. */
	char *gone = pages(1);
	munmap(gone, PAGE);
	CHECK_FAILS(scif_vwriteto(epd, gone, 16, E_OFF, 0), EFAULT);
	CHECK_FAILS(scif_vwriteto(epd, src, 16, E_OFF + E_LEN, 0), ENXIO);
	CHECK_FAILS(
	    scif_fence_signal(epd, 0, 0, E_OFF + E_LEN, 1,
			      SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_REMOTE),
	    ENXIO);

	free(src);
	free(back);
}

static void host(scif_epd_t epd)
{
	const int rw = SCIF_PROT_READ | SCIF_PROT_WRITE;
	char *buf = malloc(AB_LEN), *back = malloc(AB_LEN);
	char *local = pages(L_PAGES), *ro = pages(1);
	int mark;

	off_t loff = scif_register(epd, local, L_PAGES * PAGE, 0, rw, 0);
	CHECK(loff != SCIF_REGISTER_FAILED && loff % PAGE == 0);
	/* Far from the local window so that nothing is adjacent to it. */
	off_t ro_off = scif_register(epd, ro, PAGE, 0x100000, SCIF_PROT_READ,
				     SCIF_MAP_FIXED);
	CHECK(ro_off == 0x100000 && loff + L_PAGES * PAGE < ro_off);

	/* v-forms across the A|B window boundary. */
	pattern_fill(buf, AB_LEN, 0, 20);
	CHECK(scif_vwriteto(epd, buf, AB_LEN, A_OFF, SCIF_RMA_SYNC) == 0);
	CHECK(scif_vreadfrom(epd, back, AB_LEN, A_OFF, SCIF_RMA_SYNC) == 0);
	CHECK(memcmp(buf, back, AB_LEN) == 0);

	/* Window-to-window, unaligned. */
	pattern_fill(local, 5000, 0, 30);
	CHECK(scif_writeto(epd, loff, 5000, A_OFF + 0x100,
			   SCIF_RMA_SYNC | SCIF_RMA_ORDERED) == 0);
	CHECK(scif_readfrom(epd, loff + 2 * PAGE, 5000, A_OFF + 0x100,
			    SCIF_RMA_SYNC) == 0);
	CHECK(pattern_check(local + 2 * PAGE, 5000, 0, 30));
	memset(back, 0, AB_LEN);
	CHECK(scif_vreadfrom(epd, back, 16, C_OFF, SCIF_RMA_SYNC) == 0);
	CHECK(pattern_check(back, 16, 0, 40));

	/* Refused accesses. */
	CHECK_FAILS(scif_vwriteto(epd, buf, 2 * PAGE, B_OFF + PAGE, 0), ENXIO);
	CHECK_FAILS(scif_vwriteto(epd, buf, 16, 0x40000, 0), ENXIO);
	CHECK_FAILS(scif_vwriteto(epd, buf, 16, -16, 0), ENXIO);
	CHECK_FAILS(scif_vreadfrom(epd, buf, (size_t)-1, A_OFF, 0), ENXIO);
	CHECK_FAILS(scif_writeto(epd, loff + 7 * PAGE, 2 * PAGE, A_OFF, 0),
		    ENXIO); /* local range leaves the local window */
	CHECK_FAILS(scif_readfrom(epd, -PAGE, 16, A_OFF, 0), ENXIO);
	CHECK_FAILS(scif_vwriteto(epd, buf, 16, C_OFF, 0), EACCES);
	CHECK_FAILS(scif_writeto(epd, loff, 16, C_OFF, 0), EACCES);
	CHECK_FAILS(scif_vreadfrom(epd, buf, 16, D_OFF, 0), EACCES);
	CHECK_FAILS(scif_readfrom(epd, ro_off, 16, A_OFF, 0), EACCES);
	CHECK_FAILS(scif_vwriteto(epd, buf, 16, A_OFF, 0x100), EINVAL);

	/* Fences: nothing is in progress, marks are reached at once. */
	CHECK(scif_fence_mark(epd, SCIF_FENCE_INIT_SELF, &mark) == 0);
	CHECK(scif_fence_wait(epd, mark) == 0);
	CHECK(scif_fence_mark(epd, SCIF_FENCE_INIT_PEER, &mark) == 0);
	CHECK(scif_fence_wait(epd, mark) == 0);
	CHECK_FAILS(scif_fence_wait(epd, -1), EINVAL);
	CHECK(scif_fence_signal(epd, loff + 6 * PAGE, 0xAAAA, A_OFF + 8, 0xBBBB,
				SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL |
				    SCIF_SIGNAL_REMOTE) == 0);
	/* The signal is queued; a later mark covers it. */
	CHECK(scif_fence_mark(epd, SCIF_FENCE_INIT_SELF, &mark) == 0);
	CHECK(scif_fence_wait(epd, mark) == 0);
	uint64_t value;
	memcpy(&value, local + 6 * PAGE, 8);
	CHECK(value == 0xAAAA);
	CHECK_FAILS(
	    scif_fence_signal(epd, 0, 0, 0x40000, 1,
			      SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_REMOTE),
	    ENXIO);
	CHECK_FAILS(
	    scif_fence_signal(epd, 0, 0, A_OFF + 2, 1,
			      SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_REMOTE),
	    EINVAL);
	CHECK_FAILS(scif_fence_signal(epd, 0, 0, A_OFF, 1,
				      SCIF_FENCE_INIT_SELF |
					  SCIF_FENCE_INIT_PEER |
					  SCIF_SIGNAL_REMOTE),
		    EINVAL);
	check_async(epd, local + 5 * PAGE, loff + 5 * PAGE);
	gate_open(&host_done);

	/* The card's RMA into our window and its signal. */
	CHECK(scif_send(epd, &loff, sizeof(loff), SCIF_SEND_BLOCK) ==
	      sizeof(loff));
	gate_wait(&card_done);
	CHECK(poll_signal(local + 7 * PAGE, 0xFEED));
	CHECK(pattern_check(local + 4 * PAGE, 3 * PAGE, 0, 50));
	CHECK(scif_fence_mark(epd, SCIF_FENCE_INIT_PEER, &mark) == 0);
	CHECK(scif_fence_wait(epd, mark) == 0);
	CHECK_FAILS(scif_vwriteto(epd, buf, 16, D_OFF, 0), ENXIO);

	/*
	 * A forked child may not RMA or fence on its inherited copy (it is
	 * the creator's: EBADF); closing it leaves ours intact.
	 */
	pid_t child = fork();
	if (child == 0) {
		int child_mark;
		bool refused =
		    scif_vwriteto(epd, buf, 16, A_OFF, SCIF_RMA_SYNC) == -1 &&
		    errno == EBADF &&
		    scif_fence_mark(epd, SCIF_FENCE_INIT_SELF, &child_mark) ==
			-1 &&
		    errno == EBADF;
		_exit(refused && scif_close(epd) == 0 ? 0 : 1);
	}
	harness_join(child);
	/* Synchronous: back is freed below, which an RMA still queued would
	 * write into. */
	CHECK(scif_vreadfrom(epd, back, 16, C_OFF, SCIF_RMA_SYNC) == 0);
	CHECK(scif_readfrom(epd, loff, 16, A_OFF, SCIF_RMA_SYNC) == 0);

	/* Unregistered locally: gone for our own window-based RMAs too. */
	CHECK(scif_unregister(epd, loff, L_PAGES * PAGE) == 0);
	CHECK_FAILS(scif_writeto(epd, loff, 16, A_OFF, 0), ENXIO);
	free(buf);
	free(back);
}

int main(void)
{
	const char *forced = getenv("SCIF_EMU_RMA_PATH");
	harness_init(forced ? "rma-socket" : "rma", 60);
	CHECK(strcmp(scif_emu_rma_path(), forced ? "socket" : "process_vm") ==
	      0);
	gate_init(&listening);
	gate_init(&card_ready);
	gate_init(&host_done);
	gate_init(&card_done);
	pid_t child = harness_spawn(1, card, NULL);
	gate_wait(&listening);
	scif_epd_t epd = harness_connect(1, 9500);
	gate_wait(&card_ready);
	host(epd);
	scif_close(epd);
	harness_join(child);
	return harness_finish();
}
