/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Call statistics, an emulator-only hook for profiling what uses the
 * library: with SCIF_EMU_STATS=FILE in the environment when the process
 * starts, every entry point below counts its calls, the bytes they moved
 * and the time spent in them, and the totals are appended to FILE when the
 * process exits, one line per call that was made:
 *
 *   scif-emu-stats pid=P node=N call=NAME count=C bytes=B ns=T
 *
 * "dma" is the copying of RMAs issued without SCIF_RMA_SYNC, whichever
 * thread runs it (the engine, or one waiting on a fence). A fork()ed child
 * counts its own calls from zero. Without the variable, a call pays one
 * relaxed load. Nothing of this exists in MPSS.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static const char *const call_names[STAT_CALLS] = {
    [STAT_SEND] = "send",
    [STAT_RECV] = "recv",
    [STAT_REGISTER] = "register",
    [STAT_UNREGISTER] = "unregister",
    [STAT_READFROM] = "readfrom",
    [STAT_WRITETO] = "writeto",
    [STAT_VREADFROM] = "vreadfrom",
    [STAT_VWRITETO] = "vwriteto",
    [STAT_FENCE_MARK] = "fence_mark",
    [STAT_FENCE_WAIT] = "fence_wait",
    [STAT_FENCE_SIGNAL] = "fence_signal",
    [STAT_DMA] = "dma",
};

static struct {
	_Atomic uint64_t count, bytes, ns;
} totals[STAT_CALLS];

static atomic_bool enabled;
static char path[4096];
static pid_t reporter; /* the process whose totals these are */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t stats_begin(void)
{
	return atomic_load_explicit(&enabled, memory_order_relaxed) ? now_ns()
								    : 0;
}

void stats_end(enum stat_call call, uint64_t begun, long long bytes)
{
	if (!begun)
		return;
	atomic_fetch_add_explicit(&totals[call].count, 1, memory_order_relaxed);
	if (bytes > 0)
		atomic_fetch_add_explicit(&totals[call].bytes, (uint64_t)bytes,
					  memory_order_relaxed);
	atomic_fetch_add_explicit(&totals[call].ns, now_ns() - begun,
				  memory_order_relaxed);
}

/* One write(2) of every line, so that processes sharing FILE interleave
 * whole reports. */
static void report(void)
{
	char text[STAT_CALLS * 160];
	const char *node = getenv("SCIF_EMU_NODE");
	size_t used = 0;

	if (reporter != getpid())
		return;
	for (int i = 0; i < STAT_CALLS; i++) {
		uint64_t count = atomic_load(&totals[i].count);
		if (!count)
			continue;
		int n =
		    snprintf(text + used, sizeof(text) - used,
			     "scif-emu-stats pid=%d node=%s call=%s count=%llu "
			     "bytes=%llu ns=%llu\n",
			     (int)reporter, node && *node ? node : "0",
			     call_names[i], (unsigned long long)count,
			     (unsigned long long)atomic_load(&totals[i].bytes),
			     (unsigned long long)atomic_load(&totals[i].ns));
		if (n < 0 || (size_t)n >= sizeof(text) - used)
			break;
		used += (size_t)n;
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, text, used) < 0) {
		/* Statistics are best effort: nothing to report to. */
	}
	close(fd);
}

__attribute__((constructor)) static void stats_init(void)
{
	const char *file = getenv("SCIF_EMU_STATS");

	if (!file || !*file || strlen(file) >= sizeof(path))
		return;
	strcpy(path, file);
	reporter = getpid();
	atexit(report);
	atomic_store(&enabled, true);
}

void stats_fork_child(void)
{
	if (!atomic_load(&enabled))
		return;
	memset(totals, 0, sizeof(totals));
	reporter = getpid();
}
