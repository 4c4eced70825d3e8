/**
 * @file store_verify.c
 * @brief eirnn-store-verify: check an eirnnd database with store_verify() (docs/STORE.md):
 *        SQLite's quick_check and foreign_key_check, then every stored result read back and
 *        its chunk numbering, sizes and SHA-256 checked.
 *
 * Usage: eirnn-store-verify DB. Prints one JSON line
 * {"results_checked": n, "results_bad": n, "bytes_checked": n} (and one line per bad result on
 * stderr). Exit 0 when the database and every result verify, 1 when something does not, 2 on
 * a usage error. Run it on a database no daemon is using (it opens the store, which takes the
 * write lock briefly to check the schema version).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

/** Report one bad result on stderr. */
static void on_bad(void *ctx, const char *run_id, const char *var, const char *why)
{
    (void)ctx;
    fprintf(stderr, "eirnn-store-verify: run %s result %s: %s\n", run_id, var, why);
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: eirnn-store-verify DB\n");
        return 2;
    }
    char err[512] = "";
    store *s = store_open(argv[1], NULL, err, sizeof err);
    if (!s) {
        fprintf(stderr, "eirnn-store-verify: %s\n", err);
        return 1;
    }
    store_conn *c = store_connect(s);
    store_verify_report rep;
    memset(&rep, 0, sizeof rep);
    store_status st = c ? store_verify(c, on_bad, NULL, &rep) : STORE_ERROR;
    if (st != STORE_OK)
        fprintf(stderr, "eirnn-store-verify: %s: %s\n", store_status_name(st),
                c ? store_errmsg(c) : "out of memory");
    printf("{\"results_checked\": %" PRId64 ", \"results_bad\": %" PRId64
           ", \"bytes_checked\": %" PRIu64 "}\n",
           rep.results_checked, rep.results_bad, rep.bytes_checked);
    store_disconnect(c);
    store_close(s);
    return st == STORE_OK && rep.results_bad == 0 ? 0 : 1;
}
