/**
 * @file cmd_health.c
 * @brief `eirnn health`: ask eirnnd's GET /healthz whether it is up (the container's
 *        HEALTHCHECK uses it: the image needs no other tool).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "http.h"

int cli_health(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: eirnn [--url URL] health [--timeout S]\n"
               "GET /healthz; exit 0 when eirnnd answers 200, 4 otherwise.\n");
        return CLI_OK;
    }
    double timeout = 5;
    if (argc == 3 && !strcmp(argv[1], "--timeout")) {
        if (cli_parse_number("--timeout", argv[2], 1, &timeout)) return CLI_EUSAGE;
    } else if (argc != 1) {
        fprintf(stderr, "eirnn: usage: eirnn health [--timeout S]\n");
        return CLI_EUSAGE;
    }
    int rc = CLI_OK;
    cli_http *h = cli_http_open(&rc);
    if (!h) return rc;
    cli_http_resp r;
    rc = cli_http_call(h, "GET", "/healthz", NULL, 0, NULL, timeout, &r);
    if (rc == CLI_OK) {
        if (r.body) fputs(r.body, stdout);
        if (r.body && r.len && r.body[r.len - 1] != '\n') putchar('\n');
    }
    cli_http_resp_free(&r);
    cli_http_close(h);
    return rc == CLI_EINVALID ? CLI_EHTTP : rc;
}
