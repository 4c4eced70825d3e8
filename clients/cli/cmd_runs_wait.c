/**
 * @file cmd_runs_wait.c
 * @brief Waiting for a run of eirnnd to end: long polls of GET /v1/runs/ID?wait=... with a
 *        progress bar on a terminal (cmd_runs.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "eir_clock.h"
#include "cmd_runs.h"

/** Longest long poll asked for without a progress bar (the server caps it too). */
#define POLL_MAX_S 30.0
/** Long poll with a progress bar: the bar moves about once a second. */
#define POLL_BAR_S 1.0
/** Added to a long poll's wait for the request's own timeout. */
#define POLL_SLACK_S 30.0

int cli_run_wait(cli_http *h, const char *id, double timeout_s, cli_http_resp *last)
{
    return cli_job_wait(h, "runs", "run", id, timeout_s, last);
}

int cli_job_wait(cli_http *h, const char *collection, const char *noun, const char *id,
                 double timeout_s, cli_http_resp *last)
{
    double t0 = eir_clock_mono(), deadline = timeout_s > 0 ? t0 + timeout_s : 0;
    int bar = out_progress_enabled();
    memset(last, 0, sizeof *last);
    char status[32] = "queued";
    double frac = 0;
    for (;;) {
        double w = bar ? POLL_BAR_S : POLL_MAX_S;
        if (deadline) {
            double rem = deadline - eir_clock_mono();
            if (rem <= 0) {
                out_progress_end();
                cli_error("%s %s has not ended after %g s (%s, %.1f%% done); it goes on: "
                          "'eirnn %s wait %s' waits again, 'eirnn %s cancel %s' stops it",
                          noun, id, timeout_s, status, 100.0 * frac, collection, id, collection,
                          id);
                return CLI_ETIMEOUT;
            }
            if (rem < w) w = rem;
        }
        char ws[32];
        snprintf(ws, sizeof ws, "%.3f", w);
        cli_url u = {0};
        cli_url_add(&u, "/v1/");
        cli_url_add(&u, collection);
        cli_url_add(&u, "/");
        cli_url_add_segment(&u, id);
        cli_url_add_query(&u, "wait", ws);
        const char *path = cli_url_text(&u);
        cli_http_resp r;
        double t1 = eir_clock_mono();
        int rc = cli_http_poll(h, path, w + POLL_SLACK_S, &r);
        cli_url_free(&u);
        if (rc != CLI_OK) {
            out_progress_end();
            return rc;
        }
        if (r.status == 503) continue; /* waited out: the deadline is checked again */
        const json_t *run = cli_answer_object(&r);
        if (!run) {
            out_progress_end();
            cli_http_resp_free(&r);
            return CLI_EHTTP;
        }
        const char *st = cli_run_status(run);
        const json_t *p = json_object_get(run, "progress");
        snprintf(status, sizeof status, "%s", st);
        frac = json_number_value(json_object_get(p, "fraction"));
        out_progress(id, st, cli_run_member_int(p, "done"), cli_run_member_int(p, "total"));
        if (cli_run_status_final(st)) {
            out_progress_end();
            *last = r;
            return CLI_OK;
        }
        cli_http_resp_free(&r);
        /* A server that does not hold the poll (--long-poll-max 0) is asked twice a second. */
        double took = eir_clock_mono() - t1;
        if (took < 0.5) eir_clock_sleep(0.5 - took);
    }
}
