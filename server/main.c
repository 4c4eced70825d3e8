/**
 * @file main.c
 * @brief eirnnd: parse the configuration, start the daemon (daemon.h: store, orphaned runs
 *        requeued, workers, HTTP server), wait for SIGTERM/SIGINT and shut down gracefully.
 *
 * Shutdown: stop accepting connections, refuse new runs (503), answer every pending long poll,
 * let running runs finish for up to --shutdown-grace seconds (a second signal cuts the grace
 * short), give the rest back to the queue, stop HTTP, close the store, exit 0 (with _exit()
 * while an abandoned eigensolver still runs: see eir_abandoned_solvers()).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "eir_analysis.h"

int main(int argc, char **argv)
{
    srv_json_init(); /* before any JSON is made (see srv.h) */
    srv s;
    memset(&s, 0, sizeof s);
    srv_config_defaults(&s.cfg);
    int rc = srv_config_parse(&s.cfg, argc, argv);
    if (rc) {
        srv_config_free(&s.cfg);
        return rc == 1 ? 0 : 2;
    }

    /* Signals: blocked in every thread, taken here synchronously. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    if (srv_daemon_start(&s) == 0) {
        char db[1024];
        srv_db_redacted(s.cfg.db, db, sizeof db);
        srv_log("listening",
                json_pack("{s:s, s:i, s:s, s:s, s:f, s:i, s:i, s:i, s:b, s:s, s:s}", "host",
                          s.cfg.listen_host, "port", (int)s.port, "db", db, "store",
                          store_backend_name(s.store), "lease_s", s.cfg.lease_seconds, "workers",
                          s.cfg.workers, "threads_per_run", s.cfg.threads_per_run, "http_threads",
                          s.cfg.http_threads, "auth", s.has_token, "version", EIRNN_VERSION,
                          "engine", EIR_ENGINE_VERSION));
        int sig = 0;
        while (!sig) {
            if (sigwait(&set, &sig) != 0) sig = 0;
        }
        srv_daemon_shutdown(&s, &set, sig);
        exit_code = 0;
    }
    srv_daemon_free(&s);
    if (exit_code == 0) srv_log("stopped", json_pack("{s:f}", "uptime_s", srv_now() - s.started));
    srv_config_free(&s.cfg);
    if (eir_abandoned_solvers() > 0) {
        /* An eigensolver abandoned by a cancel or by this shutdown (eir_analysis.h) still runs:
         * the exit-time teardown (OpenBLAS frees its buffers) would pull memory from under it.
         * Everything of ours is closed and flushed: leave without the teardown. */
        fflush(stdout);
        fflush(stderr);
        _exit(exit_code);
    }
    return exit_code;
}
