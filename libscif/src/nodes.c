/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Emulated machines ("domains") and their nodes.
 *
 * A domain is a directory the kernel protects: by default
 * /tmp/scif-emu-<euid>/<name>, mode 0700 and owned by the user, so no other
 * user can bind, connect or squat in it. SCIF_EMU_DOMAIN=/absolute/dir
 * names the directory itself; sharing a machine between users is then the
 * owner's explicit choice of that directory's permissions.
 *
 * Its file "locks" holds one byte per node (1: offline, a card reset in
 * progress) and carries record locks: a shared lock per node for each
 * process acting as that node (what the fault injector kills) and an
 * exclusive lock per bound port (see ports.c). The kernel drops them when a
 * process dies, so nothing a crash leaves behind reserves anything.
 * POSIX drops all of a process's record locks on a file when it closes any
 * descriptor of it: the file is opened once per process and domain.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_DOMAIN	"default"
#define DOMAIN_NAME_MAX 64

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- configuration ------------------------------------------------------ */

/* Parses a decimal integer in [min, max]; returns 0 or -EINVAL. */
static int parse_number(const char *text, long min, long max, long *out)
{
	char *end;
	long value;

	if (!text || !*text)
		return -EINVAL;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || value < min || value > max)
		return -EINVAL;
	*out = value;
	return 0;
}

static int domain_directory(const char *env, char *out, size_t size)
{
	size_t len;
	int n;

	if (!env)
		env = DEFAULT_DOMAIN;
	len = strlen(env);
	if (env[0] == '/') {
		/* "/dir/" would open what a symlink "/dir" points to. */
		while (len > 1 && env[len - 1] == '/')
			len--;
		if (len > DOMAIN_PATH_MAX)
			return -EINVAL;
		memcpy(out, env, len);
		out[len] = '\0';
		return 0;
	}
	/* A name: '/' would reach outside the user's own directory. */
	if (len == 0 || len > DOMAIN_NAME_MAX || strchr(env, '/') ||
	    strcmp(env, ".") == 0 || strcmp(env, "..") == 0)
		return -EINVAL;
	n = snprintf(out, size, "/tmp/scif-emu-%lu/%s",
		     (unsigned long)geteuid(), env);
	return n > 0 && (size_t)n < size ? 0 : -EINVAL;
}

/*
 * Reads the SCIF_EMU_* environment into cfg; on -EINVAL, says in problem
 * (when not NULL) which variable is wrong and what it accepts.
 */
static int emu_config_explain(struct emu_config *cfg, char *problem,
			      size_t size)
{
	const char *nodes_env = getenv("SCIF_EMU_NODES");
	const char *node_env = getenv("SCIF_EMU_NODE");
	const char *domain_env = getenv("SCIF_EMU_DOMAIN");
	long nodes = 2, node = 0;

	if (nodes_env &&
	    parse_number(nodes_env, 1, SCIF_EMU_MAX_NODES, &nodes) < 0) {
		if (problem)
			snprintf(problem, size,
				 "SCIF_EMU_NODES=%s: expected a number of "
				 "nodes from 1 to %d",
				 nodes_env, SCIF_EMU_MAX_NODES);
		return -EINVAL;
	}
	if (node_env && parse_number(node_env, 0, nodes - 1, &node) < 0) {
		if (problem)
			snprintf(problem, size,
				 "SCIF_EMU_NODE=%s: expected a node id from 0 "
				 "to %ld (SCIF_EMU_NODES=%ld)",
				 node_env, nodes - 1, nodes);
		return -EINVAL;
	}
	cfg->node = (uint16_t)node;
	cfg->nodes = (uint16_t)nodes;
	if (domain_directory(domain_env, cfg->domain, sizeof(cfg->domain)) <
	    0) {
		if (problem)
			snprintf(problem, size,
				 "SCIF_EMU_DOMAIN=%s: expected a name of 1 to "
				 "%d characters without '/' (not . or ..), or "
				 "an absolute directory of at most %d "
				 "characters",
				 domain_env, DOMAIN_NAME_MAX, DOMAIN_PATH_MAX);
		return -EINVAL;
	}
	return 0;
}

int emu_config_load(struct emu_config *cfg)
{
	return emu_config_explain(cfg, NULL, 0);
}

int scif_emu_check_environment(char *problem, size_t size)
{
	struct emu_config cfg;

	if (problem && size)
		problem[0] = '\0';
	return emu_config_explain(&cfg, problem, size) < 0 ? fail(EINVAL) : 0;
}

