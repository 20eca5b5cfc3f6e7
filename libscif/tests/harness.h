/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Tiny test harness for the multi-process libscif tests: checks that count
 * failures (in parent and forked children alike), a per-test SCIF domain so
 * tests can run in parallel, an alarm() watchdog, and pipe-based
 * synchronisation between processes.
 */
#ifndef SCIF_TEST_HARNESS_H
#define SCIF_TEST_HARNESS_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "scif.h"

extern int harness_failures;
extern int harness_checks;

void harness_check(int ok, const char *expr, const char *file, int line);

#define CHECK(cond) harness_check(!!(cond), #cond, __FILE__, __LINE__)

/* expr must fail with -1 (or the given failure value) and errno err. */
#define CHECK_FAILS(expr, err)                                                 \
	do {                                                                   \
		errno = 0;                                                     \
		long long _rc = (long long)(expr);                             \
		int _e = errno;                                                \
		harness_check(_rc == -1 && _e == (err),                        \
			      #expr " fails with " #err, __FILE__, __LINE__);  \
		if (!(_rc == -1 && _e == (err)))                               \
			fprintf(stderr, "    got rc=%lld errno=%d (%s)\n",     \
				_rc, _e, strerror(_e));                        \
	} while (0)

/*
 * Makes system call `nr` of this process (and of the children it forks from
 * now on) fail with err, as an older or stricter kernel would: always, or,
 * with arg >= 0, only when its argument number `arg` is `value`. Through a
 * seccomp filter, which stays for the process's life.
 */
void harness_syscall_fails(long nr, int arg, unsigned value, int err);

/* Sets a fresh SCIF_EMU_DOMAIN, node 0 and a watchdog of `seconds`. */
void harness_init(const char *name, unsigned seconds);

/* Forks a child acting as `node`; it runs fn(arg) and exits with status. */
pid_t harness_spawn(int node, void (*fn)(void *), void *arg);

/* Waits for a child; records a failure unless it exited with 0. */
void harness_join(pid_t child);

/* Removes a domain's directory (a name or an absolute path). */
void harness_remove_domain(const char *name);

/* Prints the summary, removes the test's domain; returns the exit code. */
int harness_finish(void);

/* One-way signalling channel between processes. */
struct harness_gate {
	int fds[2];
};
void gate_init(struct harness_gate *g);
void gate_open(struct harness_gate *g); /* signal once */
void gate_wait(struct harness_gate *g); /* wait for one signal */

/* Connected pair helpers. */
scif_epd_t harness_listener(uint16_t port);
scif_epd_t harness_connect(uint16_t node, uint16_t port);

/* Fills / checks a deterministic pattern keyed by stream position. */
void pattern_fill(void *buf, size_t len, uint64_t pos, uint64_t seed);
int pattern_check(const void *buf, size_t len, uint64_t pos, uint64_t seed);

#endif
