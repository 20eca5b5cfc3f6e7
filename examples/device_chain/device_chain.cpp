// SPDX-License-Identifier: MPL-2.0
//
// A FairMQ-shaped device chain over scif://, with plain libzmq:
//
//   sampler (node 1) --PUSH/PULL--> processor (node 0) --PAIR--> sink (node 1)
//
// as an EPN chain would run with its processing on the host and the
// devices around it on a coprocessor card. Each message is multipart like
// a FairMQ parts message: a 16-byte header (sequence number, payload size)
// and the payload. The processor checks the header, counts itself in it
// and forwards both parts without copying them; the sink checks every
// header and the payload's bytes, and prints the chain's throughput per
// size. Exit status 0 when every message arrived intact and in order.
//
// Usage: device_chain [SIZE[K|M] ...]   (default: 1K 64K 1M 16M)
// Needs SCIF_EMU_DOMAIN for libscif's emulator (or a real SCIF host, where
// node 1 is the first card).
#include <zmq.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace
{
struct header_t
{
    uint64_t sequence;
    uint32_t size;
    uint32_t hops; // devices the message went through
};

const uint64_t end_of_run = UINT64_MAX;

int fail (const char *what)
{
    std::fprintf (stderr, "device_chain: %s: %s\n", what,
                  zmq_strerror (zmq_errno ()));
    return 1;
}

// About 256 MiB per size, at least 20 and at most 20000 messages.
int messages_for (size_t size)
{
    const size_t count = (256u << 20) / (size ? size : 1);
    return static_cast<int> (count < 20 ? 20 : count > 20000 ? 20000 : count);
}

unsigned char payload_byte (uint64_t sequence, size_t offset)
{
    return static_cast<unsigned char> (sequence * 7 + offset / 4096);
}

void *connected (void *ctx, int type, const char *endpoint)
{
    void *socket = zmq_socket (ctx, type);
    if (socket && zmq_connect (socket, endpoint) != 0) {
        zmq_close (socket);
        return NULL;
    }
    return socket;
}

int sampler (const char *endpoint, const std::vector<size_t> &sizes)
{
    void *ctx = zmq_ctx_new ();
    void *push = connected (ctx, ZMQ_PUSH, endpoint);
    if (!push)
        return fail ("sampler connect");
    for (size_t size : sizes) {
        const int count = messages_for (size);
        for (int i = 0; i <= count; i++) {
            const header_t header = {
              i == count ? end_of_run : static_cast<uint64_t> (i),
              static_cast<uint32_t> (size), 1};
            zmq_msg_t payload;
            zmq_msg_init_size (&payload, i == count ? 0 : size);
            unsigned char *data =
              static_cast<unsigned char *> (zmq_msg_data (&payload));
            // One byte value per page: cheap to write, and a page moved to
            // the wrong place shows.
            for (size_t at = 0; at < zmq_msg_size (&payload); at += 4096)
                std::memset (data + at, payload_byte (i, at),
                             size - at < 4096 ? size - at : 4096);
            if (zmq_send (push, &header, sizeof header, ZMQ_SNDMORE) < 0
                || zmq_msg_send (&payload, push, 0) < 0)
                return fail ("sampler send");
        }
    }
    zmq_close (push);
    zmq_ctx_term (ctx);
    return 0;
}

// Receives the next multipart message; false at its end or on error.
bool recv_parts (void *socket, zmq_msg_t *header, zmq_msg_t *payload)
{
    if (zmq_msg_recv (header, socket, 0) < 0 || !zmq_msg_more (header)
        || zmq_msg_size (header) != sizeof (header_t))
        return false;
    return zmq_msg_recv (payload, socket, 0) >= 0 && !zmq_msg_more (payload);
}

int processor (void *pull, void *pair, size_t runs)
{
    zmq_msg_t header, payload;
    zmq_msg_init (&header);
    zmq_msg_init (&payload);
    while (runs) {
        if (!recv_parts (pull, &header, &payload))
            return fail ("processor receive");
        header_t *h = static_cast<header_t *> (zmq_msg_data (&header));
        if (h->sequence != end_of_run && zmq_msg_size (&payload) != h->size) {
            std::fprintf (stderr, "processor: payload of %zu bytes, not %u\n",
                          zmq_msg_size (&payload), h->size);
            return 1;
        }
        h->hops++;
        if (h->sequence == end_of_run)
            runs--;
        // Forwarded as they are: zmq_msg_send hands the buffers over.
        if (zmq_msg_send (&header, pair, ZMQ_SNDMORE) < 0
            || zmq_msg_send (&payload, pair, 0) < 0)
            return fail ("processor send");
    }
    zmq_msg_close (&header);
    zmq_msg_close (&payload);
    return 0;
}

bool payload_intact (const zmq_msg_t *payload, uint64_t sequence)
{
    const unsigned char *data = static_cast<const unsigned char *> (
      zmq_msg_data (const_cast<zmq_msg_t *> (payload)));
    const size_t size = zmq_msg_size (const_cast<zmq_msg_t *> (payload));
    for (size_t at = 0; at < size; at += 4096) {
        const size_t end = size - at < 4096 ? size : at + 4096;
        if (data[at] != payload_byte (sequence, at)
            || data[end - 1] != payload_byte (sequence, at))
            return false;
    }
    return true;
}

int sink (const char *endpoint, const std::vector<size_t> &sizes)
{
    void *ctx = zmq_ctx_new ();
    void *pair = connected (ctx, ZMQ_PAIR, endpoint);
    if (!pair)
        return fail ("sink connect");
    zmq_msg_t header, payload;
    zmq_msg_init (&header);
    zmq_msg_init (&payload);
    std::printf ("%10s %10s %12s %12s\n", "size", "messages", "msg/s", "MB/s");
    for (size_t size : sizes) {
        const int count = messages_for (size);
        std::chrono::steady_clock::time_point start;
        for (int i = 0; i <= count; i++) {
            if (!recv_parts (pair, &header, &payload))
                return fail ("sink receive");
            if (i == 0)
                start = std::chrono::steady_clock::now ();
            const header_t *h =
              static_cast<const header_t *> (zmq_msg_data (&header));
            const uint64_t expected =
              i == count ? end_of_run : static_cast<uint64_t> (i);
            if (h->sequence != expected || h->hops != 2 || h->size != size
                || (i < count && !payload_intact (&payload, expected))) {
                std::fprintf (stderr,
                              "sink: message %d of %zu bytes arrived damaged "
                              "or out of order\n",
                              i, size);
                return 1;
            }
        }
        // The clock starts at the first message: count - 1 intervals.
        const double seconds = std::chrono::duration<double> (
                                  std::chrono::steady_clock::now () - start)
                                  .count ();
        const double rate = (count - 1) / seconds;
        std::printf ("%10zu %10d %12.0f %12.1f\n", size, count, rate,
                     rate * size / 1e6);
    }
    zmq_msg_close (&header);
    zmq_msg_close (&payload);
    zmq_close (pair);
    zmq_ctx_term (ctx);
    return 0;
}

bool parse_size (const char *text, size_t *size)
{
    char *end;
    const unsigned long long value = std::strtoull (text, &end, 10);
    const std::string unit (end);
    const unsigned long long scale = unit.empty () ? 1
                                     : unit == "K" ? 1024
                                     : unit == "M" ? 1024 * 1024
                                                   : 0;
    if (end == text || !scale || value == 0 || value > (1ull << 30) / scale)
        return false;
    *size = static_cast<size_t> (value * scale);
    return true;
}

std::string bound_endpoint (void *socket)
{
    char endpoint[256];
    size_t size = sizeof endpoint;
    if (zmq_getsockopt (socket, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0)
        return std::string ();
    return endpoint;
}

// Runs fn as SCIF node 1 in a child process.
pid_t on_card (int (*fn) (const char *, const std::vector<size_t> &),
               const std::string &endpoint,
               const std::vector<size_t> &sizes)
{
    const pid_t pid = fork ();
    if (pid == 0) {
        setenv ("SCIF_EMU_NODE", "1", 1);
        const int rc = fn (endpoint.c_str (), sizes);
        std::fflush (stdout);
        _exit (rc);
    }
    return pid;
}
}

int main (int argc, char *argv[])
{
    std::vector<size_t> sizes;
    for (int i = 1; i < argc; i++) {
        size_t size;
        if (!parse_size (argv[i], &size)) {
            std::fprintf (stderr,
                          "device_chain: '%s' is not a size (1 B to 1 GiB, "
                          "e.g. 1024, 64K, 16M)\n",
                          argv[i]);
            return 2;
        }
        sizes.push_back (size);
    }
    if (sizes.empty ())
        sizes = {1024, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024};
    if (!zmq_has ("scif")) {
        std::fprintf (stderr, "device_chain: this libzmq has no scif://\n");
        return 1;
    }

    // The processor binds both channels, as FairMQ's processor devices do.
    void *ctx = zmq_ctx_new ();
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    void *pair = zmq_socket (ctx, ZMQ_PAIR);
    if (zmq_bind (pull, "scif://*:*") != 0 || zmq_bind (pair, "scif://*:*") != 0)
        return fail ("processor bind");
    std::printf ("sampler -> %s -> processor -> %s -> sink\n",
                 bound_endpoint (pull).c_str (), bound_endpoint (pair).c_str ());
    std::fflush (stdout);
    const pid_t sampler_pid = on_card (sampler, bound_endpoint (pull), sizes);
    const pid_t sink_pid = on_card (sink, bound_endpoint (pair), sizes);

    int rc = processor (pull, pair, sizes.size ());
    for (pid_t pid : {sampler_pid, sink_pid}) {
        int status = 0;
        waitpid (pid, &status, 0);
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
            rc = 1;
    }
    zmq_close (pull);
    zmq_close (pair);
    zmq_ctx_term (ctx);
    std::printf ("device chain %s\n", rc == 0 ? "ok" : "FAILED");
    return rc;
}
