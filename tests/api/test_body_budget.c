/**
 * @file test_body_budget.c
 * @brief The daemon-wide budget of buffered request bodies (--max-body-buffer-bytes, issue 10,
 *        item 6): with a budget of 1280 KiB and bodies of about 1 MB, a second body that arrives
 *        while the first is being received is refused with 503 problem+json and Retry-After
 *        (from its Content-Length, or once a chunked body outgrows what is left), and as soon as
 *        the first request ends (answered, or its client gone mid-body) the budget is whole again:
 *        a third body is read and answered.
 *
 * Raw sockets, so that a body can be left half-sent. The bodies are "{}" after whitespace (valid
 * JSON, an empty model: 422), so that an answer other than 503 shows the body was read.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_harness.h"

static api_daemon D;

#define BODY_BYTES 1000000 /* under --max-body-bytes 1M; two do not fit in 1280K */

/** A connection to the daemon. */
static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)D.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/** Send all @p n bytes of @p data; stops quietly when the daemon hung up (it may answer a
 *  refused body and close before the body is sent: the answer is read afterwards). */
static void send_all(int fd, const char *data, size_t n)
{
    while (n) {
        ssize_t k = send(fd, data, n, MSG_NOSIGNAL);
        if (k <= 0) return;
        data += k;
        n -= (size_t)k;
    }
}

/** @p n bytes of whitespace (the start of a body that ends with "{}"). */
static void send_spaces(int fd, size_t n)
{
    static char sp[65536];
    memset(sp, ' ', sizeof sp);
    while (n) {
        size_t k = n < sizeof sp ? n : sizeof sp;
        send_all(fd, sp, k);
        n -= k;
    }
}

/** Send one chunk of @p n spaces. */
static void send_chunk(int fd, size_t n)
{
    char head[32];
    snprintf(head, sizeof head, "%zx\r\n", n);
    send_all(fd, head, strlen(head));
    send_spaces(fd, n);
    send_all(fd, "\r\n", 2);
}

/** Read an answer (headers and its Content-Length body) into @p buf; @return its status. */
static int read_answer(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    double deadline = api_now() + eir_scaled(10);
    buf[0] = '\0';
    while (n + 1 < cap && api_now() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        buf[n] = '\0';
        const char *end = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "Content-Length:");
        if (end && cl && (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10) <= n) break;
    }
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}

