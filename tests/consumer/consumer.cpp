// PAIR over scif:// between this process (node 0) and a forked child that
// runs as SCIF node 1; exits 0 if both directions work.
#include <zmq.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

static int fail (const char *what)
{
    std::fprintf (stderr, "%s: %s\n", what, zmq_strerror (zmq_errno ()));
    return 1;
}

static int exchange (void *socket, const char *send, const char *expect)
{
    if (zmq_send (socket, send, std::strlen (send), 0) < 0)
        return fail ("zmq_send");
    char buf[32] = {0};
    const int size = zmq_recv (socket, buf, sizeof buf - 1, 0);
    if (size < 0)
        return fail ("zmq_recv");
    if (std::strcmp (buf, expect) != 0) {
        std::fprintf (stderr, "got '%s', expected '%s'\n", buf, expect);
        return 1;
    }
    return 0;
}

static int peer (const char *endpoint)
{
    void *ctx = zmq_ctx_new ();
    void *socket = zmq_socket (ctx, ZMQ_PAIR);
    if (zmq_connect (socket, endpoint) != 0)
        return fail ("zmq_connect");
    char buf[32] = {0};
    if (zmq_recv (socket, buf, sizeof buf - 1, 0) < 0)
        return fail ("peer zmq_recv");
    const int rc = exchange (socket, "pong", "bye");
    zmq_close (socket);
    zmq_ctx_term (ctx);
    return rc;
}

int main ()
{
    if (!zmq_has ("scif")) {
        std::fprintf (stderr, "this libzmq has no scif:// transport\n");
        return 1;
    }
    void *ctx = zmq_ctx_new ();
    void *socket = zmq_socket (ctx, ZMQ_PAIR);
    if (zmq_bind (socket, "scif://*:*") != 0)
        return fail ("zmq_bind");
    char endpoint[64];
    size_t size = sizeof endpoint;
    if (zmq_getsockopt (socket, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0)
        return fail ("ZMQ_LAST_ENDPOINT");

    const pid_t pid = fork ();
    if (pid == 0) {
        setenv ("SCIF_EMU_NODE", "1", 1);
        _exit (peer (endpoint));
    }
    int rc = exchange (socket, "ping", "pong");
    if (rc == 0 && zmq_send (socket, "bye", 3, 0) != 3)
        rc = fail ("zmq_send bye");
    int status = 0;
    waitpid (pid, &status, 0);
    zmq_close (socket);
    zmq_ctx_term (ctx);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        std::fprintf (stderr, "peer failed (status %d)\n", status);
        return 1;
    }
    std::printf ("scif:// PAIR ok via %s\n", endpoint);
    return rc;
}
