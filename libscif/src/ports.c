/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Port numbers. A bound port is the abstract Unix socket name
 * "\0scif-emu/<domain>/<node>/<port>" held by the endpoint's socket: the
 * kernel then enforces uniqueness across processes and frees the port when
 * the socket is closed or its process dies, so nothing is ever left behind.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static socklen_t port_address(const struct emu_config *cfg, uint16_t node,
			      uint16_t port, struct sockaddr_un *addr)
{
	int len;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	/* sun_path[0] stays '\0': abstract namespace, no file system entry. */
	len = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1,
		       "scif-emu/%s/%u/%u", cfg->domain, node, port);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

/* Mirrors the MPSS driver: low ports need administrative rights. */
static bool caller_is_privileged(void)
{
	struct __user_cap_header_struct header = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &header, data) < 0)
		return false;
	return data[CAP_SYS_ADMIN / 32].effective &
	       (1u << (CAP_SYS_ADMIN % 32));
}

static int bind_exact(struct endpoint *ep, uint16_t pn)
{
	struct sockaddr_un addr;
	socklen_t len = port_address(&ep->cfg, ep->cfg.node, pn, &addr);

	if (bind(ep->fd, (struct sockaddr *)&addr, len) < 0)
		return -errno;
	return pn;
}

/* Searches the dynamic range from a varying start to spread ports out. */
static int bind_any(struct endpoint *ep)
{
	const unsigned span = 65536 - SCIF_PORT_RSVD;
	struct timespec now;
	unsigned start;

	clock_gettime(CLOCK_MONOTONIC, &now);
	start = (unsigned)(now.tv_nsec ^ getpid()) % span;
	for (unsigned i = 0; i < span; i++) {
		uint16_t pn = (uint16_t)(SCIF_PORT_RSVD + (start + i) % span);
		int rc = bind_exact(ep, pn);
		if (rc != -EADDRINUSE)
			return rc;
	}
	return -ENOSPC;
}

int port_bind(struct endpoint *ep, uint16_t pn)
{
	int rc;

	if (pn != 0 && pn < SCIF_ADMIN_PORT_END && !caller_is_privileged())
		return -EACCES;
	rc = pn ? bind_exact(ep, pn) : bind_any(ep);
	if (rc < 0)
		return rc;
	ep->self.node = ep->cfg.node;
	ep->self.port = (uint16_t)rc;
	ep->state = EP_BOUND;
	return rc;
}

int port_connect(struct endpoint *ep, const struct scif_portID *dst)
{
	struct sockaddr_un addr;
	socklen_t len = port_address(&ep->cfg, dst->node, dst->port, &addr);

	if (connect(ep->fd, (struct sockaddr *)&addr, len) == 0)
		return 0;
	switch (errno) {
	case EAGAIN: /* listener's backlog full (non-blocking socket) */
	case ENOENT:
	case ECONNREFUSED:
		return -ECONNREFUSED;
	default:
		return -errno;
	}
}