/** The headers of a POST /v1/models with a body of BODY_BYTES (Content-Length or chunked). */
static void send_head(int fd, int chunked)
{
    char head[256];
    if (chunked)
        snprintf(head, sizeof head,
                 "POST /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    else
        snprintf(head, sizeof head,
                 "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", BODY_BYTES);
    send_all(fd, head, strlen(head));
}

/** The rest of a body whose first @p sent bytes (spaces) went: spaces, then "{}". */
static void send_rest(int fd, int chunked, size_t sent)
{
    size_t left = BODY_BYTES - 2 - sent;
    if (chunked) {
        send_chunk(fd, left);
        send_all(fd, "2\r\n{}\r\n0\r\n\r\n", 12);
    } else {
        send_spaces(fd, left);
        send_all(fd, "{}", 2);
    }
}

/** A whole request with a body of BODY_BYTES on a new connection; @return the status. */
static int whole_request(int chunked, char *buf, size_t cap)
{
    int fd = dial();
    send_head(fd, chunked);
    if (chunked) send_chunk(fd, 0x10000); /* not the last chunk: a 0-size chunk ends the body */
    send_rest(fd, chunked, chunked ? 0x10000 : 0);
    int status = read_answer(fd, buf, cap);
    close(fd);
    return status;
}

/** A 503 problem+json with Retry-After. */
static void expect_budget_503(int status, const char *buf)
{
    if (status != 503) fail_msg("expected 503 (body budget spent), got %d: %.300s", status, buf);
    assert_non_null(strcasestr(buf, "\r\nRetry-After:"));
    assert_non_null(strstr(buf, "application/problem+json"));
    assert_non_null(strstr(buf, "max-body-buffer-bytes"));
}

/** The daemon's eirnn_http_body_buffer_bytes (bytes of bodies held in its buffer) from
 *  /metrics. */
static unsigned long long buffered_bytes(void)
{
    api_resp r;
    api_get(&D, "/metrics", &r);
    assert_int_equal(r.status, 200);
    const char *g = strstr(r.body, "\neirnn_http_body_buffer_bytes ");
    if (!g) fail_msg("/metrics lacks eirnn_http_body_buffer_bytes:\n%.2000s", r.body);
    unsigned long long v = strtoull(g + strlen("\neirnn_http_body_buffer_bytes "), NULL, 10);
    api_resp_free(&r);
    return v;
}

/** Wait until the daemon holds at least @p bytes of the budget (it has read the headers of a
 *  Content-Length body, or enough of a chunked one), however long a loaded machine makes the
 *  daemon take to read what was sent: a fixed pause let a second body win the budget first. */
static void wait_buffered(unsigned long long bytes)
{
    double deadline = api_now() + eir_scaled(20);
    unsigned long long v;
    while ((v = buffered_bytes()) < bytes) {
        if (api_now() > deadline)
            fail_msg("the daemon holds %llu bytes of bodies, not the %llu sent", v, bytes);
        api_pause(0.01);
    }
}

/** Wait until the daemon holds none of the budget (every body ended has given its share back). */
static void wait_buffer_empty(void)
{
    double deadline = api_now() + eir_scaled(5);
    unsigned long long v;
    while ((v = buffered_bytes()) != 0) {
        if (api_now() > deadline) fail_msg("the daemon still holds %llu bytes of bodies", v);
        api_pause(0.01);
    }
}

/** Bodies that hold this much of the 1280 KiB budget leave no room for a second one. */
#define HELD_BY_FIRST 1000001ull

static void budget_case(int chunked)
{
    static char buf[8192];
    /* A: headers and 600 kB (chunked: the buffer has grown to 1 MiB) of its body, then held. */
    int a = dial();
    send_head(a, chunked);
    if (chunked)
        send_chunk(a, 600000);
    else
        send_spaces(a, 600000);
    wait_buffered(HELD_BY_FIRST);
    /* B: refused while A holds the budget (chunked: once its buffer outgrows what is left). */
    int b = dial();
    send_head(b, chunked);
    if (chunked) send_chunk(b, 0x10000);
    send_rest(b, chunked, chunked ? 0x10000 : 0);
    expect_budget_503(read_answer(b, buf, sizeof buf), buf);
    close(b);
    /* A ends and is read whole. */
    send_rest(a, chunked, 600000);
    int st = read_answer(a, buf, sizeof buf);
    if (st != 422)
        fail_msg("the first body: expected 422 (an empty model), got %d: %.300s", st, buf);
    close(a);
    /* C: the budget is whole again. */
    st = whole_request(chunked, buf, sizeof buf);
    if (st != 422) fail_msg("after the first ended: expected 422, got %d: %.300s", st, buf);
    wait_buffer_empty();
}

static void test_content_length(void **state)
{
    (void)state;
    budget_case(0);
}

static void test_chunked(void **state)
{
    (void)state;
    budget_case(1);
}

/** A client gone mid-body gives its share back: no leak, whatever the framing. */
static void test_client_gone_mid_body(void **state)
{
    (void)state;
    static char buf[8192];
    for (int round = 0; round < 4; round++) {
        int chunked = round & 1;
        int a = dial();
        send_head(a, chunked);
        if (chunked)
            send_chunk(a, 600000);
        else
            send_spaces(a, 600000);
        wait_buffered(HELD_BY_FIRST);
        close(a); /* gone without the rest */
        /* Each round would leak about 1 MB of a 1280 KiB budget: the next body would get 503. */
        double deadline = api_now() + eir_scaled(5);
        int st;
        while ((st = whole_request(chunked, buf, sizeof buf)) == 503 && api_now() < deadline)
            api_pause(0.1);
        if (st != 422)
            fail_msg("round %d: after a client left mid-body: expected 422, got %d: %.300s", round,
                     st, buf);
        wait_buffer_empty();
    }
}

/** A budget below --max-body-bytes is raised to it (one largest body always fits). */
static void test_budget_at_least_one_body(void **state)
{
    (void)state;
    api_daemon d;
    api_init(&d);
    const char *args[] = {"--workers", "0", "--max-body-bytes", "1M", "--max-body-buffer-bytes",
                          "1K",        NULL};
    api_start(&d, args, NULL);
    api_daemon saved = D;
    D = d;
    static char buf[8192];
    int st = whole_request(0, buf, sizeof buf);
    D = saved;
    api_stop_clean(&d);
    if (st != 422) fail_msg("a budget of 1K with bodies of 1M: expected 422, got %d", st);
}

static int setup(void **state)
{
    (void)state;
    api_init(&D);
    const char *args[] = {"--workers",
                          "0",
                          "--max-body-bytes",
                          "1M",
                          "--max-body-buffer-bytes",
                          "1280K",
                          "--connection-timeout",
                          "30",
                          NULL};
    api_start(&D, args, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    api_stop_clean(&D);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_client_gone_mid_body),
        cmocka_unit_test(test_budget_at_least_one_body),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
