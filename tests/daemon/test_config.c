/**
 * @file test_config.c
 * @brief eirnnd's configuration parser (server/config.c) without a daemon: defaults, every kind
 *        of flag (integers, byte counts with suffixes, seconds, HOST:PORT, strings), --flag=value,
 *        EIRNN_* variables and flags winning over them, and bad values, unknown options and
 *        missing values answered 2 with a message that names the flag or variable.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "srv.h"

static srv_config cfg;
static char msg[4096]; /* what the last parse wrote on stderr */

/** The EIRNN_* variables the tests set, cleared before each test. */
static const char *const vars[] = {"EIRNN_LISTEN",         "EIRNN_DB",
                                   "EIRNN_WORKERS",        "EIRNN_TOKEN",
                                   "EIRNN_MAX_BODY_BYTES", "EIRNN_RUN_TIME_LIMIT",
                                   "EIRNN_MAX_STEPS",      "EIRNN_CONNECTION_TIMEOUT",
                                   "EIRNN_LEASE_SECONDS",  "EIRNN_DB_POOL",
                                   "XDG_DATA_HOME"};

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    setenv("HOME", "/home/eirnn-test", 1);
    srv_config_defaults(&cfg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    srv_config_free(&cfg);
    return 0;
}

/**
 * srv_config_parse() on "eirnnd" + the NULL-terminated arguments, into cfg reset to the defaults
 * first (as main() does); what it writes on
 * stderr lands in msg and on stdout is dropped. @return its result.
 */
static int parse(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "eirnnd";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    srv_config_free(&cfg);
    srv_config_defaults(&cfg);

    fflush(stdout);
    fflush(stderr);
    FILE *errf = tmpfile();
    assert_non_null(errf);
    int saved_err = dup(2), saved_out = dup(1);
    int devnull = open("/dev/null", O_WRONLY);
    assert_true(saved_err >= 0 && saved_out >= 0 && devnull >= 0);
    dup2(fileno(errf), 2);
    dup2(devnull, 1);
    int rc = srv_config_parse(&cfg, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_err, 2);
    dup2(saved_out, 1);
    close(saved_err);
    close(saved_out);
    close(devnull);
    rewind(errf);
    size_t n = fread(msg, 1, sizeof msg - 1, errf);
    msg[n] = '\0';
    fclose(errf);
    return rc;
}

/** Assert that the last parse wrote a message containing @p needle. */
static void said(const char *needle)
{
    if (!strstr(msg, needle)) fail_msg("expected '%s' in the message: %s", needle, msg);
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.port, 8080);
    assert_true(cfg.workers >= 1);
    assert_null(cfg.token);
    assert_int_equal(cfg.max_body_bytes, (uint64_t)64 << 20);
    /* The body budget: 4 largest bodies, at most RAM/8, at least one largest body. */
    uint64_t ram8 = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 8;
    uint64_t want = ram8 < ((uint64_t)256 << 20) ? ram8 : (uint64_t)256 << 20;
    assert_int_equal(cfg.max_body_buffer, want < cfg.max_body_bytes ? cfg.max_body_bytes : want);
    assert_true(cfg.http_threads >= 4 && cfg.http_threads <= 16);
    assert_int_equal(cfg.connection_timeout, 30);
    assert_true(cfg.run_time_limit == 3600);
    assert_string_equal(msg, "");
}

static void test_flags(void **state)
{
    (void)state;
    assert_int_equal(parse("--listen", "[::1]:0", "--workers", "3", "--max-body-bytes", "2M",
                           "--run-time-limit", "1.5", "--token", "s3cret", "--db", "/x/y.db",
                           "--model-cache-bytes", "0", "--max-steps=77", NULL),
                     0);
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.port, 0);
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.max_body_bytes, (uint64_t)2 << 20);
    assert_true(cfg.run_time_limit == 1.5);
    assert_string_equal(cfg.token, "s3cret");
    assert_string_equal(cfg.db, "/x/y.db");
    assert_int_equal(cfg.cache_bytes, 0);
    assert_int_equal(cfg.max_steps, 77);

    /* Suffixes of byte counts: K, KB, KiB (binary), any case. */
    assert_int_equal(parse("--max-body-bytes", "3KiB", NULL), 0);
    assert_int_equal(cfg.max_body_bytes, 3 << 10);
    assert_int_equal(parse("--max-body-bytes", "1gb", NULL), 0);
    assert_int_equal(cfg.max_body_bytes, (uint64_t)1 << 30);
    assert_int_equal(parse("--listen", "0.0.0.0:65535", NULL), 0);
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.port, 65535);
    /* --max-body-buffer-bytes: as given, raised to --max-body-bytes when below it. */
    assert_int_equal(parse("--max-body-bytes", "1M", "--max-body-buffer-bytes", "5M", NULL), 0);
    assert_int_equal(cfg.max_body_buffer, (uint64_t)5 << 20);
    assert_int_equal(parse("--max-body-bytes", "2M", "--max-body-buffer-bytes", "1K", NULL), 0);
    assert_int_equal(cfg.max_body_buffer, (uint64_t)2 << 20);
    /* The last of a repeated flag wins. */
    assert_int_equal(parse("--workers", "1", "--workers", "2", NULL), 0);
    assert_int_equal(cfg.workers, 2);
}

