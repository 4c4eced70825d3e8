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
 *
 * Only the client's time counts: a connection is served by one HTTP thread, and while that
 * thread runs a handler (for any of its connections) it reads nothing, so bytes the client has
 * sent wait in the socket. Each thread's busy time is summed (srv_guard_busy(), around every
 * callback of http_request.c), and a connection's wait is its time since the wait began minus
 * its thread's busy time since then. libmicrohttpd's own idle timeout cannot tell the two
 * apart (it counts from the last bytes read or written, and checks right after a busy callback
 * returns), so a connection waiting for headers has none (MHD_set_connection_option, 0, from its
 * own callbacks): the watchdog alone times that wait, idle keep-alive connections included. From
 * a request's headers to the end of its answer libmicrohttpd's timeout applies as before (a body
 * that stops, a reader that stops reading).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "eir_clock.h"
#include "http_internal.h"

/** One HTTP thread's time spent in the daemon's callbacks. */
typedef struct thread_busy {
    pthread_t tid; /**< the thread */
    double total;  /**< seconds busy, finished stretches */
    double since;  /**< srv_now() when the current stretch began, 0 when idle */
    int depth;     /**< nested srv_guard_busy(1) calls */
} thread_busy;

/** One tracked connection. */
typedef struct conn_track {
    struct conn_track *prev, *next;
    int fd;
    int waiting;      /**< 1 while the headers of a request are awaited */
    double since;     /**< srv_now() when the wait began */
    int slot;         /**< the thread serving it (srv_guard::threads), -1 unknown */
    double busy_mark; /**< that thread's busy seconds when the wait began */
} conn_track;

/** The guard's state (srv::guard). */
struct srv_guard {
    pthread_mutex_t lock; /**< guards head, the entries' fields, threads and stop */
    pthread_cond_t wake;  /**< signalled to stop */
    conn_track *head;     /**< tracked connections */
    pthread_t thread;     /**< the watchdog */
    int stop;             /**< 1: the watchdog is to return */
    double timeout;       /**< seconds a request's headers may take */
    thread_busy *threads; /**< busy time of the HTTP threads seen so far */
    int n_threads, cap_threads;
};

/** The slot of the calling thread in @p g->threads, added if new; -1 when the table is full
 *  (more threads than the HTTP threads: then its connections are timed as if never busy).
 *  Called with the lock held. */
static int thread_slot(struct srv_guard *g)
{
    pthread_t self = pthread_self();
    for (int i = 0; i < g->n_threads; i++)
        if (pthread_equal(g->threads[i].tid, self)) return i;
    if (g->n_threads == g->cap_threads) return -1;
    g->threads[g->n_threads] = (thread_busy){self, 0, 0, 0};
    return g->n_threads++;
}

/** Busy seconds of thread @p slot up to @p now (0 for -1). Called with the lock held. */
static double busy_seconds(const struct srv_guard *g, int slot, double now)
{
    if (slot < 0) return 0;
    const thread_busy *b = &g->threads[slot];
    return b->total + (b->since > 0 ? now - b->since : 0);
}

/** The part of a wait that the client is responsible for: the @p now - @p since seconds of the
 *  wait minus the serving thread's busy seconds meanwhile (@p busy_now - @p busy_mark). */
static double client_seconds(double since, double busy_mark, double busy_now, double now)
{
    double busy = busy_now - busy_mark;
    return now - since - (busy > 0 ? busy : 0);
}

void srv_guard_busy(srv *s, int busy)
{
    struct srv_guard *g = s->guard;
    if (!g) return;
    double now = srv_now();
    pthread_mutex_lock(&g->lock);
    int slot = thread_slot(g);
    if (slot >= 0) {
        thread_busy *b = &g->threads[slot];
        if (busy && b->depth++ == 0) b->since = now;
        if (!busy && b->depth > 0 && --b->depth == 0) {
            b->total += now - b->since;
            b->since = 0;
        }
    }
    pthread_mutex_unlock(&g->lock);
}

double srv_guard_thread_busy(srv *s)
{
    struct srv_guard *g = s->guard;
    if (!g) return 0;
    pthread_mutex_lock(&g->lock);
    int slot = thread_slot(g);
    double b = busy_seconds(g, slot, srv_now());
    pthread_mutex_unlock(&g->lock);
    return b;
}

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
        MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT, 0u); /* the guard's */
        t->since = srv_now();
        pthread_mutex_lock(&g->lock);
        t->slot = thread_slot(g);
        t->busy_mark = busy_seconds(g, t->slot, t->since);
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
    t->slot = thread_slot(g); /* called by the thread that serves the connection */
    t->busy_mark = busy_seconds(g, t->slot, t->since);
    unsigned timeout = (unsigned)g->timeout;
    pthread_mutex_unlock(&g->lock);
    /* Headers awaited: timed by the watchdog only (client time); a request: libmicrohttpd's
     * idle timeout too (restarted from now). */
    MHD_set_connection_option(con, MHD_CONNECTION_OPTION_TIMEOUT, waiting ? 0u : timeout);
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
            if (!t->waiting) continue;
            double client =
                client_seconds(t->since, t->busy_mark, busy_seconds(g, t->slot, now), now);
            if (client <= g->timeout) continue;
            t->waiting = 0; /* once */
            shutdown(t->fd, SHUT_RDWR);
            if (n < 16) took[n] = client;
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
    /* The HTTP threads, and the daemon's own threads that call in (the internal polling
     * thread with a pool of one, MHD_add_connection callers). */
    g->cap_threads = s->cfg.http_threads + 4;
    g->threads = calloc((size_t)g->cap_threads, sizeof *g->threads);
    if (!g->threads || pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g->threads);
        free(g);
        srv_log("error", json_pack("{s:s}", "message", "cannot create the connection guard"));
        return -1;
    }
    int has_cond = pthread_cond_init(&g->wake, NULL) == 0;
    if (!has_cond || pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        if (has_cond) pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g->threads);
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
    free(g->threads);
    free(g);
    s->guard = NULL;
}
