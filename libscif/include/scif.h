/* SPDX-License-Identifier: MPL-2.0 */
/*
 * scif.h - user-space SCIF (Symmetric Communications Interface) API.
 *
 * This header declares the same functions, types and constant values as the
 * user-mode scif.h shipped with Intel MPSS 3.x, so that a program compiled
 * against it also runs against the real libscif.so.0 (and vice versa). The
 * implementation behind it (this project's libscif) emulates a SCIF network
 * of several nodes on one Linux machine; see scif_emu.h and README.md for the
 * emulation-specific parts.
 *
 * Conventions shared by every function below:
 *  - On failure a function returns -1 (or the SCIF_*_FAILED value named in
 *    its description) and sets errno.
 *  - EBADF: epd is not an open file descriptor, or an endpoint another
 *    process opened (inherited across fork(): only scif_close works there,
 *    dropping this process's descriptor). ENOTTY: epd is an open file
 *    descriptor but not a SCIF endpoint. (MPSS documents EINVAL as well for
 *    bad descriptors; this implementation uses EBADF/ENOTTY.)
 *  - An endpoint is in one of these states: unbound (fresh from scif_open),
 *    bound, listening, connecting (non-blocking connect in progress) or
 *    connected. A connected endpoint whose peer went away stays "connected"
 *    for the caller but its operations fail with ECONNRESET.
 */
#ifndef __SCIF_H__
#define __SCIF_H__

#include <stdint.h>
#include <unistd.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/select.h>
#include <poll.h>

