/**
 * @file http_daemon.c
 * @brief The HTTP daemon's life cycle: the listening socket (IPv4 or IPv6), libmicrohttpd
 *        started with the daemon's options and the callbacks of http_request.c, quiescing,
 *        stopping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"

int srv_http_listen(srv *s)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%u", s->cfg.port);
    int rc = getaddrinfo(s->cfg.listen_host, port, &hints, &res);
    if (rc != 0) {
        srv_log("error",
                json_pack("{s:s, s:s, s:s}", "message", "cannot resolve the listen address", "host",
                          s->cfg.listen_host, "reason", gai_strerror(rc)));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        srv_log("error",
                json_pack("{s:s, s:s, s:i, s:s}", "message", "cannot listen", "host",
                          s->cfg.listen_host, "port", (int)s->cfg.port, "reason", strerror(err)));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    s->listen_fd = fd;
    return 0;
}

int srv_http_start(srv *s)
{
    s->oom_response = srv_oom_response_new();
    if (!s->oom_response) {
        srv_log("error", json_pack("{s:s}", "message", "out of memory at start"));
        return -1;
    }
    if (srv_guard_start(s) != 0) return -1;
    /* MHD_USE_ITC: connections handed over with MHD_add_connection() (fuzz/fuzz_http.c) are
       served at once, not at the next event of the listening socket. MHD_USE_POLL, not epoll:
       libmicrohttpd 0.9.75's edge-triggered epoll misses the end of the stream when a client's
       last bytes and its close arrive together mid-request, and keeps the connection (and the
       share of --max-body-buffer-bytes its body holds) until --connection-timeout
       (docs/RELIABILITY.md, "Slow clients"). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, &srv_http_on_access, s, MHD_OPTION_EXTERNAL_LOGGER,
        &srv_http_on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->cfg.http_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->cfg.connection_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->cfg.max_connections,
        MHD_OPTION_NOTIFY_COMPLETED, &srv_http_on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
        &srv_guard_on_connection, s, MHD_OPTION_UNESCAPE_CALLBACK, &srv_http_unescape, NULL,
        MHD_OPTION_END);
    if (!s->mhd) {
        srv_log("error", json_pack("{s:s}", "message", "cannot start the HTTP daemon"));
        return -1;
    }
    return 0;
}

void srv_http_quiesce(srv *s)
{
    if (!s->mhd || s->listen_fd < 0) return;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    s->listen_fd = -1;
}

void srv_http_stop(srv *s)
{
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        s->listen_fd = -1; /* closed by MHD unless quiesced (then already closed) */
    } else if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    /* After MHD: its last "closed" notifications have taken every connection off the list. */
    srv_guard_stop(s);
    if (s->oom_response) MHD_destroy_response(s->oom_response);
    s->oom_response = NULL;
}
