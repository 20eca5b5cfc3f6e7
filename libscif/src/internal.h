/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Internal interfaces of the user-space SCIF emulation.
 *
 * Model: an endpoint is an AF_UNIX stream socket whose descriptor is the
 * scif_epd_t. A bound port is an abstract-namespace socket name
 * "\0scif-emu/<domain>/<node>/<port>", so ports are unique per node and
 * domain across processes and vanish with their owner. A connection carries
 * the scif_send/scif_recv byte stream and, exchanged once at connect time, a
 * shared memfd ("shared area") holding both sides' window tables, which lets
 * either side perform RMAs into the other's memory without its help.
 */
#ifndef SCIF_INTERNAL_H
#define SCIF_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scif.h"
#include "scif_emu.h"

#define SCIF_EMU_DOMAIN_MAX 64
#define SCIF_EMU_PAGE_SIZE  4096UL

/* --- nodes.c: emulated machine identity, from the environment ---------- */

struct emu_config {
	uint16_t node;	/* SCIF_EMU_NODE */
	uint16_t nodes; /* SCIF_EMU_NODES */
	char domain[SCIF_EMU_DOMAIN_MAX + 1];
};

/* Reads SCIF_EMU_*; returns 0 or -EINVAL on malformed values. */
int emu_config_load(struct emu_config *cfg);

/* --- shared area: the window tables both peers map ---------------------- */

/*
 * One registered window. Written only by the owning side; read lock-free by
 * both sides. seq is odd while the slot changes; inflight counts RMAs using
 * the window so that unregistering can wait for them.
 */
struct window_slot {
	_Atomic uint32_t seq;
	_Atomic uint32_t inflight;
	_Atomic uint32_t prot;
	_Atomic int32_t pid; /* process whose memory addr refers to */
	_Atomic uint64_t offset;
	_Atomic uint64_t len; /* 0: slot free */
	_Atomic uint64_t addr;
	uint64_t reserved;
};

struct window_table {
	_Atomic int32_t owner_pid;
	_Atomic uint32_t used_slots;	/* slots [0, used_slots) may be live */
	_Atomic uint32_t rma_started;	/* RMAs this side initiated ... */
	_Atomic uint32_t rma_completed; /* ... and finished (for fences) */
	uint8_t pad[48];
	struct window_slot slots[SCIF_EMU_MAX_WINDOWS];
};

struct shared_area {
	uint32_t magic;
	uint32_t version;
	uint8_t pad[56];
	struct window_table side[2]; /* [0] connector, [1] acceptor */
};

#define SHARED_AREA_MAGIC   0x53434946u /* "SCIF" */
#define SHARED_AREA_VERSION 1u

/* --- endpoint state ------------------------------------------------------ */

enum ep_state {
	EP_UNBOUND,
	EP_BOUND,
	EP_LISTENING,
	EP_CONNECTING, /* non-blocking connect: outcome not yet reported */
	EP_CONNECTED,
};

struct endpoint {
	int fd;
	pid_t owner; /* process that created it; forked copies only detach */
	atomic_int refs;
	atomic_bool closing;
	pthread_mutex_t lock;	   /* state, binding, window registration */
	pthread_mutex_t send_lock; /* keeps one blocking send contiguous */
	pthread_mutex_t recv_lock; /* keeps one blocking recv contiguous */
	enum ep_state state;
	int connect_result; /* 0 or errno, reported by the next connect */
	struct emu_config cfg;
	struct scif_portID self;
	struct scif_portID peer;
	struct shared_area *area; /* NULL unless connected */
	int side;		  /* our index into area->side[] */
};

/* --- endpoints.c: the endpoint table ------------------------------------ */

/* New unpublished endpoint owning fd, one reference; NULL if no memory. */
struct endpoint *ep_create(int fd, const struct emu_config *cfg);
/* Creates and publishes an endpoint for fd; closes fd on failure. */
struct endpoint *ep_publish(int fd, const struct emu_config *cfg);
/* Publishes ep under ep->fd (the table takes ep's reference); -ENOMEM. */
int ep_table_insert(struct endpoint *ep);
/* Removes epd from the table and returns the table's reference, or NULL. */
struct endpoint *ep_unpublish(scif_epd_t epd);
/* EBADF or ENOTTY, whichever MPSS would report for a non-endpoint epd. */
int ep_bad_descriptor_errno(scif_epd_t epd);