#ifdef __cplusplus
extern "C" {
#endif

/* scif_accept() flag: wait for a connection request instead of failing. */
#define SCIF_ACCEPT_SYNC 1
/* scif_send() flag: return only once every byte was handed over. */
#define SCIF_SEND_BLOCK 1
/* scif_recv() flag: return only once the whole buffer was filled. */
#define SCIF_RECV_BLOCK 1

/* Old spellings kept by MPSS for source compatibility. */
#define ACCEPT_SYNC SCIF_ACCEPT_SYNC
#define SEND_BLOCK  SCIF_SEND_BLOCK
#define RECV_BLOCK  SCIF_RECV_BLOCK

/* Window protection (scif_register, scif_mmap). */
enum { SCIF_PROT_READ = (1 << 0), SCIF_PROT_WRITE = (1 << 1) };

/* Mapping flags. SCIF_MAP_KERNEL is kernel-mode only (EINVAL here). */
enum { SCIF_MAP_FIXED = 0x10, SCIF_MAP_KERNEL = 0x20 };

/* Whose RMAs a fence covers: this endpoint's, or its peer's. */
enum { SCIF_FENCE_INIT_SELF = (1 << 0), SCIF_FENCE_INIT_PEER = (1 << 1) };

/* Registered address space a fence refers to (accepted, unused by MPSS). */
enum { SCIF_FENCE_RAS_SELF = (1 << 2), SCIF_FENCE_RAS_PEER = (1 << 3) };

/* scif_fence_signal(): where to write the completion value(s). */
enum { SCIF_SIGNAL_LOCAL = (1 << 4), SCIF_SIGNAL_REMOTE = (1 << 5) };

/* RMA transfer flags. */
#define SCIF_RMA_USECPU	  1
#define SCIF_RMA_USECACHE (1 << 1)
#define SCIF_RMA_SYNC	  (1 << 2)
#define SCIF_RMA_ORDERED  (1 << 3)

/* scif_poll() event bits are the poll(2) bits. */
#define SCIF_POLLIN   POLLIN
#define SCIF_POLLOUT  POLLOUT
#define SCIF_POLLERR  POLLERR
#define SCIF_POLLHUP  POLLHUP
#define SCIF_POLLNVAL POLLNVAL

/*
 * Well-known ports reserved by MPSS components. Ports below
 * SCIF_ADMIN_PORT_END may only be bound by privileged processes; ports below
 * SCIF_PORT_RSVD are never handed out by scif_bind(epd, 0).
 */
#define SCIF_COI_PORT_0 40
#define SCIF_COI_PORT_1 41
#define SCIF_COI_PORT_2 42
#define SCIF_COI_PORT_3 43
#define SCIF_COI_PORT_4 44
#define SCIF_COI_PORT_5 45
#define SCIF_COI_PORT_6 46
#define SCIF_COI_PORT_7 47
#define SCIF_COI_PORT_8 48
#define SCIF_COI_PORT_9 49

#define SCIF_OFED_PORT_0 60
#define SCIF_OFED_PORT_1 61
#define SCIF_OFED_PORT_2 62
#define SCIF_OFED_PORT_3 63
#define SCIF_OFED_PORT_4 64
#define SCIF_OFED_PORT_5 65
#define SCIF_OFED_PORT_6 66
#define SCIF_OFED_PORT_7 67
#define SCIF_OFED_PORT_8 68
#define SCIF_OFED_PORT_9 69

#define SCIF_NETDEV_PORT_0 80
#define SCIF_NETDEV_PORT_1 81
#define SCIF_NETDEV_PORT_2 82
#define SCIF_NETDEV_PORT_3 83
#define SCIF_NETDEV_PORT_4 84
#define SCIF_NETDEV_PORT_5 85
#define SCIF_NETDEV_PORT_6 86
#define SCIF_NETDEV_PORT_7 87
#define SCIF_NETDEV_PORT_8 88
#define SCIF_NETDEV_PORT_9 89

#define SCIF_RAS_PORT_0 100
#define SCIF_RAS_PORT_1 101
#define SCIF_RAS_PORT_2 102
#define SCIF_RAS_PORT_3 103
#define SCIF_RAS_PORT_4 104
#define SCIF_RAS_PORT_5 105
#define SCIF_RAS_PORT_6 106
#define SCIF_RAS_PORT_7 107
#define SCIF_RAS_PORT_8 108
#define SCIF_RAS_PORT_9 109

#define SCIF_PM_PORT_0 120
#define SCIF_PM_PORT_1 121
#define SCIF_PM_PORT_2 122
#define SCIF_PM_PORT_3 123
#define SCIF_PM_PORT_4 124
#define SCIF_PM_PORT_5 125
#define SCIF_PM_PORT_6 126
#define SCIF_PM_PORT_7 127
#define SCIF_PM_PORT_8 128
#define SCIF_PM_PORT_9 129

#define SCIF_BT_PORT_0 130
#define SCIF_BT_PORT_1 131
#define SCIF_BT_PORT_2 132
#define SCIF_BT_PORT_3 133
#define SCIF_BT_PORT_4 134
#define SCIF_BT_PORT_5 135
#define SCIF_BT_PORT_6 136
#define SCIF_BT_PORT_7 137
#define SCIF_BT_PORT_8 138
#define SCIF_BT_PORT_9 139

#define MPSSD_MONRECV 160
#define MIC_NOTIFY    161
#define MPSSD_CRED    162
#define MPSSD_MONSEND 163
#define MPSSD_MICCTRL 164
#define MPSSD_RESV5   165
#define MPSSD_RESV6   166
#define MPSSD_RESV7   167
#define MPSSD_RESV8   168
#define MPSSD_RESV9   169

#define SCIF_ADMIN_PORT_END 1024

#define SCIF_MYO_PORT_0 1025
#define SCIF_MYO_PORT_1 1026
#define SCIF_MYO_PORT_2 1027
#define SCIF_MYO_PORT_3 1028
#define SCIF_MYO_PORT_4 1029
#define SCIF_MYO_PORT_5 1030
#define SCIF_MYO_PORT_6 1031
#define SCIF_MYO_PORT_7 1032
#define SCIF_MYO_PORT_8 1033
#define SCIF_MYO_PORT_9 1034

#define SCIF_ST_PORT_0 1044
#define SCIF_ST_PORT_1 1045
#define SCIF_ST_PORT_2 1046
#define SCIF_ST_PORT_3 1047
#define SCIF_ST_PORT_4 1048
#define SCIF_ST_PORT_5 1049
#define SCIF_ST_PORT_6 1050
#define SCIF_ST_PORT_7 1051
#define SCIF_ST_PORT_8 1052
#define SCIF_ST_PORT_9 1053

#define SCIF_PORT_RSVD 1088

/* An endpoint descriptor is a file descriptor, as with MPSS. */
typedef int scif_epd_t;

/* One entry of the scif_poll() array, laid out like struct pollfd. */
struct scif_pollepd {
	scif_epd_t epd; /* endpoint to examine */
	short events;	/* SCIF_POLL* bits the caller waits for */
	short revents;	/* SCIF_POLL* bits that are true (output) */
};

#define SCIF_OPEN_FAILED     ((scif_epd_t) - 1)
#define SCIF_REGISTER_FAILED ((off_t) - 1)
#define SCIF_MMAP_FAILED     ((void *)-1)

/* Global address of a port: the node it lives on and its number there. */
struct scif_portID {
	uint16_t node;
	uint16_t port;
};

/* Old spellings kept by MPSS for source compatibility. */
#define portID scif_portID
typedef struct portID portID_t;

/*
 * scif_open() - create a new, unbound endpoint.
 *
 * Returns the endpoint descriptor (a file descriptor, close-on-exec), or
 * SCIF_OPEN_FAILED with errno ENOMEM/EMFILE/ENFILE when out of resources, or
 * EINVAL when the emulation environment (SCIF_EMU_NODE, SCIF_EMU_NODES,
 * SCIF_EMU_DOMAIN) is malformed. The environment is read here, so each
 * endpoint keeps the node identity it was opened with. A domain given as
 * an absolute directory must be the caller's or root's (else EPERM), not a
 * symbolic link (ELOOP), and sticky if others may write it (else EPERM);
 * EACCES when the domain belongs to someone else or its owner has not set
 * it up (its lock file is not the owner's).
 */
scif_epd_t scif_open(void);

/*
 * scif_close() - tear an endpoint down.
 *
 * A listening endpoint stops accepting and its not yet accepted requests are
 * dropped. A connected endpoint disconnects: its peer sees end of stream
 * (scif_recv still drains data already queued, then ECONNRESET). Windows
 * registered through epd are unregistered first, which waits for RMAs in
 * progress against them. The port is released. Threads blocked on epd in
 * scif_accept/scif_send/scif_recv return with EINTR.
 *
 * Returns 0, or -1 with EBADF/ENOTTY.
 */
int scif_close(scif_epd_t epd);

/*
 * scif_bind() - attach an unbound endpoint to local port pn.
 *
 * pn == 0 asks for any free port >= SCIF_PORT_RSVD. Ports below
 * SCIF_ADMIN_PORT_END need a privileged caller (effective uid 0 or
 * CAP_SYS_ADMIN).
 *
 * Returns the bound port number, or -1 with:
 *  EINVAL     the endpoint is already bound (or listening);
 *  EISCONN    the endpoint is connected or connecting;
 *  EADDRINUSE another endpoint of this node holds pn;
 *  ENOSPC     pn == 0 and every port is taken;
 *  EACCES     pn < SCIF_ADMIN_PORT_END and the caller is not privileged.
 */
int scif_bind(scif_epd_t epd, uint16_t pn);

/*
 * scif_listen() - turn a bound endpoint into a listening one.
 *
 * backlog bounds the queue of connection requests not yet accepted (values
 * < 1 are treated as 1). A listening endpoint is readable (POLLIN) while a
 * request is queued.
 *
 * Returns 0, or -1 with EINVAL (not bound) or EISCONN (already connected or
 * listening).
 */
int scif_listen(scif_epd_t epd, int backlog);

/*
 * scif_connect() - connect epd to the listening port dst.
 *
 * An unbound epd is first bound to a free port >= SCIF_PORT_RSVD. The
 * request completes as soon as it is queued at the listener (there is no
 * wait for scif_accept); the listener's backlog then holds it.
 *
 * When O_NONBLOCK is set on scif_get_fd(epd), the call returns -1/EINPROGRESS
 * after starting the request. The descriptor then becomes writable (POLLOUT)
 * once the outcome is known, and a further scif_connect() call on epd
 * reports it: the bound port on success or -1 with the error below.
 *
 * Returns the local port epd is bound to (>= 0), or -1 with:
 *  EINVAL       dst is NULL or dst->port is 0;
 *  EISCONN      already connected;
 *  EOPNOTSUPP   epd is listening;
 *  ENODEV       dst->node is not an online node;
 *  ECONNREFUSED nothing listens on dst, or its backlog is full;
 *  ENOSPC       auto-binding found no free port;
 *  EINPROGRESS  non-blocking request started (see above);
 *  EINTR        a blocking request was interrupted by a signal.
 * Note: MPSS documents 0 as the result of the completing call after
 * EINPROGRESS while its library returns the port; test for >= 0.
 */
int scif_connect(scif_epd_t epd, struct scif_portID *dst);

/*
 * scif_accept() - take the first queued connection request of a listening
 * endpoint.
 *
 * With SCIF_ACCEPT_SYNC in flags the call waits for a request; without it
 * an empty queue fails with EAGAIN. On success *newepd is a new endpoint,
 * connected and bound to the listener's port, and *peer is the port ID of
 * the requesting endpoint. epd keeps listening.
 *
 * Returns 0, or -1 with:
 *  EINVAL epd is not listening, flags has unknown bits, peer or newepd is
 *         NULL;
 *  EAGAIN no request queued (non-sync), or the requester vanished before
 *         the connection could be completed;
 *  EINTR  interrupted by a signal or by scif_close(epd) in another thread;
 *  ENOMEM/EMFILE out of resources.
 */
int scif_accept(scif_epd_t epd, struct scif_portID *peer, scif_epd_t *newepd,
		int flags);

/*
 * scif_send() - send up to len bytes of msg to the peer (a byte stream).
 *
 * Without SCIF_SEND_BLOCK only what fits without waiting is sent, possibly
 * nothing (the result is then 0; poll for POLLOUT). With SCIF_SEND_BLOCK the
 * call returns after all len bytes were queued; if the connection breaks or
 * a signal arrives after some bytes went out, that partial count is
 * returned.
 *
 * Returns the number of bytes sent, or -1 with:
 *  EINVAL     flags has unknown bits or len < 0;
 *  ENOTCONN   epd is not connected;
 *  ECONNRESET the peer closed or died (nothing was sent);
 *  EFAULT     msg is not readable;
 *  EINTR      a blocking call was interrupted before sending anything.
 */
int scif_send(scif_epd_t epd, void *msg, int len, int flags);

/*
 * scif_recv() - receive up to len bytes from the peer into msg.
 *
 * Without SCIF_RECV_BLOCK only the bytes already available are taken,
 * possibly none (the result is then 0; poll for POLLIN). With
 * SCIF_RECV_BLOCK the call waits until len bytes arrived, unless the peer
 * goes away or a signal arrives after some bytes, in which case that partial
 * count is returned. Data the peer sent before closing can still be read.
 *
 * Returns the number of bytes received, or -1 with:
 *  EINVAL     flags has unknown bits or len < 0;
 *  ENOTCONN   epd is not connected;
 *  ECONNRESET the peer closed or died and no data is left;
 *  EFAULT     msg is not writable;
 *  EINTR      a blocking call was interrupted before receiving anything.
 */
int scif_recv(scif_epd_t epd, void *msg, int len, int flags);

/*
 * scif_register() - expose len bytes of memory at addr as a window of epd's
 * registered address space, so that the peer can reach it by RMA.
 *
 * addr and len must be page multiples (len > 0). With SCIF_MAP_FIXED in
 * map_flags the window is placed exactly at offset (a page multiple);
 * otherwise offset is a hint (0: anywhere) and a free page-aligned range is
 * chosen. Windows never overlap. prot_flags is a non-empty combination of
 * SCIF_PROT_READ and SCIF_PROT_WRITE and limits what RMAs may do with the
 * window. The memory is not pinned: it must stay mapped until the window is
 * unregistered.
 *
 * Returns the window's offset, or SCIF_REGISTER_FAILED with:
 *  EINVAL     bad alignment, len 0, negative offset, unknown prot/map flags;
 *  EADDRINUSE SCIF_MAP_FIXED and the range overlaps a window, or the offset
 *             lies in [2^62, 2^63);
 *  EFAULT     [addr, addr+len) is not mapped;
 *  EAGAIN     the endpoint's window table is full (see scif_emu.h);
 *  ENOTCONN   epd is not connected;
 *  ECONNRESET the peer is gone.
 */
off_t scif_register(scif_epd_t epd, void *addr, size_t len, off_t offset,
		    int prot_flags, int map_flags);

/*
 * scif_unregister() - close every window lying entirely inside
 * [offset, offset+len). Waits until RMAs in progress on those windows end.
 *
 * Returns 0, or -1 with (nothing is unregistered on error):
 *  EINVAL     offset negative or not page aligned, len not a page multiple
 *             or 0, or the range cuts a window;
 *  ENXIO      the range contains no window at all;
 *  ENOTCONN   epd is not connected;
 *  ECONNRESET the peer is gone.
 */
int scif_unregister(scif_epd_t epd, off_t offset, size_t len);

/*
 * scif_mmap() - map the peer's window pages into this process.
 *
 * Not supported by the emulation: ordinary process memory cannot be shared
 * after the fact. Always returns SCIF_MMAP_FAILED with errno ENOSYS after
 * the documented argument checks (EINVAL for bad alignment/flags, EBADF,
 * ENOTTY, ENOTCONN). Use scif_vreadfrom/scif_vwriteto instead.
 */
void *scif_mmap(void *addr, size_t len, int prot_flags, int map_flags,
		scif_epd_t epd, off_t offset);

/*
 * scif_munmap() - remove mappings from the pages covering [addr, addr+len).
 * As scif_mmap never maps anything, this behaves as munmap(2) does.
 *
 * Returns 0, or -1 with EINVAL if addr or len is not a page multiple.
 */
int scif_munmap(void *addr, size_t len);

/*
 * scif_readfrom() - copy len bytes from the peer's registered address space
 * at roffset into this endpoint's registered address space at loffset.
 *
 * Either range may span several windows as long as they are adjacent. The
 * copy is done by the caller alone (the peer process does no work) and is
 * complete when the call returns, whatever rma_flags says.
 *
 * Returns 0, or -1 with:
 *  EINVAL     rma_flags has unknown bits;
 *  ENXIO      a range is not fully covered by windows, or an offset is
 *             negative (no memory is touched);
 *  EACCES     the remote window lacks SCIF_PROT_READ or the local window
 *             lacks SCIF_PROT_WRITE (no memory is touched);
 *  ENOTCONN   epd is not connected;
 *  ECONNRESET the peer is gone.
 */
int scif_readfrom(scif_epd_t epd, off_t loffset, size_t len, off_t roffset,
		  int rma_flags);

/*
 * scif_writeto() - copy len bytes from this endpoint's registered address
 * space at loffset into the peer's registered address space at roffset.
 * Same rules and errors as scif_readfrom(), with the directions swapped
 * (EACCES: local window not readable or remote window not writable).
 */
int scif_writeto(scif_epd_t epd, off_t loffset, size_t len, off_t roffset,
		 int rma_flags);

/*
 * scif_vreadfrom() - copy len bytes from the peer's registered address
 * space at roffset into ordinary memory at addr.
 * Errors as scif_readfrom(), plus EFAULT when addr is not writable.
 */
int scif_vreadfrom(scif_epd_t epd, void *addr, size_t len, off_t roffset,
		   int rma_flags);

/*
 * scif_vwriteto() - copy len bytes of ordinary memory at addr into the
 * peer's registered address space at roffset.
 * Errors as scif_writeto(), plus EFAULT when addr is not readable.
 */
int scif_vwriteto(scif_epd_t epd, void *addr, size_t len, off_t roffset,
		  int rma_flags);

/*
 * scif_fence_mark() - label the RMAs issued so far through epd
 * (SCIF_FENCE_INIT_SELF) or through its peer (SCIF_FENCE_INIT_PEER); exactly
 * one of the two. The label is stored in *mark for scif_fence_wait().
 *
 * Returns 0, or -1 with EINVAL (bad flags, mark NULL), ENOTCONN or
 * ECONNRESET.
 */
int scif_fence_mark(scif_epd_t epd, int flags, int *mark);

/*
 * scif_fence_wait() - wait until every RMA labelled by mark has completed.
 *
 * Returns 0, or -1 with EINVAL (mark not from scif_fence_mark), ENOTCONN,
 * ECONNRESET (also when the peer hangs up or dies while its RMAs are being
 * awaited) or EINTR (epd was closed by another thread during the wait).
 */
int scif_fence_wait(scif_epd_t epd, int mark);

/*
 * scif_fence_signal() - once the RMAs issued so far through epd
 * (SCIF_FENCE_INIT_SELF) or its peer (SCIF_FENCE_INIT_PEER) have completed,
 * store the 64-bit lval at offset loff of the local registered address space
 * (SCIF_SIGNAL_LOCAL) and/or rval at offset roff of the peer's
 * (SCIF_SIGNAL_REMOTE). The call returns after the stores.
 *
 * Returns 0, or -1 with:
 *  EINVAL     not exactly one INIT flag, no SIGNAL flag, unknown bits, or
 *             a used offset that is not a multiple of 4;
 *  ENXIO      [off, off+8) is not inside registered windows;
 *  ENOTCONN   epd is not connected;
 *  ECONNRESET the peer is gone.
 */
int scif_fence_signal(scif_epd_t epd, off_t loff, uint64_t lval, off_t roff,
		      uint64_t rval, int flags);

/*
 * scif_get_nodeIDs() - list the online nodes.
 *
 * Stores up to len node IDs in nodes and this process's node ID in *self.
 * Returns the total number of online nodes (which may exceed len), or -1
 * with EFAULT (self NULL, or nodes NULL with len > 0) or EINVAL (malformed
 * emulation environment).
 */
int scif_get_nodeIDs(uint16_t *nodes, int len, uint16_t *self);

/*
 * scif_get_fd() - the file descriptor behind epd, for poll/select/epoll.
 *
 * It is epd itself; there are no errors. Readable: data to receive, a
 * queued connection request (listening endpoint), or end of stream.
 * Writable: scif_send() can send at least one byte, or a non-blocking
 * connect finished. POLLHUP: the peer is gone. Setting O_NONBLOCK on it
 * only changes scif_connect() behaviour. A real function, as in MPSS's
 * libscif.so.0 (some of MPSS's headers inline it; both work).
 */
int scif_get_fd(scif_epd_t epd);

/*
 * scif_poll() - wait for events on several endpoints, like poll(2).
 *
 * events may hold SCIF_POLLIN and SCIF_POLLOUT (ignored for listening
 * endpoints); revents may in addition report SCIF_POLLERR, SCIF_POLLHUP and
 * SCIF_POLLNVAL (the descriptor is not a SCIF endpoint). timeout is in
 * milliseconds, negative for no limit.
 *
 * Returns the number of entries with non-zero revents (0 on timeout), or -1
 * with EINTR, EINVAL (nepds too large), EFAULT or ENOMEM.
 */
int scif_poll(struct scif_pollepd *epds, unsigned int nepds, long timeout);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* __SCIF_H__ */
