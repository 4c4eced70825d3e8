/**
 * @file eir_test_pg.c
 * @brief A fresh PostgreSQL database per test (eir_test_pg.h).
 */
#include "eir_test_pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "eir_random.h"

int eir_test_pg_wanted(void)
{
    const char *s = getenv("EIRNN_TEST_STORE");
    return s && strcmp(s, "pg") == 0;
}

/* The base URL (first line of EIRNN_TEST_PG_URL_FILE) into @p out; 0 or -1 (on stderr). */
static int base_url(char *out, size_t cap)
{
    const char *file = getenv("EIRNN_TEST_PG_URL_FILE");
    if (!file || !*file) {
        fprintf(stderr, "eir_test_pg: EIRNN_TEST_PG_URL_FILE is not set (run the test with ctest, "
                        "whose fixture pg starts the cluster: tests/pg/cluster.sh)\n");
        return -1;
    }
    FILE *fp = fopen(file, "r");
    if (!fp) {
        fprintf(stderr, "eir_test_pg: %s: %s (did the ctest fixture pg/start pass?)\n", file,
                strerror(errno));
        return -1;
    }
    int ok = fgets(out, (int)cap, fp) != NULL;
    fclose(fp);
    if (!ok) {
        fprintf(stderr, "eir_test_pg: %s is empty\n", file);
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* @p url with its database (the path after the host) replaced by @p db, into @p out. */
static int with_database(const char *url, const char *db, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://");
    if (!scheme) {
        fprintf(stderr, "eir_test_pg: %s: not a postgresql:// URL\n", url);
        return -1;
    }
    const char *host = scheme + 3;
    size_t hostlen = strcspn(host, "/?");
    const char *rest = host + hostlen;
    if (*rest == '/') rest += strcspn(rest, "?");
    int n = snprintf(out, cap, "%.*s/%s%s", (int)(host + hostlen - url), url, db, rest);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "eir_test_pg: the URL of database %s does not fit in %zu bytes\n", db, cap);
        return -1;
    }
    return 0;
}

/* The database name of @p url (its path), into @p out; 0 or -1. */
static int database_of(const char *url, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://");
    const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
    size_t n = path ? strcspn(path + 1, "?") : 0;
    if (!path || n == 0 || n >= cap) {
        fprintf(stderr, "eir_test_pg: %s names no database\n", url);
        return -1;
    }
    memcpy(out, path + 1, n);
    out[n] = '\0';
    return 0;
}

static PGconn *connect_to(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "eir_test_pg: cannot connect to %s: %s", url, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Run @p sql on @p c; 0 when it succeeded, else -1 with the message on stderr. */
static int run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "eir_test_pg: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : -1;
}

int eir_test_pg_newdb(char *url, size_t cap)
{
    char base[512], name[40], sql[96];
    if (cap) url[0] = '\0';
    if (base_url(base, sizeof base) != 0) return -1;
    if (eir_random_id(name, sizeof name, "eirt_", 8) != 0) {
        fprintf(stderr, "eir_test_pg: no random bytes: %s\n", strerror(errno));
        return -1;
    }
    char made[512];
    if (with_database(base, name, made, sizeof made) != 0) return -1;
    if (strlen(made) >= cap) {
        fprintf(stderr, "eir_test_pg: %s does not fit in %zu bytes\n", made, cap);
        return -1;
    }
    PGconn *c = connect_to(base);
    if (!c) return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name); /* name: letters, digits, _ */
    int rc = run(c, sql);
    PQfinish(c);
    if (rc == 0) snprintf(url, cap, "%s", made);
    return rc;
}

int eir_test_pg_dropdb(const char *url)
{
    char base[512], name[128], sql[200];
    if (base_url(base, sizeof base) != 0 || database_of(url, name, sizeof name) != 0) return -1;
    if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name)) {
        fprintf(stderr, "eir_test_pg: %s: not a database of eir_test_pg_newdb\n", name);
        return -1;
    }
    PGconn *c = connect_to(base);
    if (!c) return -1;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    int rc = run(c, sql);
    PQfinish(c);
    return rc;
}

int eir_test_pg_scalar(const char *url, const char *sql, int64_t *out)
{
    PGconn *c = connect_to(url);
    if (!c) return -1;
    PGresult *r = PQexec(c, sql);
    int rc = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "eir_test_pg: %s: %s", sql, PQerrorMessage(c));
    else if (PQntuples(r) < 1 || PQnfields(r) < 1 || PQgetisnull(r, 0, 0))
        fprintf(stderr, "eir_test_pg: %s: no value\n", sql);
    else {
        char *end;
        errno = 0;
        long long v = strtoll(PQgetvalue(r, 0, 0), &end, 10);
        if (errno || *end)
            fprintf(stderr, "eir_test_pg: %s: %s is not an integer\n", sql, PQgetvalue(r, 0, 0));
        else {
            *out = (int64_t)v;
            rc = 0;
        }
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int eir_test_pg_exec(const char *url, const char *sql)
{
    PGconn *c = connect_to(url);
    if (!c) return -1;
    int rc = run(c, sql);
    PQfinish(c);
    return rc;
}
