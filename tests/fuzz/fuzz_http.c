/* Fuzzes the HTTP edge as a client sees it: raw bytes go over loopback to the real server code
 * (libmicrohttpd's parser, server/http.c's framing checks, body cap, routing, the worker hand-off
 * and completion), with no database behind it, so every database route answers 503. The
 * server must answer with an HTTP/1.x status line (or nothing, for an incomplete request), and
 * sanitizers watch the whole lifecycle. Not linked with shim.c: this harness runs
 * server/http.c itself. Each input is one connection; the client waits briefly for the answer
 * (a keep-alive connection stays open, so waiting for the close would cost the idle timeout),
 * then resets the connection (no TIME_WAIT pile-up). */
#include "server/config.h"
#include "server/edge/http.h"
#include "server/log.h"
#include "server/edge/ratelimit.h"
#include "server/data/worker.h"
#include "tests/fuzz/shim.h"
#include "server/edge/auth.h"
#include "server/edge/dispatch.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int port;

void fuzz_fail(const char *file, int line, const char *what) {
    fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", file, line, what);
    abort();
}

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        abort();
    close(s);
    return ntohs(a.sin_port);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static char listen[32];
    signal(SIGPIPE, SIG_IGN);
    port = free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    setenv("ALLIED_LISTEN", listen, 1);
    setenv("ALLIED_LOG", "off", 1);
    setenv("ALLIED_MAX_BODY_BYTES", "4096", 1); /* small, so the fuzzer reaches the cap */
    setenv("ALLIED_CONN_TIMEOUT", "5", 1);
    unsetenv("DATABASE_URL"); /* database routes answer 503: this fuzzes the edge, not the DB */
    /* The same start-up order as server/main.c: the HTTP edge consults the rate limiter. */
    static const struct worker_hooks hooks = {dispatch_run, http_resume, auth_request_prefix};
    if (config_load() != 0 || ratelimit_start() != 0 || workers_start(1, &hooks) != 0 || http_start() != 0) abort();
    return 0;
}

/* A connected socket to the server. Each connection comes from another loopback address
 * (127.1.x.y): the server closes many of them first, and its TIME_WAIT entries would otherwise
 * use up the ephemeral ports of a single client address within a minute. */
static int connect_server(void) {
    static unsigned next;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned n = next++ % 65000 + 1;
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7F010000u | n)};
        struct timeval first = {.tv_usec = 300000}, snd = {.tv_sec = 2};
        struct linger rst = {.l_onoff = 1, .l_linger = 0};
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) abort();
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &first, sizeof first);
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
        setsockopt(s, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
        if (bind(s, (struct sockaddr *)&src, sizeof src) == 0 &&
            connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            return s;
        perror("fuzz_http: connect to the server under test");
        close(s);
    }
    abort(); /* the server is gone */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct timeval idle = {.tv_usec = 30000};
    int s = connect_server();
    size_t off = 0;
    while (off < size) {
        ssize_t n = send(s, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0) break; /* the server answered early and closed */
        off += (size_t)n;
    }
    shutdown(s, SHUT_WR);
    char buf[65536];
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(s, got < sizeof buf ? buf + got : buf,
                         got < sizeof buf ? sizeof buf - got : sizeof buf, 0);
        if (n <= 0) break; /* closed, reset, or quiet for a while */
        if (got == 0) setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
        if (got < sizeof buf) got += (size_t)n;
    }
    close(s);
    if (getenv("FUZZ_HTTP_PRINT")) /* replaying one input: show what the server said */
        fprintf(stderr, "%.*s\n", (int)(got < sizeof buf ? got : sizeof buf), buf);
    if (got > 0) FUZZ_ASSERT(got >= 12 && memcmp(buf, "HTTP/1.", 7) == 0 && buf[8] == ' ');
    return 0;
}
