/**
 * @file log.c
 * @brief Structured logging: one JSON object per line on stderr, one write(2) per line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srv.h"

static void write_line(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

void srv_log(const char *event, json_t *fields)
{
    char ts[40];
    srv_rfc3339(srv_epoch_ms(), ts, sizeof ts);
    int oom = srv_json_oom(); /* a log line that cannot be made must not fail the request */
    json_t *o = json_object();
    if (!o) {
        json_decref(fields);
        srv_json_oom_set(oom);
        return;
    }
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "event", json_string(event));
    if (fields) json_object_update(o, fields);
    json_decref(fields);
    char *s = srv_json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(o);
    srv_json_oom_set(oom);
    if (!s) return;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return;
    }
    line[n] = '\n';
    write_line(line, n + 1);
    free(line);
}

void srv_log_request(const char *method, const char *path, unsigned status, double duration_ms,
                     uint64_t bytes, int completed)
{
    char buf[1024], ts[40];
    srv_rfc3339(srv_epoch_ms(), ts, sizeof ts);
    size_t n =
        (size_t)snprintf(buf, sizeof buf, "{\"ts\":\"%s\",\"event\":\"request\",\"method\":\"", ts);
    srv_json_escape(buf, sizeof buf - 160, &n, method);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\",\"path\":\"");
    srv_json_escape(buf, sizeof buf - 140, &n, path);
    n += (size_t)snprintf(
        buf + n, sizeof buf - n, "\",\"status\":%u,\"duration_ms\":%.3f,\"bytes\":%llu%s}\n",
        status, duration_ms, (unsigned long long)bytes, completed ? "" : ",\"aborted\":true");
    if (n > sizeof buf) n = sizeof buf;
    write_line(buf, n);
}
