/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Ports. Port P of node N is reserved by an exclusive record lock on byte
 * LOCKS_PORT(N, P) of the domain's lock file, and its endpoint's socket is
 * bound to the file "<domain>/<N>/<P>". The lock is the authority: whoever
 * holds it may replace a socket file left behind by a dead process, and a
 * peer's claim to a port is checked by asking the kernel who holds the
 * lock. Ports below SCIF_ADMIN_PORT_END live in "<domain>/admin", a
 * directory only root can create files in, with a lock file of its own.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ADMIN_DIR "admin"

bool caller_is_privileged(void)
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

static bool is_admin_port(uint16_t pn)
{
	return pn < SCIF_ADMIN_PORT_END;
}

/* --- the ports this process holds ---------------------------------------- */

static uint32_t port_key(uint16_t node, uint16_t pn)
{
	return (uint32_t)node << 16 | pn;
}

static bool set_has(const struct port_set *set, uint32_t key)
{
	for (size_t i = 0; i < set->count; i++)
		if (set->keys[i] == key)
			return true;
	return false;
}

static int set_add(struct port_set *set, uint32_t key)
{
	if (set->count == set->capacity) {
		size_t cap = set->capacity ? set->capacity * 2 : 16;
		uint32_t *grown = realloc(set->keys, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		set->keys = grown;
		set->capacity = cap;
	}
	set->keys[set->count++] = key;
	return 0;
}

static void set_remove(struct port_set *set, uint32_t key)
{
	for (size_t i = 0; i < set->count; i++)
		if (set->keys[i] == key) {
			set->keys[i] = set->keys[--set->count];
			return;
		}
}

/* --- the admin directory ---------------------------------------------------
 */

/* True when only root can have put a socket into the admin directory. */
static bool admin_dir_trusted(struct domain *d)
{
	struct stat st;

	return fstatat(d->dirfd, ADMIN_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode) && st.st_uid == 0 && !(st.st_mode & 022);
}

/* The admin lock file, created by root on first use (under d's lock). */
static int admin_lockfd(struct domain *d)
{
	if (d->admin_lockfd >= 0)
		return d->admin_lockfd;
	if (mkdirat(d->dirfd, ADMIN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!admin_dir_trusted(d))
		return -EACCES;
	int dirfd = openat(d->dirfd, ADMIN_DIR,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	d->admin_lockfd = domain_open_file(dirfd, "locks", 0600, 0);
	close(dirfd);
	return d->admin_lockfd;
}

/* --- socket files -----------------------------------------------------------
 */

/* A port's socket file: "<N>/<P>" or "admin/<N>.<P>" in the domain. */
struct port_file {
	char dir[8];
	char name[16];
};

static struct port_file port_file(uint16_t node, uint16_t pn)
{
	struct port_file f;

	if (is_admin_port(pn)) {
		snprintf(f.dir, sizeof(f.dir), ADMIN_DIR);
		snprintf(f.name, sizeof(f.name), "%u.%u", node, pn);
	} else {
		snprintf(f.dir, sizeof(f.dir), "%u", node);
		snprintf(f.name, sizeof(f.name), "%u", pn);
	}
	return f;
}

/* The longest name under a domain directory still fits in sun_path. */
_Static_assert(DOMAIN_PATH_MAX + sizeof("/" ADMIN_DIR "/255.1023") <=
		   sizeof(((struct sockaddr_un *)0)->sun_path),
	       "DOMAIN_PATH_MAX too large for socket paths");

static socklen_t port_address(struct domain *d, uint16_t node, uint16_t pn,
			      struct sockaddr_un *addr)
{
	struct port_file f = port_file(node, pn);
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	n = snprintf(addr->sun_path, sizeof(addr->sun_path), "%s/%s/%s",
		     d->path, f.dir, f.name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n +
			   1);
}

/* Binds fd to the socket file of a port we hold, replacing a stale one. */
static int bind_socket_file(struct domain *d, uint16_t node, uint16_t pn,
			    int fd)
{
	struct sockaddr_un addr;
	socklen_t len = port_address(d, node, pn, &addr);
	struct port_file f = port_file(node, pn);

	/* Connecting needs write permission on the file: as the domain. */
	return domain_bind_socket(d, fd, f.dir, f.name, &addr, len,
				  is_admin_port(pn) ? 0666 : d->mode);
}

/* --- reservations ----------------------------------------------------------
 */

static int lock_byte(int fd, off_t where, short type)
{
	struct flock fl = {
	    .l_type = type,
	    .l_whence = SEEK_SET,
	    .l_start = where,
	    .l_len = 1,
	};

	return fcntl(fd, F_SETLK, &fl) == 0 ? 0 : -errno;
}

static int reservation_lock(struct domain *d, uint16_t node, uint16_t pn,
			    short type)
{
	if (!is_admin_port(pn))
		return lock_byte(d->lockfd, LOCKS_PORT(node, pn), type);
	int fd = admin_lockfd(d);
	return fd < 0 ? fd : lock_byte(fd, (off_t)node * 1024 + pn, type);
}

/* Reserves (node, pn) and binds fd to it; under d's lock. */
static int reserve_and_bind(struct domain *d, uint16_t node, uint16_t pn,
			    int fd)
{
	uint32_t key = port_key(node, pn);
	int rc;

	if (set_has(&d->ports, key))
		return -EEXIST; /* by this process: maybe a close(2)d endpoint
				 */
	rc = reservation_lock(d, node, pn, F_WRLCK);
	if (rc == -EAGAIN || (rc == -EACCES && !is_admin_port(pn)))
		return -EADDRINUSE;
	if (rc < 0)
		return rc;
	if ((rc = set_add(&d->ports, key)) == 0 &&
	    (rc = bind_socket_file(d, node, pn, fd)) == 0)
		return pn;
	set_remove(&d->ports, key);
	reservation_lock(d, node, pn, F_UNLCK);
	return rc;
}

/* Searches the dynamic range from a varying start to spread ports out. */
static int bind_any(struct domain *d, uint16_t node, int fd)
{
	const unsigned span = 65536 - SCIF_PORT_RSVD;
	struct timespec now;
	unsigned start;

	clock_gettime(CLOCK_MONOTONIC, &now);
	start = (unsigned)(now.tv_nsec ^ self_pid()) % span;
	for (unsigned i = 0; i < span; i++) {
		uint16_t pn = (uint16_t)(SCIF_PORT_RSVD + (start + i) % span);
		int rc = reserve_and_bind(d, node, pn, fd);
		if (rc != -EADDRINUSE && rc != -EEXIST)
			return rc;
	}
	return -ENOSPC;
}

int port_bind(struct domain *d, uint16_t node, uint16_t pn, int fd)
{
	int rc;

	if (pn != 0 && is_admin_port(pn) && !caller_is_privileged())
		return -EACCES;
	domain_lock(d);
	rc = pn ? reserve_and_bind(d, node, pn, fd) : bind_any(d, node, fd);
	domain_unlock(d);
	return rc;
}

void port_unbind(struct domain *d, uint16_t node, uint16_t pn)
{
	domain_lock(d);
	if (set_has(&d->ports, port_key(node, pn))) {
		struct port_file f = port_file(node, pn);
		domain_unlink_socket(d, f.dir, f.name);
		set_remove(&d->ports, port_key(node, pn));
		reservation_lock(d, node, pn, F_UNLCK);
	}
	domain_unlock(d);
}

int port_connect(struct domain *d, uint16_t node, uint16_t pn, int fd)
{
	struct sockaddr_un addr;
	socklen_t len = port_address(d, node, pn, &addr);

	/* Anybody could have made an admin directory that root did not. */
	if (is_admin_port(pn) && !admin_dir_trusted(d))
		return -ECONNREFUSED;
	if (connect(fd, (struct sockaddr *)&addr, len) == 0)
		return 0;
	switch (errno) {
	case EAGAIN: /* listener's backlog full (non-blocking socket) */
	case ENOENT:
	case ENOTDIR:
	case EACCES:
	case ECONNREFUSED:
		return -ECONNREFUSED;
	default:
		return -errno;
	}
}

/* Parses a canonical decimal number in [0, max] ending at *end. */
static bool parse_part(const char **text, char end, unsigned max, unsigned *out)
{
	const char *p = *text;
	unsigned value = 0;

	if (*p < '0' || *p > '9' || (*p == '0' && p[1] != end))
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		value = value * 10 + (unsigned)(*p - '0');
		if (value > max)
			return false;
	}
	if (*p != end)
		return false;
	*text = p + 1;
	*out = value;
	return true;
}

int port_from_address(struct domain *d, const void *sun, size_t len,
		      struct scif_portID *out)
{
	const struct sockaddr_un *addr = sun;
	size_t plen = strlen(d->path), path_len;
	unsigned node, pn;
	const char *p;

	if (len <= offsetof(struct sockaddr_un, sun_path) ||
	    addr->sun_family != AF_UNIX)
		return -EINVAL; /* an unbound (or abstract) peer claims nothing
				 */
	path_len = strnlen(addr->sun_path,
			   len - offsetof(struct sockaddr_un, sun_path));
	if (path_len <= plen + 1 || path_len >= sizeof(addr->sun_path) ||
	    memcmp(addr->sun_path, d->path, plen) != 0 ||
	    addr->sun_path[plen] != '/')
		return -EINVAL;
	p = addr->sun_path + plen + 1;
	if (strncmp(p, ADMIN_DIR "/", sizeof(ADMIN_DIR)) == 0) {
		p += sizeof(ADMIN_DIR);
		if (!parse_part(&p, '.', SCIF_EMU_MAX_NODES - 1, &node) ||
		    !parse_part(&p, '\0', SCIF_ADMIN_PORT_END - 1, &pn))
			return -EINVAL;
	} else if (!parse_part(&p, '/', SCIF_EMU_MAX_NODES - 1, &node) ||
		   !parse_part(&p, '\0', 65535, &pn) ||
		   pn < SCIF_ADMIN_PORT_END) {
		return -EINVAL;
	}
	if (pn == 0)
		return -EINVAL;
	out->node = (uint16_t)node;
	out->port = (uint16_t)pn;
	return 0;
}

enum port_claim port_claim(struct domain *d, uint16_t node, uint16_t pn,
			   pid_t pid, uid_t uid)
{
	struct flock fl = {
	    .l_type = F_WRLCK,
	    .l_whence = SEEK_SET,
	    .l_start = LOCKS_PORT(node, pn),
	    .l_len = 1,
	};
	bool ours;

	/* Only root can have bound a socket file in a trusted admin dir. */
	if (is_admin_port(pn))
		return uid == 0 && admin_dir_trusted(d) ? CLAIM_HELD
							: CLAIM_OTHER;
	domain_lock(d);
	ours = set_has(&d->ports, port_key(node, pn));
	domain_unlock(d);
	if (ours) /* our own locks never show in F_GETLK */
		return pid == self_pid() ? CLAIM_HELD : CLAIM_OTHER;
	if (fcntl(d->lockfd, F_GETLK, &fl) < 0)
		return CLAIM_OTHER;
	if (fl.l_type == F_UNLCK)
		return CLAIM_FREE;
	return fl.l_pid == pid ? CLAIM_HELD : CLAIM_OTHER;
}

int service_address(struct domain *d, pid_t pid, void *sun)
{
	struct sockaddr_un *addr = sun;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	snprintf(addr->sun_path, sizeof(addr->sun_path), "%s/rma/%d", d->path,
		 (int)pid);
	return (int)(offsetof(struct sockaddr_un, sun_path) +
		     strlen(addr->sun_path) + 1);
}