/* Returns a referenced endpoint or NULL with errno EBADF/ENOTTY. */
struct endpoint *ep_get(scif_epd_t epd);
void ep_put(struct endpoint *ep);

static inline struct window_table *ep_local_table(struct endpoint *ep)
{
	return &ep->area->side[ep->side];
}

static inline struct window_table *ep_peer_table(struct endpoint *ep)
{
	return &ep->area->side[!ep->side];
}

/*
 * Fails with ENOTCONN unless ep is connected, ECONNRESET when the peer
 * has gone. Returns 0 or -errno.
 */
int ep_check_connected(struct endpoint *ep);

/*
 * Blocks until ep's descriptor has one of events, in bounded slices so that
 * a concurrent scif_close is noticed (-EINTR). Returns 0 or -errno.
 */
int ep_wait(struct endpoint *ep, short events);

/*
 * True if [addr, addr+len) lies inside one window this process registered
 * with at least need_prot (checked by the socket fallback's server).
 */
bool ep_windows_cover(uint64_t addr, uint64_t len, int need_prot);

/* True once the peer closed its end or its process died. */
bool ep_peer_gone(struct endpoint *ep);

/* Stores err in errno and returns -1: the common failure exit. */
static inline int fail(int err)
{
	errno = err;
	return -1;
}

/* --- ports.c -------------------------------------------------------------- */

/* Binds ep->fd to port pn (0: any free one >= SCIF_PORT_RSVD); -errno. */
int port_bind(struct endpoint *ep, uint16_t pn);

/* Connects ep->fd to dst's socket name; returns 0 or -errno. */
int port_connect(struct endpoint *ep, const struct scif_portID *dst);

/* --- handshake.c: connection set-up -------------------------------------- */

/* Connects ep (already bound) to dst and shares a new window area. */
int handshake_connect(struct endpoint *ep, const struct scif_portID *dst);
/* Completes an accepted connection on ep->fd; -EAGAIN if it is unusable. */
int handshake_accept(struct endpoint *ep);

/* --- windows.c: registered address space --------------------------------- */

int windows_register(struct endpoint *ep, void *addr, size_t len, off_t offset,
		     int prot, int map_flags, off_t *placed);
int windows_unregister(struct endpoint *ep, off_t offset, size_t len);
/* Unregisters every window of the local side (used by scif_close). */
void windows_release_all(struct endpoint *ep);

/* A piece of a pinned range: len bytes at addr in process pid. */
struct segment {
	uint32_t slot;
	int32_t pid;
	uint64_t addr;
	uint64_t len;
};

struct pinned_range {
	struct window_table *table;
	size_t count;
	size_t capacity;
	struct segment *segs;
	struct segment inline_segs[4];
};

/*
 * Pins the windows of table covering [offset, offset+len) so they cannot be
 * unregistered while in use. need_prot: SCIF_PROT_* the windows must allow.
 * Returns 0 or -ENXIO (hole, out of range), -EACCES, -ENOMEM.
 */
int windows_pin(struct window_table *table, uint64_t offset, uint64_t len,
		int need_prot, struct pinned_range *out);
void windows_unpin(struct pinned_range *range);

/* --- rma.c / rma_socket.c ------------------------------------------------ */

enum rma_dir { RMA_READ, RMA_WRITE }; /* seen from the caller */

/*
 * Copies len bytes between local memory and memory of process pid
 * (RMA_WRITE: local -> remote). Returns 0 or -errno.
 */
int rma_copy_remote(enum rma_dir dir, void *local, int32_t pid, uint64_t remote,
		    size_t len);

/* Socket fallback: the helper thread serving peers, and the client. */
int rma_socket_serve_start(void);
int rma_socket_copy(enum rma_dir dir, void *local, int32_t pid, uint64_t remote,
		    size_t len);

/* Copies between a local window range and remote memory (used by fences). */
int rma_write_remote_value(struct endpoint *ep, uint64_t roff,
			   const void *value, size_t len);

#endif /* SCIF_INTERNAL_H */