/* --- domain directories -------------------------------------------------- */

/*
 * Opens name under parentfd as a directory private to this user, creating
 * it if needed. One owned by anybody else is refused (EACCES), one of ours
 * that others can enter is closed to them.
 */
static int open_private_dir(int parentfd, const char *name)
{
	struct stat st;
	int fd;

	if (mkdirat(parentfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(parentfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    ((st.st_mode & 077) && fchmod(fd, 0700) < 0)) {
		close(fd);
		return -EACCES;
	}
	return fd;
}

/*
 * The name of a domain under this user's private base directory
 * (/tmp/scif-emu-<euid>/<name>), or NULL for any other path.
 */
static const char *private_name(const char *path, char *base, size_t size)
{
	int n = snprintf(base, size, "scif-emu-%lu", (unsigned long)geteuid());
	const char *name = path + 5 + n + 1;

	if (strncmp(path, "/tmp/", 5) != 0 ||
	    strncmp(path + 5, base, (size_t)n) != 0 || path[5 + n] != '/' ||
	    !*name || strchr(name, '/'))
		return NULL;
	return name;
}

/*
 * Whether a directory named by its path may be a domain of ours. Its owner
 * can replace anything in it, so it must be ours or root's (one another
 * user made, maybe before us, would be theirs to rule); and whoever else may
 * write it must not be able to remove or rename our files there, so it is
 * sticky then (a shared domain's mode, e.g. 1777 or 1770).
 */
static bool trusted_domain_dir(const struct stat *st)
{
	return (st->st_uid == geteuid() || st->st_uid == 0) &&
	       (!(st->st_mode & 022) || (st->st_mode & S_ISVTX));
}

static int open_domain_dir(const char *path, unsigned *mode, uid_t *owner)
{
	char base[32];
	const char *name = private_name(path, base, sizeof(base));
	struct stat st;
	int fd;

	if (name) {
		int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int basefd;

		if (tmp < 0)
			return -errno;
		basefd = open_private_dir(tmp, base);
		close(tmp);
		if (basefd < 0)
			return basefd;
		fd = open_private_dir(basefd, name);
		close(basefd);
		*mode = 0700;
		*owner = geteuid();
		return fd;
	}
	/* A directory named by its path: access is what its owner set. */
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		return lstat(path, &st) == 0 && S_ISLNK(st.st_mode) ? -ELOOP
								    : -err;
	}
	if (fstat(fd, &st) < 0 || !trusted_domain_dir(&st)) {
		close(fd);
		return -EPERM;
	}
	/* What we create there is sticky too when others may write it. */
	*mode = st.st_mode & 0777;
	if (*mode & 022)
		*mode |= S_ISVTX;
	*owner = st.st_uid;
	return fd;
}

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct domain *registry;

static int domain_open(const char *path, struct domain **out)
{
	struct domain *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->admin_lockfd = -1;
	d->lockfd = -1;
	d->dirfd = open_domain_dir(path, &d->mode, &d->owner);
	if (d->dirfd < 0) {
		rc = d->dirfd;
		free(d);
		return rc;
	}
	/* The lock file names every port's holder: the owner's alone. */
	d->lockfd = domain_open_file(d->dirfd, "locks", d->mode, d->owner);
	if (d->lockfd < 0) {
		rc = d->lockfd;
		close(d->dirfd);
		free(d);
		return rc;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	pthread_mutex_init(&d->lock, NULL);
	d->pid = self_pid();
	d->refs = 1;
	*out = d;
	return 0;
}

int domain_get(const char *path, struct domain **out)
{
	struct domain *d;
	int rc = 0;

	pthread_mutex_lock(&registry_lock);
	for (d = registry; d && strcmp(d->path, path) != 0; d = d->next)
		;
	if (d) {
		d->refs++;
	} else if ((rc = domain_open(path, &d)) == 0) {
		d->next = registry;
		registry = d;
	}
	pthread_mutex_unlock(&registry_lock);
	*out = d;
	return rc;
}

void domains_fork_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&registry_lock);
	for (struct domain *d = registry; d; d = d->next)
		if (lock)
			pthread_mutex_lock(&d->lock);
		else
			pthread_mutex_unlock(&d->lock);
	if (!lock)
		pthread_mutex_unlock(&registry_lock);
}

void domain_ref(struct domain *d)
{
	pthread_mutex_lock(&registry_lock);
	d->refs++;
	pthread_mutex_unlock(&registry_lock);
}

