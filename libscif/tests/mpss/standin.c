/* SPDX-License-Identifier: MPL-2.0 */
/*
 * A stand-in for Intel's libscif.so.0, written from MPSS's documentation
 * (no Intel code): the 22 functions of its scif.h with the documented
 * signatures, exported under the symbol version SCIF_0.0 as MPSS's library
 * exports them. Every call fails with ENOSYS: the stand-in exists to link
 * and load against, not to run.
 *
 * It includes the project's scif.h after writing each prototype itself, so
 * a signature in scif.h that drifts from MPSS's stops the build here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct scif_portID;
struct scif_pollepd;
typedef int scif_epd_t;

scif_epd_t scif_open(void);
int scif_close(scif_epd_t epd);
int scif_bind(scif_epd_t epd, uint16_t pn);
int scif_listen(scif_epd_t epd, int backlog);
int scif_connect(scif_epd_t epd, struct scif_portID *dst);
int scif_accept(scif_epd_t epd, struct scif_portID *peer, scif_epd_t *newepd,
		int flags);
int scif_send(scif_epd_t epd, void *msg, int len, int flags);
int scif_recv(scif_epd_t epd, void *msg, int len, int flags);
off_t scif_register(scif_epd_t epd, void *addr, size_t len, off_t offset,
		    int prot_flags, int map_flags);
int scif_unregister(scif_epd_t epd, off_t offset, size_t len);
void *scif_mmap(void *addr, size_t len, int prot_flags, int map_flags,
		scif_epd_t epd, off_t offset);
int scif_munmap(void *addr, size_t len);
int scif_readfrom(scif_epd_t epd, off_t loffset, size_t len, off_t roffset,
		  int rma_flags);
int scif_writeto(scif_epd_t epd, off_t loffset, size_t len, off_t roffset,
		 int rma_flags);
int scif_vreadfrom(scif_epd_t epd, void *addr, size_t len, off_t roffset,
		   int rma_flags);
int scif_vwriteto(scif_epd_t epd, void *addr, size_t len, off_t roffset,
		  int rma_flags);
int scif_fence_mark(scif_epd_t epd, int flags, int *mark);
int scif_fence_wait(scif_epd_t epd, int mark);
int scif_fence_signal(scif_epd_t epd, off_t loff, uint64_t lval, off_t roff,
		      uint64_t rval, int flags);
int scif_get_nodeIDs(uint16_t *nodes, int len, uint16_t *self);
int scif_get_fd(scif_epd_t epd);
int scif_poll(struct scif_pollepd *epds, unsigned int nepds, long timeout);

#include "scif.h"

static int unsupported(void)
{
	errno = ENOSYS;
	return -1;
}

scif_epd_t scif_open(void)
{
	return unsupported();
}

int scif_close(scif_epd_t epd)
{
	return unsupported();
}

int scif_bind(scif_epd_t epd, uint16_t pn)
{
	return unsupported();
}

int scif_listen(scif_epd_t epd, int backlog)
{
	return unsupported();
}

int scif_connect(scif_epd_t epd, struct scif_portID *dst)
{
	return unsupported();
}

int scif_accept(scif_epd_t epd, struct scif_portID *peer, scif_epd_t *newepd,
		int flags)
{
	return unsupported();
}

int scif_send(scif_epd_t epd, void *msg, int len, int flags)
{
	return unsupported();
}

int scif_recv(scif_epd_t epd, void *msg, int len, int flags)
{
	return unsupported();
}

off_t scif_register(scif_epd_t epd, void *addr, size_t len, off_t offset,
		    int prot_flags, int map_flags)
{
	return (off_t)unsupported();
}

int scif_unregister(scif_epd_t epd, off_t offset, size_t len)
{
	return unsupported();
}

void *scif_mmap(void *addr, size_t len, int prot_flags, int map_flags,
		scif_epd_t epd, off_t offset)
{
	return unsupported() ? SCIF_MMAP_FAILED : NULL;
}

int scif_munmap(void *addr, size_t len)
{
	return unsupported();
}

int scif_readfrom(scif_epd_t epd, off_t loffset, size_t len, off_t roffset,
		  int rma_flags)
{
	return unsupported();
}

int scif_writeto(scif_epd_t epd, off_t loffset, size_t len, off_t roffset,
		 int rma_flags)
{
	return unsupported();
}

int scif_vreadfrom(scif_epd_t epd, void *addr, size_t len, off_t roffset,
		   int rma_flags)
{
	return unsupported();
}

int scif_vwriteto(scif_epd_t epd, void *addr, size_t len, off_t roffset,
		  int rma_flags)
{
	return unsupported();
}

int scif_fence_mark(scif_epd_t epd, int flags, int *mark)
{
	return unsupported();
}

int scif_fence_wait(scif_epd_t epd, int mark)
{
	return unsupported();
}

int scif_fence_signal(scif_epd_t epd, off_t loff, uint64_t lval, off_t roff,
		      uint64_t rval, int flags)
{
	return unsupported();
}

int scif_get_nodeIDs(uint16_t *nodes, int len, uint16_t *self)
{
	return unsupported();
}

int scif_get_fd(scif_epd_t epd)
{
	return unsupported();
}

int scif_poll(struct scif_pollepd *epds, unsigned int nepds, long timeout)
{
	return unsupported();
}
