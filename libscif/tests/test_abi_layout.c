/* SPDX-License-Identifier: MPL-2.0 */
/*
 * scif.h against MPSS's documented scif.h: every public struct's layout and
 * every flag's value, as static assertions (a difference stops the build),
 * and scif_get_fd as the real function MPSS's library exports.
 */
#include <stddef.h>

#include "harness.h"

#define SAME(ours, mpss) _Static_assert((ours) == (mpss), #ours " as in MPSS")

/* struct scif_portID: two 16-bit fields, node then port. */
SAME(sizeof(struct scif_portID), 4);
SAME(offsetof(struct scif_portID, node), 0);
SAME(offsetof(struct scif_portID, port), 2);
SAME(sizeof(((struct scif_portID *)0)->node), sizeof(uint16_t));

/* struct scif_pollepd: an int descriptor, then two shorts, like pollfd. */
SAME(sizeof(scif_epd_t), sizeof(int));
SAME(sizeof(struct scif_pollepd), 8);
SAME(offsetof(struct scif_pollepd, epd), 0);
SAME(offsetof(struct scif_pollepd, events), 4);
SAME(offsetof(struct scif_pollepd, revents), 6);
SAME(sizeof(((struct scif_pollepd *)0)->events), sizeof(short));

/* Blocking flags of accept, send and recv, and their old spellings. */
SAME(SCIF_ACCEPT_SYNC, 1);
SAME(SCIF_SEND_BLOCK, 1);
SAME(SCIF_RECV_BLOCK, 1);
SAME(ACCEPT_SYNC, 1);
SAME(SEND_BLOCK, 1);
SAME(RECV_BLOCK, 1);

/* Protection, mapping, fence and signal flags. */
SAME(SCIF_PROT_READ, 0x1);
SAME(SCIF_PROT_WRITE, 0x2);
SAME(SCIF_MAP_FIXED, 0x10);
SAME(SCIF_MAP_KERNEL, 0x20);
SAME(SCIF_FENCE_INIT_SELF, 0x1);
SAME(SCIF_FENCE_INIT_PEER, 0x2);
SAME(SCIF_FENCE_RAS_SELF, 0x4);
SAME(SCIF_FENCE_RAS_PEER, 0x8);
SAME(SCIF_SIGNAL_LOCAL, 0x10);
SAME(SCIF_SIGNAL_REMOTE, 0x20);

/* RMA flags. */
SAME(SCIF_RMA_USECPU, 0x1);
SAME(SCIF_RMA_USECACHE, 0x2);
SAME(SCIF_RMA_SYNC, 0x4);
SAME(SCIF_RMA_ORDERED, 0x8);

/* Poll events are poll(2)'s. */
SAME(SCIF_POLLIN, POLLIN);
SAME(SCIF_POLLOUT, POLLOUT);
SAME(SCIF_POLLERR, POLLERR);
SAME(SCIF_POLLHUP, POLLHUP);
SAME(SCIF_POLLNVAL, POLLNVAL);

/* Failure values and the reserved port ranges' ends. */
SAME(SCIF_OPEN_FAILED, -1);
SAME(SCIF_REGISTER_FAILED, (off_t)-1);
SAME(SCIF_COI_PORT_0, 40);
SAME(SCIF_OFED_PORT_0, 60);
SAME(SCIF_NETDEV_PORT_0, 80);
SAME(SCIF_RAS_PORT_0, 100);
SAME(SCIF_PM_PORT_0, 120);
SAME(SCIF_BT_PORT_0, 130);
SAME(MPSSD_MONRECV, 160);
SAME(MPSSD_RESV9, 169);
SAME(SCIF_ADMIN_PORT_END, 1024);
SAME(SCIF_MYO_PORT_0, 1025);
SAME(SCIF_ST_PORT_9, 1053);
SAME(SCIF_PORT_RSVD, 1088);

int main(void)
{
	/* Through a pointer: the call goes to the exported function. */
	int (*get_fd)(scif_epd_t) = scif_get_fd;
	scif_epd_t epd;

	harness_init("abi_layout", 30);
	epd = scif_open();
	CHECK(epd >= 0);
	CHECK(get_fd(epd) == epd);
	CHECK(scif_close(epd) == 0);
	return harness_finish();
}
