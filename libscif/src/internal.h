/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Internal interfaces of the user-space SCIF emulation.
 *
 * Model: an endpoint is an AF_UNIX stream socket whose descriptor is the
 * scif_epd_t. An emulated machine ("domain") is a directory the kernel
 * protects; a bound port is a socket file in it, reserved by a POSIX record
 * lock the kernel drops when its process dies. A connection carries the
 * scif_send/scif_recv byte stream after one "hello" per direction that hands
 * over the sender's window table: a sealed memfd only its owner can write.
 *
 * Trust: the peer is another process, possibly another user's, possibly
 * hostile. What it says about itself is checked against the kernel (socket
 * credentials, lock holders, the peer's pidfd), every value it publishes is
 * bounds-checked before use, and an RMA only ever touches the peer's own
 * process (process_vm_*) or runs in the peer's own helper thread (fallback).
 *
 * Layers, each using only those above it:
 *   nodes.c (domains, node state), domain_files.c -> ports.c -> endpoints.c
 *   -> handshake.c -> windows.c -> fallback_*.c -> rma.c, fence.c, mmap.c
 *   -> dma.c (the engine running asynchronous RMAs and signals);
 *   api.c and messaging.c hold the entry points built on them.
 */
#ifndef SCIF_INTERNAL_H
#define SCIF_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scif.h"
#include "scif_emu.h"

#define SCIF_EMU_PAGE_SIZE 4096UL

/*
 * Longest domain directory: its socket paths ("<dir>/admin/255.65535",
 * "<dir>/rma/<pid>") must fit in sun_path.
 */
#define DOMAIN_PATH_MAX 90

/* Waits on a peer that the library bounds (see the trust model). */
#define RETIRE_WAIT_MS	    20	 /* unregister/close vs the peer's RMAs */
#define FALLBACK_TIMEOUT_MS 1000 /* one step of a fallback RMA */
#define FALLBACK_IDLE_MS    5000 /* a fallback channel with no request */

/* Stores err in errno and returns -1: the common failure exit. */
static inline int fail(int err)
{
	errno = err;
	return -1;
}

/* Milliseconds on the monotonic clock. */
int64_t now_ms(void);

/* --- stats.c: call statistics (SCIF_EMU_STATS, emulator only) ---------- */

enum stat_call {
	STAT_SEND,
	STAT_RECV,
	STAT_REGISTER,
	STAT_UNREGISTER,
	STAT_READFROM,
	STAT_WRITETO,
	STAT_VREADFROM,
	STAT_VWRITETO,
	STAT_FENCE_MARK,
	STAT_FENCE_WAIT,
	STAT_FENCE_SIGNAL,
	STAT_DMA, /* queued RMAs copied, by whichever thread */
	STAT_CALLS
};

/* 0 when statistics are off, else the time the call began. */
uint64_t stats_begin(void);
/* Counts call, begun at begun (stats_begin), that moved bytes (if > 0). */
void stats_end(enum stat_call call, uint64_t begun, long long bytes);
/* A fork()ed child starts counting from zero, as itself. */
void stats_fork_child(void);

/* --- nodes.c: emulated machines (domains) and their nodes --------------- */

struct emu_config {
	uint16_t node;			  /* SCIF_EMU_NODE */
	uint16_t nodes;			  /* SCIF_EMU_NODES */
	char domain[DOMAIN_PATH_MAX + 1]; /* directory of the domain */
};

/* Reads SCIF_EMU_*; returns 0 or -EINVAL on malformed values. */
int emu_config_load(struct emu_config *cfg);

/* The ports this process holds in one domain (see ports.c). */
struct port_set {
	size_t count, capacity;
	uint32_t *keys; /* node << 16 | port */
};

/*
 * One domain as this process uses it: its directory and the lock file on
 * which ports are reserved and node membership is recorded. POSIX record
 * locks never conflict within one process, so the ports held here are also
 * kept in a set; after fork() that process-local part starts empty.
 */
struct domain {
	struct domain *next;
	int refs; /* under the registry lock in nodes.c */
	char path[DOMAIN_PATH_MAX + 1];
	int dirfd;
	int lockfd;	  /* "<dir>/locks" */
	int admin_lockfd; /* "<dir>/admin/locks", root only; -1 until used */
	unsigned mode;	  /* bits of what we create; sticky if others write */
	uid_t owner;	  /* the directory's: its lock file must be theirs */
	pthread_mutex_t lock;
	pid_t pid; /* process the fields below belong to */
	struct port_set ports;
	uint32_t node_users[SCIF_EMU_MAX_NODES];
};

/* Takes (or gives back) the domain registry and every domain's lock. */
void domains_fork_lock(bool lock);

/* getpid(), without a system call after the first: reset in fork()ed
 * children (api.c). */
pid_t self_pid(void);
/* Opens (creating and checking the directory) and references a domain. */
int domain_get(const char *path, struct domain **out);
void domain_ref(struct domain *d);
void domain_put(struct domain *d);
/*
 * Opens a regular file owner or root owns; only owner creates it (with
 * mode's read/write bits), anybody else gets EACCES until then.
 */
int domain_open_file(int dirfd, const char *name, unsigned mode, uid_t owner);
/*
 * Binds sock to addr, the socket file name in d's subdirectory dir (made
 * with d's mode if missing; a stale file there is removed: the caller holds
 * the name), then gives the file mode's read/write bits (domain_files.c).
 */
int domain_bind_socket(const struct domain *d, int sock, const char *dir,
		       const char *name, const void *addr, unsigned addr_len,
		       unsigned mode);
/* Removes the socket file name of d's subdirectory dir, if there. */
void domain_unlink_socket(const struct domain *d, const char *dir,
			  const char *name);
/* Takes d's lock, first resetting state inherited across fork(). */
void domain_lock(struct domain *d);
void domain_unlock(struct domain *d);

/* Lock file layout: node flags, node membership, then one byte per port. */
#define LOCKS_NODE_MEMBER(node) (4096 + (off_t)(node))
#define LOCKS_PORT(node, port)	(65536 + (off_t)(node) * 65536 + (port))

/* True when node is marked offline (a card reset in progress). */
bool node_offline(struct domain *d, uint16_t node);
/*
 * Registers this process as acting as node (a shared record lock the
 * fault injector can find); fails with ENODEV while the node is offline.
 */
int node_join(struct domain *d, uint16_t node);
void node_leave(struct domain *d, uint16_t node);
/*
 * Fault injection, the domain owner's alone (-EPERM otherwise): marks node
 * offline and kills every other process acting as it (-EBUSY if this one
 * does); node_bring_online clears the mark.
 */
int node_take_offline(struct domain *d, uint16_t node);
int node_bring_online(struct domain *d, uint16_t node);

/* --- ports.c: port reservations and socket names ------------------------ */

/* Mirrors MPSS: ports below SCIF_ADMIN_PORT_END need privilege. */
bool caller_is_privileged(void);

/*
 * Reserves port pn of node (0: any free one >= SCIF_PORT_RSVD) and binds
 * fd to the port's socket file. Returns the port, or -EADDRINUSE, -EEXIST
 * (held by an endpoint of this process), -EACCES, -ENOSPC, -errno.
 */
int port_bind(struct domain *d, uint16_t node, uint16_t pn, int fd);
/* Removes the socket file and gives the reservation back. */
void port_unbind(struct domain *d, uint16_t node, uint16_t pn);
/* Connects fd to (node, pn)'s socket file; 0 or -ECONNREFUSED/-errno. */
int port_connect(struct domain *d, uint16_t node, uint16_t pn, int fd);
/* Parses a peer's socket address into the port it names; 0 or -EINVAL. */
int port_from_address(struct domain *d, const void *sun, size_t len,
		      struct scif_portID *out);
/*
 * What the kernel says of a claim by process pid (user uid) to hold
 * (node, pn): it does, the port is free (its holder is gone), or somebody
 * else holds it. Ports below 1024 are held only by root, in the root-owned
 * directory.
 */
enum port_claim { CLAIM_HELD, CLAIM_FREE, CLAIM_OTHER };
enum port_claim port_claim(struct domain *d, uint16_t node, uint16_t pn,
			   pid_t pid, uid_t uid);
/* The socket file of pid's fallback RMA service; returns its length. */
int service_address(struct domain *d, pid_t pid, void *sun);

/* --- window tables: one per side, shared read-only with the peer ------- */

/*
 * A published window. Only the owner writes it; seq is odd while the slot
 * changes or retires. The peer reads it with no trust: see windows.c.
 */
struct table_slot {
	_Atomic uint32_t seq;
	_Atomic uint32_t prot;
	_Atomic uint64_t offset;
	_Atomic uint64_t len; /* 0: free */
	_Atomic uint64_t addr;
};

struct window_table {
	uint32_t magic;
	uint32_t version;
	uint64_t token;		     /* the owner's endpoint, for its service */
	_Atomic uint32_t used_slots; /* slots [0, used_slots) may be live */
	_Atomic uint32_t rma_started;	/* RMAs the owner initiated ... */
	_Atomic uint32_t rma_completed; /* ... and finished (for fences) */
	uint8_t pad[36];
	struct table_slot slots[SCIF_EMU_MAX_WINDOWS];
	/* RMAs the owner runs on each of the peer's slots right now. */
	_Atomic uint32_t pins[SCIF_EMU_MAX_WINDOWS];
};

#define WINDOW_TABLE_MAGIC   0x53434946u /* "SCIF" */
#define WINDOW_TABLE_VERSION 2u

/* --- endpoints.c: the endpoint table and peer liveness ------------------ */

enum ep_state {
	EP_UNBOUND,
	EP_BOUND,
	EP_LISTENING,
	EP_CONNECTING, /* non-blocking connect: outcome not yet reported */
	EP_CONNECTED,
};

enum rma_path { RMA_PATH_PROCESS_VM, RMA_PATH_SOCKET };

/* A window as its owner knows it: the authoritative copy (windows.c). */
struct window {
	uint64_t offset;
	uint64_t len; /* 0: slot free */
	uint64_t addr;
	int prot;
	unsigned users; /* local pins: our own RMAs, fallback service copies */
	bool retiring;
};

struct window_set {
	pthread_mutex_t lock;
	pthread_cond_t idle;  /* some window's users dropped to zero */
	uint32_t capacity;    /* slots allocated so far */
	struct window *slots; /* index = slot in our published table */
};

/* Progress of the peer's hello, read from the head of the stream. */
struct hello_progress {
	uint8_t bytes[8];
	uint8_t got;
	bool foreign; /* some of it sent by another process than the peer */
	int memfd;
};

struct endpoint {
	int fd;	     /* -1 once the caller close(2)d it */
	pid_t owner; /* process that created it (fork copies detach) */
	atomic_int refs;
	atomic_bool closing;
	pthread_mutex_t lock;	   /* state, binding, connection set-up */
	pthread_mutex_t send_lock; /* keeps one blocking send contiguous */
	pthread_mutex_t recv_lock; /* the stream's head: hello, then data */
	enum ep_state state;
	int connect_result; /* 0 or -errno, reported by the next connect */
	uint16_t node;	    /* node this endpoint was opened as */
	uint16_t nodes;
	struct domain *dom;
	dev_t sock_dev; /* identity of fd's socket, to spot reuse of the */
	ino_t sock_ino; /* number after close(2) */
	struct scif_portID self;
	bool holds_port; /* self.port is ours to give back (not a listener's) */
	struct scif_portID peer;
	uint64_t token; /* names this endpoint to its fallback RMA service */

	/* Connection, from the kernel: who the peer is and whether it lives. */
	pid_t peer_pid;
	uid_t peer_uid;
	int peer_pidfd;	   /* -1 where the kernel has no pidfds */
	atomic_int broken; /* 0, or the errno the connection now reports */
	struct hello_progress hello;
	struct window_table *local_table;	 /* ours, read-write */
	struct window_table *_Atomic peer_table; /* peer's, read-only */

	struct window_set windows;
	_Atomic int rma_path; /* enum rma_path */

	/* Our RMAs in progress, oldest first, for fences (fence.c). */
	pthread_mutex_t rma_lock;
	pthread_cond_t rma_progress; /* an RMA completed */
	struct rma_ticket *oldest_rma, *newest_rma;
	uint32_t next_ticket;
	int async_error;	/* -errno of a failed asynchronous RMA, */
	uint32_t failed_ticket; /* and its ticket, until a fence reports it */
	pthread_mutex_t channel_lock;
	int channel_fd; /* to the peer's fallback RMA service, or -1 */
};

/*
 * A new endpoint owning fd (one reference, not yet in the table), acting
 * as node of dom. Returns 0, -ENODEV (node offline) or -ENOMEM; on failure
 * fd stays the caller's.
 */
int ep_create(int fd, uint16_t node, uint16_t nodes, struct domain *dom,
	      struct endpoint **out);
/*
 * Publishes ep under ep->fd (the table takes ep's reference). An endpoint
 * still filed under that number was close(2)d by the caller: it is
 * returned in *stale for the caller to tear down. Returns 0 or -ENOMEM.
 */
int ep_table_insert(struct endpoint *ep, struct endpoint **stale);
/*
 * Around fork(): prepare takes the endpoint table's lock; in the child,
 * every inherited endpoint's number is then pointed at an inert socket, so
 * that the creator's close(2) ends the connection whatever it forked (the
 * peer sees the hang-up and stops reaching windows whose memory may be
 * reused), while the number stays taken until the child closes it. The
 * parent's fork() returns only once the child has done so. Both give the
 * lock back.
 */
void endpoints_fork_prepare(void);
void endpoints_fork_parent(void);
void endpoints_fork_child(void);
/* Removes epd from the table and returns the table's reference, or NULL. */
struct endpoint *ep_unpublish(scif_epd_t epd);
/*
 * Removes one endpoint of ours whose number no longer names its socket
 * (the caller close(2)d it) and returns the table's reference, or NULL.
 */
struct endpoint *ep_unpublish_stale(void);
/* EBADF or ENOTTY, whichever MPSS would report for a non-endpoint epd. */
int ep_bad_descriptor_errno(scif_epd_t epd);

/*
 * Returns a referenced endpoint or NULL with errno EBADF/ENOTTY; EBADF for
 * an endpoint another process created (inherited across fork()). ep_get is
 * for the hot paths (send, recv); ep_get_live also refuses an endpoint whose
 * number the caller close(2)d, whatever the number names now.
 */
struct endpoint *ep_get(scif_epd_t epd);
struct endpoint *ep_get_live(scif_epd_t epd);
/* True when ep's number no longer names its socket (close(2)d). */
bool ep_is_stale(struct endpoint *ep);
void ep_put(struct endpoint *ep);
/* Calls fn on every published endpoint until it returns true; that one
 * is returned referenced. */
struct endpoint *ep_find(bool (*fn)(struct endpoint *, const void *),
			 const void *arg);
/* The number of published endpoints fn returns true for. */
size_t ep_count(bool (*fn)(struct endpoint *, const void *), const void *arg);

/* SCIF_EMU_RMA_PATH: the path new endpoints start with. */
enum rma_path rma_path_default(void);

/* Remembers which socket ep->fd is, for ep_unpublish_stale. */
void ep_note_socket(struct endpoint *ep);

/*
 * 0 while the connection stands, -ECONNRESET once the peer closed, died or
 * the connection was reset, -ENODEV when the peer's node is offline.
 */
int ep_peer_state(struct endpoint *ep);
/* -ENODEV if the peer's node is offline, else -ECONNRESET. */
int ep_lost_errno(struct endpoint *ep);
/* True while the peer's process runs (its pidfd; else its socket). */
bool ep_peer_process_alive(struct endpoint *ep);
/* -ENOTCONN unless connected, else ep_peer_state(). */
int ep_check_connected(struct endpoint *ep);
/* Ends the connection: both sides see ECONNRESET from now on. */
void ep_reset(struct endpoint *ep, int err);

/*
 * Blocks until ep's descriptor has one of events, in bounded slices so that
 * a concurrent scif_close is noticed (-EINTR). Returns 0 or -errno.
 */
int ep_wait(struct endpoint *ep, short events);

/* --- handshake.c: connection set-up ------------------------------------- */

/*
 * Has the kernel say which process sent what fd receives (SO_PASSCRED), as
 * the peer's hello needs; listeners pass it on to accepted sockets.
 */
int handshake_pass_credentials(int fd, bool on);
/* Connects ep (bound) to dst, checks who listens and sends our hello. */
int handshake_connect(struct endpoint *ep, const struct scif_portID *dst);
/*
 * Turns a just-accepted socket into ep's connection: the peer's port and
 * identity come from the kernel, never from what it sends. Does not wait
 * for the peer. Returns 0 or -EAGAIN (a peer to refuse), -errno.
 */
int handshake_accept(struct endpoint *ep, const void *sun, size_t sun_len);
/*
 * Reads whatever of the peer's hello has arrived (never blocking, unless
 * block is set); call with recv_lock held. Returns 1 once the hello is
 * complete, 0 if more is to come, or -errno (the connection is then reset).
 */
int handshake_progress(struct endpoint *ep, bool block);
/* The peer's window table, reading its hello now if it has arrived. */
const struct window_table *handshake_peer_table(struct endpoint *ep);

/* --- windows.c: registered address space -------------------------------- */

int windows_register(struct endpoint *ep, void *addr, size_t len, off_t offset,
		     int prot, int map_flags, off_t *placed);
int windows_unregister(struct endpoint *ep, off_t offset, size_t len);
/* Retires every window (scif_close): waits at most RETIRE_WAIT_MS for the
 * peer's RMAs, then resets the connection. */
void windows_release_all(struct endpoint *ep);

/* Local memory behind a range of offsets: pieces of windows, pinned. */
struct segment {
	uint32_t slot;
	uint32_t seq; /* peer windows: the slot's sequence when pinned */
	uint64_t addr;
	uint64_t len;
};

struct segment_list {
	size_t count;
	size_t capacity;
	struct segment *segs;
	struct segment inline_segs[4];
};

void segments_init(struct segment_list *list);
int segments_push(struct segment_list *list, struct segment seg);
void segments_free(struct segment_list *list);

/*
 * Pins ep's own windows covering [offset, offset+len) with at least
 * need_prot: they cannot be retired until windows_unpin_local. Returns 0
 * or -ENXIO (hole, out of range), -EACCES, -ENOMEM.
 */
int windows_pin_local(struct endpoint *ep, uint64_t offset, uint64_t len,
		      int need_prot, struct segment_list *out);
void windows_unpin_local(struct endpoint *ep, struct segment_list *list);

/*
 * Pins the peer's windows covering [offset, offset+len) by counting our
 * RMA in our own table, where the peer's unregister waits for it. Every
 * value read from the peer's table is checked first. Same returns.
 */
int windows_pin_peer(struct endpoint *ep, const struct window_table *peer,
		     uint64_t offset, uint64_t len, int need_prot,
		     struct segment_list *out);
void windows_unpin_peer(struct endpoint *ep, struct segment_list *list);
/* False once the peer retired the window behind seg (stop copying). */
bool windows_peer_still_valid(const struct window_table *peer,
			      const struct segment *seg);

/* A side's published RMA counters (see fence.c), for the peer's fences. */
uint32_t windows_rma_count(const struct window_table *t, bool completed);

/* --- fallback_service.c / fallback_client.c ------------------------------ */

/*
 * The fallback RMA path, for peers the kernel does not let us reach with
 * process_vm_* (another user, Yama ptrace_scope): the peer's own helper
 * thread copies, so it can only ever touch its own windows. A channel is a
 * connection to "<domain>/rma/<pid>", authenticated both ways by the
 * kernel: the client checks the server is the peer's pid, the server that
 * the client is the peer of the endpoint the channel names.
 */
enum rma_dir { RMA_READ, RMA_WRITE }; /* seen from the initiator */

#define FALLBACK_MAGIC	 0x53434652u /* "SCFR" */
#define FALLBACK_VERSION 2u
#define FALLBACK_CHUNK	 (256 * 1024)

/*
 * Both tokens name one connection: a client with several connections to
 * the server's process gets only the one the table it read belongs to.
 */
struct fallback_open {
	uint32_t magic;
	uint32_t version;
	uint64_t token; /* the server's endpoint, from its window table */
	uint64_t client_token; /* the client's, from its own window table */
};

/* Then per RMA: a request, a status (int32: 0 or an errno), the data. */
struct fallback_request {
	uint32_t dir; /* enum rma_dir */
	uint32_t reserved;
	uint64_t offset; /* in the server's registered address space */
	uint64_t len;
};

/* RMA_READ data comes in chunks, each after its own header. */
struct fallback_chunk {
	int32_t status;
	uint32_t len;
};

/* Moves exactly len bytes (send or receive); 0, -ETIMEDOUT, -ECONNRESET. */
int fallback_io(int fd, enum rma_dir dir, void *buf, size_t len);
/* Bounds every send and receive on fd by FALLBACK_TIMEOUT_MS. */
void fallback_set_timeouts(int fd);

/* Takes (or gives back) the services' lock, around fork(). */
void services_fork_lock(bool lock);
/* Starts this process's fallback RMA service in ep's domain. */
int fallback_service_start(struct endpoint *ep);
/*
 * Moves len bytes between local segments and the peer's window range at
 * roffset through the peer's service, which checks range and protection.
 * Returns 0 or -errno.
 */
int fallback_copy(struct endpoint *ep, enum rma_dir dir,
		  const struct segment_list *local, uint64_t roffset,
		  uint64_t len);

/* --- rma.c ---------------------------------------------------------------- */

/* One RMA call's arguments: vaddr for the v-forms, else loffset. */
struct rma_args {
	enum rma_dir dir;
	bool virt;
	void *vaddr;
	uint64_t loffset;
	uint64_t len;
	uint64_t roffset;
};

/* Runs an RMA to completion in the calling thread; 0 or -errno. */
int rma_run(struct endpoint *ep, const struct rma_args *args);
/* Writes len bytes into the peer's windows at roffset (fence signals). */
int rma_write_peer(struct endpoint *ep, uint64_t roffset, const void *data,
		   size_t len);

/* --- fence.c: completion order of our RMAs -------------------------------- */

/*
 * An RMA of ours from issue to completion. Tickets are numbered in issue
 * order; the lowest number still in progress is how far our RMAs are
 * complete, which our fences wait on and our window table publishes for
 * the peer's (rma_started: next number, rma_completed: that lowest one).
 */
struct rma_ticket {
	struct rma_ticket *prev, *next;
	uint32_t number;
};

void rma_ticket_take(struct endpoint *ep, struct rma_ticket *ticket);
/* True when a ticket numbered number was issued before mark. */
bool rma_ticket_before(uint32_t number, uint32_t mark);
/* Completes ticket; an asynchronous RMA's failure waits for a fence. */
void rma_ticket_done(struct endpoint *ep, struct rma_ticket *ticket, int rc,
		     bool async);

/* A queued scif_fence_signal's values. */
struct signal_args {
	bool local, remote;
	uint64_t loff, lval, roff, rval;
};

/*
 * Waits for every ticket before mark (the signal's own), then writes the
 * values unless one of them failed; a write that fails is reported like a
 * failed RMA.
 */
void fence_signal_run(struct endpoint *ep, const struct signal_args *args,
		      uint32_t mark);

/* --- dma.c: the DMA engine ------------------------------------------------ */

/*
 * Queues an RMA or a signal, each with a ticket (later marks cover both);
 * 0 or -ENOMEM/-EAGAIN.
 */
int dma_submit_rma(struct endpoint *ep, const struct rma_args *args);
int dma_submit_signal(struct endpoint *ep, const struct signal_args *args);
/* Takes (or gives back) the queue's lock around fork(); a child starts
 * with an empty queue and no engine thread. */
void dma_fork_lock(bool lock);
void dma_fork_child(void);
/* Runs here, in order, ep's queued requests issued before mark. */
void dma_run_queued(struct endpoint *ep, uint32_t mark);

#endif /* SCIF_INTERNAL_H */
