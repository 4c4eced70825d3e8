/**
 * @file test_config.c
 * @brief eirnnd's configuration: --help lists every flag with its default and variable, bad
 *        values exit 2 naming the flag (or variable), variables apply, flags win over them, and
 *        start-up failures exit 1 with a JSON log line saying why, and the default database
 *        is the same whatever the working directory.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_harness.h"

static char tmp[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/eirnn-cfg-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    api_system("rm -rf '%s'", tmp);
    return 0;
}

/** Run eirnnd with @p env_and_args (shell words) and return its exit code; output in files. */
static int run_daemon(const char *env, const char *args, char **out, char **err)
{
    int rc = api_system("cd '%s' && %s '%s' %s > '%s/out' 2> '%s/err' < /dev/null", tmp,
                        env ? env : "", EIRNND_BIN, args, tmp, tmp);
    char path[400];
    snprintf(path, sizeof path, "%s/out", tmp);
    *out = api_read_file(path, NULL);
    snprintf(path, sizeof path, "%s/err", tmp);
    *err = api_read_file(path, NULL);
    assert_non_null(*out);
    assert_non_null(*err);
    return rc;
}

static void test_help(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_daemon(NULL, "--help", &out, &err), 0);
    const char *must[] = {"--listen",
                          "EIRNN_LISTEN",
                          "127.0.0.1:8080",
                          "--db",
                          "EIRNN_DB",
                          "$XDG_DATA_HOME/eirnn/eirnn.db",
                          "--workers",
                          "EIRNN_WORKERS",
                          "--token",
                          "EIRNN_TOKEN",
                          "--max-body-bytes",
                          "EIRNN_MAX_BODY_BYTES",
                          "64M",
                          "--max-neurons",
                          "EIRNN_MAX_NEURONS",
                          "--max-steps",
                          "EIRNN_MAX_STEPS",
                          "--max-trials",
                          "EIRNN_MAX_TRIALS",
                          "--max-recorded-values",
                          "EIRNN_MAX_RECORDED_VALUES",
                          "--queue-limit",
                          "EIRNN_QUEUE_LIMIT",
                          "--run-time-limit",
                          "EIRNN_RUN_TIME_LIMIT",
                          "--max-attempts",
                          "EIRNN_MAX_ATTEMPTS",
                          "--long-poll-max",
                          "EIRNN_LONG_POLL_MAX",
                          "--shutdown-grace",
                          "EIRNN_SHUTDOWN_GRACE",
                          "--http-threads",
                          "EIRNN_HTTP_THREADS",
                          "--connection-timeout",
                          "EIRNN_CONNECTION_TIMEOUT",
                          "--lease-seconds",
                          "EIRNN_LEASE_SECONDS",
                          "--db-pool",
                          "EIRNN_DB_POOL",
                          "workers + http-threads + 3",
                          NULL};
    for (const char **m = must; *m; m++)
        if (!strstr(out, *m)) {
            print_error("--help lacks '%s'\n%s", *m, out);
            fail();
        }
    free(out);
    free(err);
    assert_int_equal(run_daemon(NULL, "--version", &out, &err), 0);
    assert_non_null(strstr(out, "eirnnd"));
    free(out);
    free(err);
}

/**
 * --max-neurons' default follows the memory (OPERATIONS.md): the largest multiple of 1024 with
 * 48 N^2 bytes <= a quarter of the physical memory (or of the cgroup's memory.max, when lower),
 * 1024 to 100000. --help shows it.
 */
static void test_max_neurons_default(void **state)
{
    (void)state;
    double mem = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    unsigned long long lim;
    if (f) {
        if (fscanf(f, "%llu", &lim) == 1 && lim > 0 && (double)lim < mem) mem = (double)lim;
        fclose(f);
    }
    long want = (long)(floor(sqrt(mem / 4 / 48) / 1024) * 1024);
    want = want < 1024 ? 1024 : want > 100000 ? 100000 : want;
    char *out, *err;
    assert_int_equal(run_daemon(NULL, "--help", &out, &err), 0);
    const char *line = strstr(out, "EIRNN_MAX_NEURONS");
    assert_non_null(line);
    long got = strtol(line + strlen("EIRNN_MAX_NEURONS"), NULL, 10);
    if (got != want)
        fail_msg("--max-neurons default %ld, want %ld (memory %.0f bytes)", got, want, mem);
    free(out);
    free(err);
}

