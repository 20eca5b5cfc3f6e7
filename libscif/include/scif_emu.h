/* SPDX-License-Identifier: MPL-2.0 */
/*
 * scif_emu.h - extras of the user-space SCIF emulation (not part of MPSS).
 *
 * Programs that must also run on a real MPSS installation should only use
 * these behind their own feature test, e.g. a weak symbol or a build option.
 */
#ifndef SCIF_EMU_H
#define SCIF_EMU_H

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this emulation library, "MAJOR.MINOR.PATCH". */
#define SCIF_EMU_VERSION "0.1.0"

/* Largest value accepted in SCIF_EMU_NODES. */
#define SCIF_EMU_MAX_NODES 256

/* Windows one endpoint may have registered at a time. */
#define SCIF_EMU_MAX_WINDOWS 1024

/* Returns SCIF_EMU_VERSION of the library actually loaded. */
const char *scif_emu_version(void);

/*
 * Returns how RMAs (scif_readfrom/writeto/vreadfrom/vwriteto and remote
 * fence signals) move data in this process:
 *  "process_vm" - process_vm_readv/writev straight between the two
 *                 processes' memory (one copy, the peer does no work);
 *  "socket"     - fallback when the kernel forbids process_vm_* (EPERM,
 *                 ENOSYS) or SCIF_EMU_RMA_PATH=socket is set: the request is
 *                 served by a helper thread in the peer process over a Unix
 *                 socket (two copies, the peer's helper thread does the work).
 * The answer can change from "process_vm" to "socket" once, the first time
 * the kernel refuses process_vm_*.
 */
const char *scif_emu_rma_path(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SCIF_EMU_H */
