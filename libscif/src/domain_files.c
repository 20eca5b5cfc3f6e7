/* SPDX-License-Identifier: MPL-2.0 */
/*
 * The files libscif creates inside a domain: subdirectories (one per node,
 * "rma" for the fallback services), the lock files and socket files.
 *
 * In a shared domain other members can write the domain directory, and a
 * node directory may be another member's. Nothing here is ever done to a
 * path another member could have swapped for a symlink or someone else's
 * file: directories are opened with O_NOFOLLOW and changed through their
 * descriptor, and a socket file's mode is set through an O_PATH descriptor
 * of the very file, checked to be our own socket first. The directories we
 * create are sticky whenever others may write them, so that nobody can
 * remove or rename a file of ours in them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/*
 * Opens the subdirectory name of d, creating it with d's mode. Created 0700
 * and opened before it gets its mode, so nobody can put anything in it or
 * swap it first; one that exists may be any member's (what a member can do
 * there is remove files, never pass for their owner).
 */
static int domain_subdir(const struct domain *d, const char *name)
{
	bool made = mkdirat(d->dirfd, name, 0700) == 0;
	struct stat st;
	int fd;

	if (!made && errno != EEXIST)
		return -errno;
	fd = openat(d->dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP ? -EACCES : -errno;
	if (made && (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
		     fchmod(fd, d->mode) < 0)) {
		close(fd);
		return -EACCES;
	}
	return fd;
}

/*
 * Opens the regular file name in dirfd, which owner (or root) must own:
 * whoever owns a file in a sticky directory can replace it, so a file of
 * any other member's could be swapped under everyone (a lock file another
 * member made would let it pass for any port's holder). Only owner creates
 * it, with mode's read/write bits; anybody else gets EACCES until then.
 */
int domain_open_file(int dirfd, const char *name, unsigned mode, uid_t owner)
{
	struct stat st;
	int fd;

	if (geteuid() == owner) {
		fd = openat(dirfd, name,
			    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode & 0666);
		if (fd >= 0) {
			/* As set, whatever the umask. */
			fchmod(fd, mode & 0666);
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? -EACCES : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != owner && st.st_uid != 0)) {
		close(fd);
		return -EACCES;
	}
	return fd;
}

/*
 * Gives the socket file name in dirfd the permission bits mode, if it is
 * still the one we bound. bind(2) creates it with the umask's bits, and
 * neither fchmod(2) on the socket (that is the socket's own inode, not the
 * file's) nor a chmod by name (it follows a symlink a member renamed over
 * the file meanwhile) would do: the file is opened with O_PATH | O_NOFOLLOW,
 * checked to be a socket of ours with no other name, and changed through
 * /proc/self/fd, which reaches that inode and nothing else. A file that is
 * no longer ours is left alone, as if a member had removed ours afterwards.
 */
static int set_socket_mode(int dirfd, const char *name, unsigned mode)
{
	char proc[32];
	struct stat st;
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_uid == geteuid() && st.st_nlink == 1) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		rc = chmod(proc, mode) == 0 ? 0 : -errno;
	}
	close(fd);
	return rc;
}

int domain_bind_socket(const struct domain *d, int sock, const char *dir,
		       const char *name, const void *addr, unsigned addr_len,
		       unsigned mode)
{
	int dirfd = domain_subdir(d, dir);
	int rc;

	if (dirfd < 0)
		return dirfd;
	unlinkat(dirfd, name, 0); /* stale: the caller holds the name */
	if (bind(sock, addr, (socklen_t)addr_len) < 0)
		rc = -errno;
	else
		rc = set_socket_mode(dirfd, name, mode & 0666);
	close(dirfd);
	return rc;
}

void domain_unlink_socket(const struct domain *d, const char *dir,
			  const char *name)
{
	/* Through the directory itself: never a symlink put in its place. */
	int dirfd = openat(d->dirfd, dir,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dirfd >= 0) {
		unlinkat(dirfd, name, 0);
		close(dirfd);
	}
}