static void test_bad_values(void **state)
{
    (void)state;
    struct {
        const char *env, *args, *named;
    } cases[] = {
        {NULL, "--workers abc", "--workers"},
        {NULL, "--workers=-1", "--workers"},
        {NULL, "--listen nope", "--listen"},
        {NULL, "--listen 127.0.0.1:70000", "--listen"},
        {NULL, "--max-body-bytes 12Q", "--max-body-bytes"},
        {NULL, "--max-body-bytes 0", "--max-body-bytes"},
        {NULL, "--run-time-limit -1", "--run-time-limit"},
        {NULL, "--long-poll-max x", "--long-poll-max"},
        {NULL, "--queue-limit 1.5", "--queue-limit"},
        {NULL, "--http-threads 0", "--http-threads"},
        {NULL, "--db ''", "--db"},
        {NULL, "--no-such-flag", "--no-such-flag"},
        {NULL, "--workers", "--workers"},
        {NULL, "stray", "stray"},
        {"EIRNN_WORKERS=many", "", "EIRNN_WORKERS"},
        {"EIRNN_MAX_STEPS=0", "", "EIRNN_MAX_STEPS"},
        {"EIRNN_LISTEN=:80", "", "EIRNN_LISTEN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out, *err;
        int rc = run_daemon(cases[i].env, cases[i].args, &out, &err);
        if (rc != 2 || !strstr(err, cases[i].named)) {
            print_error("%s %s: exit %d, stderr: %s\n", cases[i].env ? cases[i].env : "",
                        cases[i].args, rc, err);
            fail();
        }
        free(out);
        free(err);
    }
}

static void test_env_and_flags(void **state)
{
    (void)state;
    /* The variable applies... */
    api_daemon d;
    api_init(&d);
    const char *env[] = {"EIRNN_MAX_BODY_BYTES=100", "EIRNN_WORKERS=0", NULL};
    api_start(&d, NULL, env);
    api_resp r;
    api_post(&d, "/v1/models", api_model_small, &r);
    json_decref(api_expect_problem(&r, 413));
    api_resp_free(&r);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    /* ...and a flag wins over it (even over an invalid one). */
    const char *env2[] = {"EIRNN_MAX_BODY_BYTES=100", "EIRNN_WORKERS=bad", NULL};
    const char *args[] = {"--max-body-bytes", "1M", "--workers", "0", NULL};
    api_start(&d, args, env2);
    api_post(&d, "/v1/models", api_model_small, &r);
    assert_int_equal(r.status, 201);
    api_resp_free(&r);
    api_get(&d, "/healthz", &r);
    json_t *j = api_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "workers")), 0);
    json_decref(j);
    api_resp_free(&r);
    assert_int_equal(api_stop(&d, SIGTERM, 30), 0);
    api_cleanup(&d);
}

static void test_startup_failures(void **state)
{
    (void)state;
    char *out, *err;
    /* A database that cannot be created. */
    assert_int_equal(
        run_daemon(NULL, "--listen 127.0.0.1:0 --db /nonexistent/dir/x.db", &out, &err), 1);
    assert_non_null(strstr(err, "\"event\":\"error\""));
    assert_non_null(strstr(err, "database"));
    free(out);
    free(err);
    /* A port in use. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t sl = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &sl);
    char args[128];
    snprintf(args, sizeof args, "--listen 127.0.0.1:%d --db x.db", ntohs(a.sin_port));
    assert_int_equal(run_daemon(NULL, args, &out, &err), 1);
    assert_non_null(strstr(err, "cannot listen"));
    close(fd);
    free(out);
    free(err);
}

/**
 * The default database does not depend on the working directory: started from two folders with
 * the same HOME, eirnnd opens the same $HOME/.local/share/eirnn/eirnn.db (its directory created
 * 0700) and logs its absolute path; neither folder gets a database.
 */
static void test_default_database(void **state)
{
    (void)state;
    api_system("mkdir -p '%s/home' '%s/a' '%s/b'", tmp, tmp, tmp);
    char home[300], db[400];
    snprintf(home, sizeof home, "%s/home", tmp);
    snprintf(db, sizeof db, "%s/.local/share/eirnn/eirnn.db", home);
    for (int k = 0; k < 2; k++) {
        /* Started from a/ then b/; stopped by SIGTERM once it listens. */
        int rc = api_system(
            "cd '%s/%s' && { env -u XDG_DATA_HOME -u EIRNN_DB HOME='%s' '%s' --listen "
            "127.0.0.1:0 --workers 0 2> '%s/err%d' & pid=$!; i=0; while [ $i -lt 400 ] && ! "
            "grep -q '\"event\":\"listening\"' '%s/err%d'; do sleep 0.05; i=$((i+1)); "
            "done; kill -TERM $pid; wait $pid; }",
            tmp, k ? "b" : "a", home, EIRNND_BIN, tmp, k, tmp, k);
        assert_int_equal(rc, 0);
        char path[400];
        snprintf(path, sizeof path, "%s/err%d", tmp, k);
        char *log = api_read_file(path, NULL);
        char *line = strstr(log, "\"event\":\"listening\"");
        assert_non_null(line);
        char want[500];
        snprintf(want, sizeof want, "\"db\":\"%s\"", db);
        if (!strstr(line, want)) fail_msg("expected %s in the listening line: %s", want, log);
        free(log);
    }
    /* One database, in neither working directory. */
    assert_int_equal(access(db, F_OK), 0);
    char p[400];
    snprintf(p, sizeof p, "%s/a/eirnn.db", tmp);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/b/eirnn.db", tmp);
    assert_int_not_equal(access(p, F_OK), 0);
    struct stat st;
    snprintf(p, sizeof p, "%s/.local/share/eirnn", home);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* No place for a default: exit 2 naming --db. */
    char *out, *err;
    assert_int_equal(run_daemon("env -u HOME -u XDG_DATA_HOME -u EIRNN_DB", "", &out, &err), 2);
    assert_non_null(strstr(err, "--db"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_max_neurons_default),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_env_and_flags),
        cmocka_unit_test(test_startup_failures),
        cmocka_unit_test(test_default_database),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
