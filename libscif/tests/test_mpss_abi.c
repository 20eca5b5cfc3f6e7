/* SPDX-License-Identifier: MPL-2.0 */
/*
 * libscif and MPSS's libscif.so.0 stand in for each other, both ways:
 *
 *   two-way LIBSCIF_DIR STANDIN_DIR ON_STANDIN ON_LIBSCIF
 *       mpss/program.c linked against the MPSS stand-in runs a whole
 *       session on libscif; linked against libscif, it loads on the
 *       stand-in.
 *   resolves LIBRARY STANDIN_DIR
 *       a library built against libscif (the project's libzmq) loads with
 *       the stand-in as its libscif.so.0.
 *
 * Each program runs with LD_BIND_NOW=1, so that every symbol, with its
 * version, is bound before main, and must say nothing on stderr of missing
 * version information. Not linked against any libscif itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void fail(const char *what, const char *output)
{
	fprintf(stderr, "FAIL: %s\n%s", what, output);
	failures++;
}

/*
 * Runs argv with the library path and LD_BIND_NOW=1; returns its exit
 * status (-1 unless it exited) and what it wrote to stderr in output.
 */
static int run(char *const argv[], const char *library_path, char *output,
	       size_t size)
{
	int fds[2], status = 0;
	size_t used = 0;
	ssize_t n;
	pid_t child;

	if (pipe(fds) < 0) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	child = fork();
	if (child == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		setenv("LD_LIBRARY_PATH", library_path, 1);
		setenv("LD_BIND_NOW", "1", 1);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	while (used + 1 < size &&
	       ((n = read(fds[0], output + used, size - used - 1)) > 0 ||
		(n < 0 && errno == EINTR)))
		used += n > 0 ? (size_t)n : 0;
	output[used] = '\0';
	close(fds[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The loader's warning for a version a library does not define. */
static int warns_of_versions(const char *output)
{
	return strstr(output, "no version information") != NULL;
}

static void expect_clean_run(char *const argv[], const char *library_path,
			     const char *what)
{
	char output[8192];
	int status = run(argv, library_path, output, sizeof(output));

	if (status != 0)
		fail(what, output);
	else if (warns_of_versions(output))
		fail(what, output);
	else
		printf("ok: %s\n", what);
}

static int remove_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void two_way(char *libscif_dir, char *standin_dir, char *on_standin,
		    char *on_libscif)
{
	char domain[] = "/tmp/scif-abi-XXXXXX";
	char *session[] = {on_standin, "session", NULL};
	char *load[] = {on_libscif, "load", NULL};

	/* A machine of its own, so that parallel runs never meet. */
	if (!mkdtemp(domain)) {
		perror("mkdtemp");
		exit(2);
	}
	setenv("SCIF_EMU_DOMAIN", domain, 1);
	setenv("SCIF_EMU_NODES", "2", 1);
	setenv("SCIF_EMU_NODE", "0", 1);
	expect_clean_run(session, libscif_dir,
			 "a program linked against MPSS's libscif.so.0 runs "
			 "a session on libscif");
	expect_clean_run(load, standin_dir,
			 "a program linked against libscif loads on MPSS's "
			 "libscif.so.0");
	nftw(domain, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* In the child: loads the library, says which libscif.so.0 served it. */
static int load_library(const char *library, const char *standin_dir)
{
	void *handle = dlopen(library, RTLD_NOW);
	void *scif_open;
	Dl_info where;

	if (!handle) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	scif_open = dlsym(handle, "scif_open");
	if (!scif_open || !dladdr(scif_open, &where) ||
	    strncmp(where.dli_fname, standin_dir, strlen(standin_dir)) != 0) {
		fprintf(stderr, "scif_open came from %s, not the stand-in\n",
			scif_open ? where.dli_fname : "nowhere");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	alarm(120); /* a hung child is a failure, never a stuck suite */
	if (argc == 6 && strcmp(argv[1], "two-way") == 0) {
		two_way(argv[2], argv[3], argv[4], argv[5]);
	} else if (argc == 4 && strcmp(argv[1], "resolves") == 0) {
		char *self[] = {"/proc/self/exe", "load-library", argv[2],
				argv[3], NULL};
		char what[1024];

		snprintf(what, sizeof(what),
			 "%s resolves every SCIF symbol on MPSS's "
			 "libscif.so.0",
			 argv[2]);
		expect_clean_run(self, argv[3], what);
	} else if (argc == 4 && strcmp(argv[1], "load-library") == 0) {
		return load_library(argv[2], argv[3]);
	} else {
		fprintf(stderr,
			"usage: %s two-way LIBSCIF_DIR STANDIN_DIR ON_STANDIN "
			"ON_LIBSCIF\n"
			"       %s resolves LIBRARY STANDIN_DIR\n",
			argv[0], argv[0]);
		return 2;
	}
	return failures ? 1 : 0;
}