static void test_environment(void **state)
{
    (void)state;
    setenv("EIRNN_WORKERS", "5", 1);
    setenv("EIRNN_LISTEN", "127.0.0.2:9", 1);
    setenv("EIRNN_TOKEN", "from-env", 1);
    assert_int_equal(parse(NULL), 0);
    assert_int_equal(cfg.workers, 5);
    assert_string_equal(cfg.listen_host, "127.0.0.2");
    assert_int_equal(cfg.port, 9);
    assert_string_equal(cfg.token, "from-env");
    /* A flag wins over its variable, in both spellings. */
    assert_int_equal(parse("--workers", "6", "--listen=127.0.0.3:10", NULL), 0);
    assert_int_equal(cfg.workers, 6);
    assert_string_equal(cfg.listen_host, "127.0.0.3");
}

static void test_bad_environment(void **state)
{
    (void)state;
    setenv("EIRNN_WORKERS", "many", 1);
    assert_int_equal(parse(NULL), 2);
    said("EIRNN_WORKERS");
    said("'many'");
    /* ... but a bad variable whose flag is given is never read. */
    assert_int_equal(parse("--workers", "2", NULL), 0);
    assert_int_equal(cfg.workers, 2);
    unsetenv("EIRNN_WORKERS");
    setenv("EIRNN_RUN_TIME_LIMIT", "-1", 1);
    assert_int_equal(parse(NULL), 2);
    said("EIRNN_RUN_TIME_LIMIT");
}

static void test_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *flag, *value;
    } bad[] = {
        {"--workers", "-1"},
        {"--workers", "abc"},
        {"--workers", "1025"},
        {"--workers", "3x"},
        {"--workers", ""},
        {"--max-steps", "0"},
        {"--max-steps", "99999999999999999999999"},
        {"--listen", "nohost"},
        {"--listen", ":80"},
        {"--listen", "[::1]"},
        {"--listen", "::1:80"},
        {"--listen", "127.0.0.1:65536"},
        {"--listen", "127.0.0.1:-1"},
        {"--max-body-bytes", "1X"},
        {"--max-body-bytes", "-5"},
        {"--max-body-bytes", "0"},
        {"--max-body-bytes", "2T"},
        {"--max-body-bytes", "20000000T"},
        {"--run-time-limit", "nan"},
        {"--run-time-limit", "inf"},
        {"--run-time-limit", "-0.5"},
        {"--run-time-limit", "1s"},
        {"--connection-timeout", "0"},
        {"--db", ""},
        {"--token", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(bad[i].flag, bad[i].value, NULL);
        if (rc != 2) fail_msg("%s '%s': %d, expected 2", bad[i].flag, bad[i].value, rc);
        said(bad[i].flag);
        assert_non_null(strstr(msg, "eirnnd: "));
    }
}

static void test_bad_command_lines(void **state)
{
    (void)state;
    assert_int_equal(parse("--nope", NULL), 2);
    said("unknown option '--nope'");
    assert_int_equal(parse("-x", NULL), 2);
    said("unknown option");
    assert_int_equal(parse("--workers", NULL), 2);
    said("--workers");
    said("needs a value");
    assert_int_equal(parse("serve", NULL), 2);
    said("unexpected argument 'serve'");
}

static void test_database_location(void **state)
{
    (void)state;
    /* No --db, no EIRNN_DB: under $HOME, whatever the working directory. */
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.db, "/home/eirnn-test/.local/share/eirnn/eirnn.db");
    assert_int_equal(cfg.db_is_default, 1);
    /* $XDG_DATA_HOME wins over $HOME when it is absolute (XDG base directory spec)... */
    setenv("XDG_DATA_HOME", "/srv/data/", 1);
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.db, "/srv/data/eirnn/eirnn.db");
    /* ... and is ignored when relative or empty. */
    setenv("XDG_DATA_HOME", "data", 1);
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.db, "/home/eirnn-test/.local/share/eirnn/eirnn.db");
    setenv("XDG_DATA_HOME", "", 1);
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.db, "/home/eirnn-test/.local/share/eirnn/eirnn.db");
    /* Neither: refused, naming --db and the way out. */
    unsetenv("HOME");
    assert_int_equal(parse(NULL), 2);
    said("--db");
    said("EIRNN_DB");
    /* ... unless a database is given. */
    assert_int_equal(parse("--db", "/var/lib/eirnn/x.db", NULL), 0);
    assert_string_equal(cfg.db, "/var/lib/eirnn/x.db");
    assert_int_equal(cfg.db_is_default, 0);
    setenv("HOME", "/home/eirnn-test", 1);
}