void domain_put(struct domain *d)
{
	struct domain **link;

	pthread_mutex_lock(&registry_lock);
	if (--d->refs > 0) {
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	for (link = &registry; *link != d; link = &(*link)->next)
		;
	*link = d->next;
	pthread_mutex_unlock(&registry_lock);
	/* Closing the lock file drops every lock this process held on it. */
	close(d->lockfd);
	if (d->admin_lockfd >= 0)
		close(d->admin_lockfd);
	close(d->dirfd);
	pthread_mutex_destroy(&d->lock);
	free(d->ports.keys);
	free(d);
}

void domain_lock(struct domain *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->pid != self_pid()) {
		/* A fork()ed child holds none of its parent's record locks. */
		d->pid = self_pid();
		d->ports.count = 0;
		memset(d->node_users, 0, sizeof(d->node_users));
	}
}

void domain_unlock(struct domain *d)
{
	pthread_mutex_unlock(&d->lock);
}

/* --- node state ----------------------------------------------------------- */

bool node_offline(struct domain *d, uint16_t node)
{
	uint8_t flag = 0;

	return pread(d->lockfd, &flag, 1, node) == 1 && flag == 1;
}

static int set_node_flag(struct domain *d, uint16_t node, uint8_t flag)
{
	return pwrite(d->lockfd, &flag, 1, node) == 1 ? 0 : -errno;
}

static int member_lock(struct domain *d, uint16_t node, short type)
{
	struct flock fl = {
	    .l_type = type,
	    .l_whence = SEEK_SET,
	    .l_start = LOCKS_NODE_MEMBER(node),
	    .l_len = 1,
	};

	return fcntl(d->lockfd, F_SETLK, &fl) == 0 ? 0 : -errno;
}

int node_join(struct domain *d, uint16_t node)
{
	int rc = 0;

	domain_lock(d);
	if (d->node_users[node] == 0)
		rc = member_lock(d, node, F_RDLCK);
	/* Checked after joining: a reset either sees us or we see it. */
	if (rc == 0 && node_offline(d, node)) {
		if (d->node_users[node] == 0)
			member_lock(d, node, F_UNLCK);
		rc = -ENODEV;
	}
	if (rc == 0)
		d->node_users[node]++;
	domain_unlock(d);
	return rc;
}

void node_leave(struct domain *d, uint16_t node)
{
	domain_lock(d);
	if (d->node_users[node] > 0 && --d->node_users[node] == 0)
		member_lock(d, node, F_UNLCK);
	domain_unlock(d);
}

