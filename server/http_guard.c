/**
 * @file http_guard.c
 * @brief The connection guard: a watchdog thread that hangs up on clients that trickle their
 *        requests' headers (docs/RELIABILITY.md, "Slow clients"). Its state belongs to the
 *        daemon (srv::guard); the list of connections is under the guard's own lock.
 *
 * libmicrohttpd's connection timeout only closes connections that send nothing for that long:
 * a client that trickles its request (a header line, or a body byte, every few seconds) would
 * keep its connection forever. So every connection is tracked from its start and from the end
 * of each request: its next request's headers must all arrive within --connection-timeout, or
 * the watchdog shuts the socket down (shutdown(2) only: libmicrohttpd sees the end of the
 * stream and closes and frees the connection itself). Entries leave the list in the "closed"
 * notification, which libmicrohttpd sends before it closes the descriptor, so the watchdog never
 * touches a descriptor that was reused. A body is checked as it arrives (http_request.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "eir_clock.h"
#include "http_internal.h"

/** One tracked connection. */
typedef struct conn_track {
    struct conn_track *prev, *next;
    int fd;
    int waiting;  /**< 1 while the headers of a request are awaited */
    double since; /**< srv_now() when the wait began */
} conn_track;

/** The guard's state (srv::guard). */
struct srv_guard {
    pthread_mutex_t lock; /**< guards head, the entries' fields and stop */
    pthread_cond_t wake;  /**< signalled to stop */
    conn_track *head;     /**< tracked connections */
    pthread_t thread;     /**< the watchdog */
    int stop;             /**< 1: the watchdog is to return */
    double timeout;       /**< seconds a request's headers may take */
};

void srv_guard_on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    struct srv_guard *g = ((srv *)cls)->guard;
    if (!g) return;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_track *t = calloc(1, sizeof *t);
        if (!t || !ci) {
            free(t);
            return;
        }
        t->fd = ci->connect_fd;
        t->waiting = 1;
        t->since = srv_now();
        pthread_mutex_lock(&g->lock);
        t->next = g->head;
        if (g->head) g->head->prev = t;
        g->head = t;
        pthread_mutex_unlock(&g->lock);
        *socket_context = t;
        return;
    }
    conn_track *t = *socket_context;
    if (!t) return;
    *socket_context = NULL;
    pthread_mutex_lock(&g->lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        g->head = t->next;
    if (t->next) t->next->prev = t->prev;
    pthread_mutex_unlock(&g->lock);
    free(t);
}

void srv_guard_waiting(srv *s, struct MHD_Connection *con, int waiting)
{
    struct srv_guard *g = s->guard;
    if (!g) return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_track *t = ci ? ci->socket_context : NULL;
    if (!t) return;
    pthread_mutex_lock(&g->lock);
    t->waiting = waiting;
    t->since = srv_now();
    pthread_mutex_unlock(&g->lock);
}

/** The watchdog: every 250 ms, shut down the connections that waited too long for headers. */
static void *guard_main(void *arg)
{
    struct srv_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts = eir_clock_deadline(CLOCK_REALTIME, 0.25);
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        double now = srv_now(), took[16];
        int n = 0;
        for (conn_track *t = g->head; t; t = t->next) {
            if (!t->waiting || now - t->since <= g->timeout) continue;
            t->waiting = 0; /* once */
            shutdown(t->fd, SHUT_RDWR);
            if (n < 16) took[n] = now - t->since;
            n++;
        }
        /* Logged without the lock (stderr may block); of a burst, 16 lines and a count. */
        pthread_mutex_unlock(&g->lock);
        for (int i = 0; i < n && i < 16; i++)
            srv_log("slow_client", json_pack("{s:s, s:f}", "phase", "headers", "seconds", took[i]));
        if (n > 16)
            srv_log("slow_client", json_pack("{s:s, s:i}", "phase", "headers", "more", n - 16));
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

int srv_guard_start(srv *s)
{
    struct srv_guard *g = calloc(1, sizeof *g);
    if (!g) {
        srv_log("error", json_pack("{s:s}", "message", "out of memory at start"));
        return -1;
    }
    g->timeout = s->cfg.connection_timeout;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        srv_log("error", json_pack("{s:s}", "message", "cannot create the connection guard"));
        return -1;
    }
    int has_cond = pthread_cond_init(&g->wake, NULL) == 0;
    if (!has_cond || pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        if (has_cond) pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        srv_log("error", json_pack("{s:s}", "message", "cannot start the connection guard"));
        return -1;
    }
    s->guard = g;
    return 0;
}

void srv_guard_stop(srv *s)
{
    struct srv_guard *g = s->guard;
    if (!g) return;
    pthread_mutex_lock(&g->lock);
    g->stop = 1;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    for (conn_track *t = g->head, *next; t; t = next) {
        next = t->next;
        free(t);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
    s->guard = NULL;
}
