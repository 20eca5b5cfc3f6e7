/* SPDX-License-Identifier: MPL-2.0 */
#define _GNU_SOURCE
#include "harness.h"

#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int harness_failures;
int harness_checks;
static const char *test_name = "test";

void harness_check(int ok, const char *expr, const char *file, int line)
{
	harness_checks++;
	if (!ok) {
		harness_failures++;
		fprintf(stderr, "[%s pid %d] FAILED %s:%d: %s\n", test_name,
			(int)getpid(), file, line, expr);
	}
}

void harness_init(const char *name, unsigned seconds)
{
	char domain[64];

	test_name = name;
	snprintf(domain, sizeof(domain), "t-%s-%d", name, (int)getpid());
	setenv("SCIF_EMU_DOMAIN", domain, 1);
	setenv("SCIF_EMU_NODE", "0", 1);
	if (!getenv("SCIF_EMU_NODES"))
		setenv("SCIF_EMU_NODES", "2", 1);
	/* The default SIGALRM action kills us: a hang becomes a failure. */
	alarm(seconds);
}

pid_t harness_spawn(int node, void (*fn)(void *), void *arg)
{
	char text[16];
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		snprintf(text, sizeof(text), "%d", node);
		setenv("SCIF_EMU_NODE", text, 1);
		harness_failures = 0;
		fn(arg);
		fflush(NULL);
		_exit(harness_failures ? 1 : 0);
	}
	return pid;
}

void harness_join(pid_t child)
{
	int status = 0;

	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	harness_check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child exited cleanly", __FILE__, __LINE__);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fprintf(stderr, "    child %d status 0x%x\n", (int)child,
			status);
}

static int remove_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

void harness_remove_domain(const char *name)
{
	char path[256];

	if (name[0] == '/')
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/tmp/scif-emu-%lu/%s",
			 (unsigned long)geteuid(), name);
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int harness_finish(void)
{
	harness_remove_domain(getenv("SCIF_EMU_DOMAIN"));
	printf("%s: %d checks, %d failed\n", test_name, harness_checks,
	       harness_failures);
	return harness_failures ? 1 : 0;
}

void gate_init(struct harness_gate *g)
{
	if (pipe(g->fds) < 0) {
		perror("pipe");
		exit(2);
	}
}

void gate_open(struct harness_gate *g)
{
	char c = 1;

	harness_check(write(g->fds[1], &c, 1) == 1, "gate_open", __FILE__,
		      __LINE__);
}

void gate_wait(struct harness_gate *g)
{
	char c;
	ssize_t n;

	while ((n = read(g->fds[0], &c, 1)) < 0 && errno == EINTR)
		;
	harness_check(n == 1, "gate_wait", __FILE__, __LINE__);
}

scif_epd_t harness_listener(uint16_t port)
{
	scif_epd_t epd = scif_open();

	CHECK(epd >= 0);
	CHECK(scif_bind(epd, port) == port);
	CHECK(scif_listen(epd, 256) == 0);
	return epd;
}

scif_epd_t harness_connect(uint16_t node, uint16_t port)
{
	struct scif_portID dst = {.node = node, .port = port};
	scif_epd_t epd = scif_open();

	CHECK(epd >= 0);
	int rc = scif_connect(epd, &dst);
	CHECK(rc >= SCIF_PORT_RSVD);
	if (rc < 0)
		fprintf(stderr, "    connect to %u:%u: %s\n", node, port,
			strerror(errno));
	return epd;
}

static uint64_t pattern_word(uint64_t index, uint64_t seed)
{
	uint64_t x = (index + 1) * 0x9E3779B97F4A7C15ULL ^ seed;
	return x ^ (x >> 29);
}

void pattern_fill(void *buf, size_t len, uint64_t pos, uint64_t seed)
{
	unsigned char *p = buf;

	if (pos % 8 == 0 && len % 8 == 0 && (uintptr_t)buf % 8 == 0) {
		uint64_t *w = buf;
		for (size_t i = 0; i < len / 8; i++)
			w[i] = pattern_word(pos / 8 + i, seed);
		return;
	}

	for (size_t i = 0; i < len;) {
		uint64_t word = pattern_word((pos + i) / 8, seed);
		size_t off = (pos + i) % 8, n = 8 - off;
		if (n > len - i)
			n = len - i;
		memcpy(p + i, (unsigned char *)&word + off, n);
		i += n;
	}
}

int pattern_check(const void *buf, size_t len, uint64_t pos, uint64_t seed)
{
	const unsigned char *p = buf;

	if (pos % 8 == 0 && len % 8 == 0 && (uintptr_t)buf % 8 == 0) {
		const uint64_t *w = buf;
		uint64_t diff = 0;
		for (size_t i = 0; i < len / 8; i++)
			diff |= w[i] ^ pattern_word(pos / 8 + i, seed);
		return diff == 0;
	}

	for (size_t i = 0; i < len;) {
		uint64_t word = pattern_word((pos + i) / 8, seed);
		size_t off = (pos + i) % 8, n = 8 - off;
		if (n > len - i)
			n = len - i;
		if (memcmp(p + i, (unsigned char *)&word + off, n))
			return 0;
		i += n;
	}
	return 1;
}

void harness_syscall_fails(long nr, int arg, unsigned value, int err)
{
	/* Without an argument to match, its check always passes: jumps skip
	 * counted instructions, so the filter keeps one shape. */
	const int match_arg = arg >= 0;
	struct sock_filter filter[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 5),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 3),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     match_arg ? offsetof(struct seccomp_data, args[0]) +
				     (unsigned)arg * sizeof(__u64)
			       : offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		     match_arg ? value : (unsigned)nr, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog program = {
	    .len = sizeof(filter) / sizeof(filter[0]),
	    .filter = filter,
	};

	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0);
}
