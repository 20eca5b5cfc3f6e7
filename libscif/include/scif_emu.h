/* SPDX-License-Identifier: MPL-2.0 */
/*
 * scif_emu.h - extras of the user-space SCIF emulation (not part of MPSS).
 *
 * Programs that must also run on a real MPSS installation should only use
 * these behind their own feature test, e.g. a weak symbol or a build option.
 */
#ifndef SCIF_EMU_H
#define SCIF_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "scif.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this emulation library, "MAJOR.MINOR.PATCH". */
#define SCIF_EMU_VERSION "0.6.0"

/* Largest value accepted in SCIF_EMU_NODES. */
#define SCIF_EMU_MAX_NODES 256

/* Windows one endpoint may have registered at a time. */
#define SCIF_EMU_MAX_WINDOWS 1024

/* Returns SCIF_EMU_VERSION of the library actually loaded. */
const char *scif_emu_version(void);

/*
 * Returns the path RMAs take on endpoints opened from now on:
 *  "process_vm" - process_vm_readv/writev straight between the two
 *                 processes' memory (one copy, the peer does no work);
 *  "socket"     - SCIF_EMU_RMA_PATH=socket forces the fallback: the peer's
 *                 own helper thread copies, over an authenticated channel
 *                 (two copies, CPU time in the peer).
 */
const char *scif_emu_rma_path(void);

/*
 * Returns the path epd's RMAs take now, or NULL (errno EBADF/ENOTTY). An
 * endpoint starts on scif_emu_rma_path() and moves to "socket" for good
 * the first time the kernel refuses process_vm_* to its peer (another
 * user, Yama ptrace_scope...): the choice is per peer.
 */
const char *scif_emu_ep_rma_path(scif_epd_t epd);

/*
 * Fault injection: takes node of the current domain offline, as a card
 * reset would. Every process acting as that node (having an endpoint open
 * as it) is killed with SIGKILL, so their peers see their connections end
 * (ECONNRESET, or ENODEV while the node stays down); until
 * scif_emu_node_online(node), connecting to the node and opening
 * endpoints as it fail with ENODEV and scif_get_nodeIDs() leaves it out.
 * Only the owner of the domain's directory (or root) may: in a shared
 * domain other members get EPERM. Returns 0, or -1 with EINVAL (no such
 * node, malformed environment), EBUSY (this process acts as that node),
 * EPERM (not the domain's owner, or a member may not be killed by us),
 * ETIMEDOUT (a member did not die within 5 s).
 */
int scif_emu_node_offline(uint16_t node);

/*
 * Brings node back online after scif_emu_node_offline(); 0, or -1 with
 * EPERM (not the domain's owner) or the errors above.
 */
int scif_emu_node_online(uint16_t node);

/*
 * Starting processes as other nodes, for test drivers that must also run
 * on MPSS (where a program runs on a card by other means, e.g. ssh).
 *
 * scif_emu_node_environment() writes into buf (size bytes) the environment
 * entry "NAME=VALUE" that a program started from this process needs to act
 * as node `node` of this process's emulated machine; the program inherits
 * the rest of the environment. Returns 0, or -1 with EINVAL (node not in
 * the machine, malformed environment) or ERANGE (buf too small).
 */
int scif_emu_node_environment(uint16_t node, char *buf, size_t size);

/*
 * Moves this process, and the programs it starts from now on, to a fresh
 * emulated machine of its own (same nodes, same node for this process), as
 * a new SCIF_EMU_DOMAIN would: for tests that take nodes offline, which
 * would disturb other processes sharing a machine. The machine's directory
 * is removed when this process exits. Changes the environment (setenv), so
 * call it before starting threads. Returns 0, or -1 with EINVAL (malformed
 * environment), EACCES (the user's base directory belongs to someone
 * else), ENOMEM or an errno of mkdtemp(3).
 */
int scif_emu_private_domain(void);

/*
 * Checks the SCIF_EMU_* environment as scif_open() and scif_get_nodeIDs()
 * read it. Returns 0 if it is well-formed; otherwise -1 with EINVAL, and
 * (when problem is not NULL) a one-line message naming the variable, its
 * value and what it accepts, truncated to size bytes.
 */
int scif_emu_check_environment(char *problem, size_t size);

/*
 * Removes an emulated machine (a name or an absolute directory, as in
 * SCIF_EMU_DOMAIN) that no process uses: named domains otherwise stay in
 * /tmp/scif-emu-<euid>. Returns 0, or -1 with EBUSY (a process is a member
 * or holds a port, or this process has it open), ENOENT, EACCES (not a
 * directory of this user's), ENOTEMPTY (something in it could not be
 * removed) or EINVAL (a malformed name).
 */
int scif_emu_remove_domain(const char *domain);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SCIF_EMU_H */
