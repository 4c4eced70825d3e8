/**
 * @file changes.c
 * @brief The change counter and GET /v1/changes (changes.h).
 */
#include "changes.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

void srv_changes_bump(srv *s)
{
    atomic_fetch_add(&s->changes, 1);
    srv_waiters_wake_changes(s->waiters);
}

uint64_t srv_changes_seq(srv *s)
{
    return 1 + (uint64_t)atomic_load(&s->changes);
}

static enum MHD_Result reply_seq(srv_req *r)
{
    return srv_reply_json(r, 200, json_pack("{s:I}", "seq", (json_int_t)srv_changes_seq(r->s)));
}

/** Parse ?after= (a decimal integer >= 0) into *@p after; *@p given says whether it was there.
 *  @return 0, or -1 with a 400 naming "after" queued into *@p ret. */
static int after_param(srv_req *r, uint64_t *after, int *given, enum MHD_Result *ret)
{
    const char *a = srv_query(r, "after");
    *given = a != NULL;
    *after = 0;
    if (!a) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(a, &end, 10);
    if (errno || end == a || *end || *a < '0' || *a > '9' || (json_int_t)v < 0) {
        *ret = srv_problem_param(r, "after",
                                 "after must be a seq returned by GET /v1/changes (an integer "
                                 ">= 0), not '%s'",
                                 a);
        return -1;
    }
    *after = (uint64_t)v;
    return 0;
}

enum MHD_Result h_changes(srv_req *r)
{
    srv *s = r->s;
    if (r->poll_state == 1) return reply_seq(r); /* resumed: moved, deadline or shutdown */
    enum MHD_Result ret;
    uint64_t after;
    int given;
    if (after_param(r, &after, &given, &ret)) return ret;
    double wait;
    if (srv_wait_param(r, &wait, &ret)) return ret;
    if (!given || wait <= 0 || srv_changes_seq(s) != after || atomic_load(&s->stopping))
        return reply_seq(r);
    if (srv_waiters_suspend_kind(s->waiters, &r->waiter, r->con, "", srv_now() + wait,
                                 SRV_WAIT_CHANGES) != 0)
        return reply_seq(r);
    r->poll_state = 1;
    /* A change counted before the registration woke nobody: look again now. One counted after
     * it finds this waiter (srv_changes_bump counts, then wakes under the registry's lock). */
    if (srv_changes_seq(s) != after) srv_waiters_resume(s->waiters, &r->waiter);
    return MHD_YES;
}