static void test_database_relative(void **state)
{
    (void)state;
    char cwd[4096], want[4200];
    assert_non_null(getcwd(cwd, sizeof cwd));
    /* A relative --db is the working directory's, made absolute at start. */
    assert_int_equal(parse("--db", "runs.db", NULL), 0);
    snprintf(want, sizeof want, "%s/runs.db", strcmp(cwd, "/") ? cwd : "");
    assert_string_equal(cfg.db, want);
    assert_int_equal(cfg.db_is_default, 0);
    assert_int_equal(parse("--db", "./sub/runs.db", NULL), 0);
    snprintf(want, sizeof want, "%s/sub/runs.db", strcmp(cwd, "/") ? cwd : "");
    assert_string_equal(cfg.db, want);
    setenv("EIRNN_DB", "sqlite:e.db", 1);
    assert_int_equal(parse(NULL), 0);
    snprintf(want, sizeof want, "sqlite:%s/e.db", strcmp(cwd, "/") ? cwd : "");
    assert_string_equal(cfg.db, want);
    setenv("EIRNN_DB", "sqlite:/abs/e.db", 1);
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.db, "sqlite:/abs/e.db");
    unsetenv("EIRNN_DB");
}

/** Leases and the database pool: defaults, flags, variables, ranges (issue 14). */
static void test_leases_and_pool(void **state)
{
    (void)state;
    assert_int_equal(parse("--workers", "3", "--http-threads", "5", NULL), 0);
    assert_true(cfg.lease_seconds == 30);
    assert_int_equal(cfg.db_pool, 3 + 5 + 3); /* workers + http threads + 3 */
    assert_int_equal(parse("--lease-seconds", "2.5", "--db-pool", "7", NULL), 0);
    assert_true(cfg.lease_seconds == 2.5);
    assert_int_equal(cfg.db_pool, 7);
    setenv("EIRNN_LEASE_SECONDS", "3600", 1);
    setenv("EIRNN_DB_POOL", "1000", 1);
    assert_int_equal(parse(NULL), 0);
    assert_true(cfg.lease_seconds == 3600);
    assert_int_equal(cfg.db_pool, 1000);
    assert_int_equal(parse("--lease-seconds", "60", NULL), 0); /* the flag wins */
    assert_true(cfg.lease_seconds == 60);
    unsetenv("EIRNN_LEASE_SECONDS");
    unsetenv("EIRNN_DB_POOL");
    assert_int_equal(parse("--lease-seconds", "1.9", NULL), 2);
    said("--lease-seconds");
    assert_int_equal(parse("--lease-seconds", "3601", NULL), 2);
    said("--lease-seconds");
    assert_int_equal(parse("--db-pool", "0", NULL), 2);
    said("--db-pool");
    assert_int_equal(parse("--db-pool", "1001", NULL), 2);
    said("--db-pool");
    setenv("EIRNN_DB_POOL", "x", 1);
    assert_int_equal(parse(NULL), 2);
    said("EIRNN_DB_POOL");
    unsetenv("EIRNN_DB_POOL");
}

/** A PostgreSQL URL is a database, not a path: kept as given; shown with its password hidden. */
static void test_database_url(void **state)
{
    (void)state;
    const char *url = "postgresql://eirnn:s3cret@db.example:5433/runs?sslmode=require";
    assert_int_equal(parse("--db", url, NULL), 0);
    assert_string_equal(cfg.db, url);
    assert_int_equal(cfg.db_is_default, 0);
    assert_true(srv_db_is_url(cfg.db));
    setenv("EIRNN_DB", "postgres://u@h/d", 1);
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.db, "postgres://u@h/d");
    unsetenv("EIRNN_DB");
    assert_false(srv_db_is_url("/var/lib/x.db"));
    assert_false(srv_db_is_url("postgresql:/x")); /* a file name, not a URL */

    char shown[256];
    srv_db_redacted(url, shown, sizeof shown);
    assert_string_equal(shown, "postgresql://eirnn:***@db.example:5433/runs?sslmode=require");
    srv_db_redacted("postgres://u@h/d", shown, sizeof shown);
    assert_string_equal(shown, "postgres://u@h/d");
    srv_db_redacted("postgresql://u:p%40ss@h/d?password=x&sslmode=disable", shown, sizeof shown);
    assert_string_equal(shown, "postgresql://u:***@h/d?password=***&sslmode=disable");
    srv_db_redacted("postgresql:///d?host=/run/pg&password=x", shown, sizeof shown);
    assert_string_equal(shown, "postgresql:///d?host=/run/pg&password=***");
    srv_db_redacted("/var/lib/eirnn/x.db", shown, sizeof shown);
    assert_string_equal(shown, "/var/lib/eirnn/x.db");
    srv_db_redacted(url, shown, 20); /* cut, never overflowing */
    assert_int_equal(strlen(shown), 19);
    assert_null(strstr(shown, "s3cret"));
}

static void test_help_and_version(void **state)
{
    (void)state;
    assert_int_equal(parse("--help", NULL), 1);
    assert_int_equal(parse("-h", NULL), 1);
    assert_int_equal(parse("--version", NULL), 1);
    assert_string_equal(msg, "");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),          T(test_flags),
        T(test_environment),       T(test_bad_environment),
        T(test_bad_values),        T(test_bad_command_lines),
        T(test_help_and_version),  T(test_database_location),
        T(test_database_relative), T(test_leases_and_pool),
        T(test_database_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
