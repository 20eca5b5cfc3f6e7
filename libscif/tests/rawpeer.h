/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Raw peers for the hostile-peer tests: libscif's own protocol spoken by
 * hand (socket files, port locks, hellos, window tables, fallback
 * channels), so a test can do what a well-behaved library never would.
 */
#ifndef SCIF_TEST_RAWPEER_H
#define SCIF_TEST_RAWPEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "internal.h"

/* The current SCIF_EMU_DOMAIN's directory, as libscif computes it. */
const char *raw_domain_dir(void);

/* Fills a Unix socket address with a formatted path. */
void raw_address(struct sockaddr_un *addr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Holds (node, port)'s reservation lock; returns the lock file's fd. */
int raw_hold_port(uint16_t node, uint16_t port);
/* A socket bound to (node, port)'s socket file (any stale one removed). */
int raw_bound_socket(uint16_t node, uint16_t port);
/* Connects fd to (node, port)'s socket file; 0 or -errno. */
int raw_connect(int fd, uint16_t node, uint16_t port);
/* A connection that claims (node, port) properly: lock, bind, connect. */
int raw_connect_as(uint16_t node, uint16_t port, uint16_t dst_node,
		   uint16_t dst_port);

/* A window table in a memfd: mapped read-write, with the given seals. */
struct window_table *raw_table(unsigned seals, int *memfd);
#define RAW_SEALS_ALL (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
/* Publishes a window in slot of t as libscif would. */
void raw_publish(struct window_table *t, uint32_t slot, uint64_t offset,
		 uint64_t len, uint64_t addr, uint32_t prot);

/* Sends an 8-byte hello with the given descriptors attached. */
int raw_send_hello(int fd, uint32_t magic, const int *fds, int nfds);
/* Sends len bytes with descriptors attached (SCM_RIGHTS). */
int raw_send_fds(int fd, const void *buf, size_t len, const int *fds, int nfds);
/* Reads the peer's hello: returns its table's memfd (or -1). */
int raw_recv_hello(int fd);
/* Maps a peer table read-only. */
const struct window_table *raw_map_table(int memfd);

/* Opens a fallback channel to pid's service naming token; status out. */
int raw_channel(pid_t pid, uint64_t token, int32_t *status);

/* Maps len bytes at a fixed address, filled with byte. */
void *raw_fixed_pages(void *addr, size_t len, int byte);

/* Drops to uid/gid (with no supplementary groups); exits 3 on failure. */
void raw_become(uid_t uid);

/* Milliseconds since *start (CLOCK_MONOTONIC). */
double raw_ms_since(const struct timespec *start);

#endif