/* The kernel's word on one process acting as node, other than us. */
static pid_t node_member(struct domain *d, uint16_t node)
{
	struct flock fl = {
	    .l_type = F_WRLCK,
	    .l_whence = SEEK_SET,
	    .l_start = LOCKS_NODE_MEMBER(node),
	    .l_len = 1,
	};

	if (fcntl(d->lockfd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid;
}

/*
 * Kills pid, known from the lock it holds, without ever signalling a
 * process that reused the number: the pidfd is taken first, then the lock
 * is checked to be still that process's.
 */
static int kill_member(struct domain *d, uint16_t node, pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int rc = 0;

	if (pidfd < 0)
		return errno == ESRCH ? 0 : -errno;
	if (node_member(d, node) == pid) {
		if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
			rc = errno == ESRCH ? 0 : -errno;
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		if (rc == 0 && poll(&pfd, 1, 5000) != 1)
			rc = -ETIMEDOUT;
	}
	close(pidfd);
	return rc;
}

/*
 * Fault injection is the machine owner's: in a shared domain a member
 * could otherwise kill every process of another node. The owner of the
 * domain directory (or root) may; other members get EPERM.
 */
static int check_fault_injector(const struct domain *d)
{
	struct stat st;

	if (fstat(d->dirfd, &st) < 0)
		return -errno;
	return geteuid() == 0 || geteuid() == st.st_uid ? 0 : -EPERM;
}

int node_take_offline(struct domain *d, uint16_t node)
{
	int rc = check_fault_injector(d);

	if (rc < 0)
		return rc;
	domain_lock(d);
	if (d->node_users[node])
		rc = -EBUSY; /* this process acts as that node itself */
	domain_unlock(d);
	if (rc == 0)
		rc = set_node_flag(d, node, 1);
	/* Every process of the node dies, as on a card reset. */
	for (pid_t pid; rc == 0 && (pid = node_member(d, node)) != 0;)
		rc = kill_member(d, node, pid);
	return rc;
}

int node_bring_online(struct domain *d, uint16_t node)
{
	int rc = check_fault_injector(d);

	return rc < 0 ? rc : set_node_flag(d, node, 0);
}

int scif_get_nodeIDs(uint16_t *nodes, int len, uint16_t *self)
{
	struct emu_config cfg;
	struct domain *d;
	int err = emu_config_load(&cfg), online = 0;

	if (err < 0)
		return fail(-err);
	if (!self || (len > 0 && !nodes))
		return fail(EFAULT);
	/*
	 * Through the domain's one descriptor of the lock file: closing any
	 * other would drop every record lock this process holds on it.
	 */
	if ((err = domain_get(cfg.domain, &d)) < 0)
		return fail(-err);
	for (uint16_t i = 0; i < cfg.nodes; i++) {
		if (node_offline(d, i))
			continue;
		if (online < len)
			nodes[online] = i;
		online++;
	}
	domain_put(d);
	*self = cfg.node;
	return online;
}

/* --- programs started as other nodes -------------------------------------- */

int scif_emu_node_environment(uint16_t node, char *buf, size_t size)
{
	struct emu_config cfg;
	int err = emu_config_load(&cfg), n;

	if (err == 0 && node >= cfg.nodes)
		err = -EINVAL;
	if (err < 0)
		return fail(-err);
	n = snprintf(buf, size, "SCIF_EMU_NODE=%u", (unsigned)node);
	return n > 0 && (size_t)n < size ? 0 : fail(ERANGE);
}

static char private_domain[DOMAIN_PATH_MAX + 1];
static pid_t private_domain_owner;

static int remove_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

/* Only the process that made it: forked children share its memory image. */
static void remove_private_domain(void)
{
	if (private_domain_owner == getpid())
		nftw(private_domain, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Removes a domain nobody uses: no process holds a lock on its "locks"
 * file (a member's node or a bound port), checked by taking the whole file
 * for ourselves, which also keeps anyone from joining while its files go.
 * A domain this process has open is never removed: its own locks would not
 * conflict, and closing the file would drop them.
 */
int scif_emu_remove_domain(const char *domain)
{
	char path[DOMAIN_PATH_MAX + 1];
	struct flock whole = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct domain *d;
	struct stat st;
	int rc, lockfd;

	if (!domain)
		return fail(EINVAL);
	if ((rc = domain_directory(domain, path, sizeof(path))) < 0)
		return fail(-rc);
	pthread_mutex_lock(&registry_lock);
	for (d = registry; d && strcmp(d->path, path) != 0; d = d->next)
		;
	pthread_mutex_unlock(&registry_lock);
	if (d)
		return fail(EBUSY);
	if (lstat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return fail(EACCES); /* not a domain of this user's */
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/locks");
	lockfd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	*strrchr(path, '/') = '\0';
	if (lockfd >= 0 && fcntl(lockfd, F_SETLK, &whole) < 0) {
		rc = errno == EACCES || errno == EAGAIN ? EBUSY : errno;
		close(lockfd);
		return fail(rc);
	}
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (lockfd >= 0)
		close(lockfd);
	return lstat(path, &st) == 0 ? fail(ENOTEMPTY) : 0;
}

int scif_emu_private_domain(void)
{
	char base[32], path[DOMAIN_PATH_MAX + 1];
	struct emu_config cfg;
	int err = emu_config_load(&cfg), tmp, basefd;

	if (err < 0)
		return fail(-err);
	if (private_domain_owner != getpid()) {
		if (atexit(remove_private_domain) != 0)
			return fail(ENOMEM);
		private_domain_owner = getpid();
		private_domain[0] = '\0';
	}
	snprintf(base, sizeof(base), "scif-emu-%lu", (unsigned long)geteuid());
	tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmp < 0)
		return -1;
	basefd = open_private_dir(tmp, base);
	close(tmp);
	if (basefd < 0)
		return fail(-basefd);
	close(basefd);
	snprintf(path, sizeof(path), "/tmp/%s/private-XXXXXX", base);
	if (!mkdtemp(path))
		return -1;
	/* By name, not path: a name is always private to the user. */
	if (setenv("SCIF_EMU_DOMAIN", path + strlen("/tmp/") + strlen(base) + 1,
		   1) < 0) {
		rmdir(path);
		return -1;
	}
	if (private_domain[0])
		remove_private_domain(); /* the previous one */
	memcpy(private_domain, path, sizeof(path));
	return 0;
}
