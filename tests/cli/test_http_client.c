/* The eirnn client against a live eirnnd: the real binaries, a temporary database, port 0.
 * The daemon is started with the API tests' harness (tests/api/api_harness.c). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifndef EIRNND_BIN

/* Without the daemon target there is nothing to drive. */
static void test_no_daemon(void **state)
{
    (void)state;
    print_message("eirnnd is not built: the client tests are skipped\n");
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_daemon)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/eir_test_files.h"
#include "api_harness.h"
#include "eir.h"
#include "eir_npy.h"

static api_daemon dA; /* open */
static api_daemon dB; /* with a token */
static const char token[] = "s3cret-t0ken";

/** stdout and stderr of the last client run (heap, NUL-terminated). */
static char *out_text, *err_text;

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void write_text(const char *path, const char *text)
{
    api_write_file(path, text, strlen(text));
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle))) fail_msg("expected '%s' in: %s", (needle), (hay));           \
    } while (0)

#define assert_not_contains(hay, needle)                                                           \
    do {                                                                                           \
        if (strstr((hay), (needle))) fail_msg("did not expect '%s' in: %s", (needle), (hay));      \
    } while (0)

/**
 * In the child: the client's environment. EIRNN_URL is daemon A unless @p env says otherwise;
 * EIRNN_TOKEN and proxies are removed; then @p env's "K=V" are set ("K=" alone unsets K).
 */
static void child_env(const char *const *env)
{
    unsetenv("EIRNN_TOKEN");
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    setenv("EIRNN_URL", dA.base, 1);
    for (const char *const *e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
        if (eq[1])
            setenv(name, eq + 1, 1);
        else
            unsetenv(name);
    }
}

/** Start eirnn with @p argv (argv[0] ignored); stdout and stderr go to the two files. */
static pid_t spawn_cli(char *const argv[], const char *const *env, const char *out, const char *err)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0) _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        dup2(in, 0);
        child_env(env);
        execv(EIRNN_BIN, argv);
        _exit(127);
    }
    return pid;
}

/** Wait for @p pid at most @p timeout_s (scaled); its exit code (128 + signal when killed). */
static int wait_pid(pid_t pid, double timeout_s)
{
    return et_wait_child(pid, timeout_s, "eirnn");
}

/** Wait for a client started with spawn_cli(); its output lands in out_text and err_text. */
static int wait_cli(pid_t pid, double timeout_s, const char *out, const char *err)
{
    int rc = wait_pid(pid, timeout_s);
    free(out_text);
    free(err_text);
    out_text = api_read_file(out, NULL);
    err_text = api_read_file(err, NULL);
    if (!out_text) out_text = strdup("");
    if (!err_text) err_text = strdup("");
    return rc;
}

/** Run eirnn with environment @p env and the NULL-terminated arguments. */
static int cli_v(const char *const *env, const char *arg, va_list ap)
{
    char *argv[48];
    int n = 0;
    argv[n++] = (char *)"eirnn";
    for (const char *a = arg; a && n < 47; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    argv[n] = NULL;
    const char *o = et_tmp("stdout.txt"), *e = et_tmp("stderr.txt");
    return wait_cli(spawn_cli(argv, env, o, e), 300, o, e);
}

static int cli(const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = cli_v(NULL, arg, ap);
    va_end(ap);
    return rc;
}

static int cli_env(const char *const *env, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = cli_v(env, arg, ap);
    va_end(ap);
    return rc;
}

/** Fail unless the last run ended with @p want; shows its stderr. */
#define expect_rc(got, want)                                                                       \
    do {                                                                                           \
        int rc_ = (got);                                                                           \
        if (rc_ != (want))                                                                         \
            fail_msg("exit %d, expected %d; stdout: %s\nstderr: %s", rc_, (want), out_text,        \
                     err_text);                                                                    \
    } while (0)

/** The number of lines of @p s. */
static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/** stdout of the last run parsed as JSON (fails the test otherwise). */
static json_t *out_json(void)
{
    json_error_t je;
    json_t *j = json_loads(out_text, 0, &je);
    if (!j) fail_msg("stdout is not JSON (%s): %s", je.text, out_text);
    return j;
}

/** The "id" of the JSON on stdout (malloc'ed). */
static char *out_id(void)
{
    json_t *j = out_json();
    const char *id = json_string_value(json_object_get(j, "id"));
    assert_non_null(id);
    char *s = strdup(id);
    json_decref(j);
    return s;
}

/** stdout without its final newline (malloc'ed). */
static char *out_line(void)
{
    char *s = strdup(out_text);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n')
        s[--n] = '\0';
    return s;
}

/** Fail unless the files @p a and @p b hold the same bytes. */
static void assert_same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = api_read_file(a, &na), *y = api_read_file(b, &nb);
    if (!x || !y) fail_msg("cannot read %s or %s", a, b);
    if (na != nb || memcmp(x, y, na) != 0)
        fail_msg("%s (%zu bytes) and %s (%zu bytes) differ", a, na, b, nb);
    free(x);
    free(y);
}

static void read_npy(const char *path, eir_npy_array *a)
{
    eir_npy_error ne;
    if (eir_npy_read_file(path, 0, a, &ne) != EIR_NPY_OK) fail_msg("%s", ne.message);
}

/* ------------------------------------------------------------------------------------------ */
/* Documents                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static const char tiny_model[] =
    "{\"name\": \"tiny\", \"class\": \"gated\", \"populations\": {\"E\": 3, \"I\": 1},\n"
    " \"n_inputs\": 2, \"activation\": {\"name\": \"relu\"}, \"leak\": 0.1,\n"
    " \"recurrent\": {\"W\": [[0, 0.2, 0.1, -0.3], [0.1, 0, 0.2, -0.2], [0.3, 0.1, 0, -0.1],\n"
    "                       [0.2, 0.2, 0.2, 0]],\n"
    "               \"A\": {\"E\": 0.5, \"I\": 1.0}, \"dale\": \"reject\"},\n"
    " \"input\": {\"P\": [[1, 0], [0, 1], [0.5, 0.5], [0.2, 0.1]]},\n"
    " \"readout\": {\"W_out\": [[1, 1, 1, 0], [0, 0.5, 0, 1]], \"b_out\": [0.0, 0.1]},\n"
    " \"noise\": {\"sigma\": 0.05}}\n";

/** tiny_model with a 4 x 3 W. */
static const char bad_model[] =
    "{\"name\": \"bad\", \"class\": \"gated\", \"populations\": {\"E\": 3, \"I\": 1},\n"
    " \"n_inputs\": 2, \"activation\": {\"name\": \"relu\"}, \"leak\": 0.1,\n"
    " \"recurrent\": {\"W\": [[0, 0.2, 0.1], [0.1, 0, 0.2], [0.3, 0.1, 0], [0.2, 0.2, 0.2]],\n"
    "               \"A\": 1.0},\n"
    " \"input\": {\"P\": [[1, 0], [0, 1], [0.5, 0.5], [0.2, 0.1]]}}\n";

static const char diverging_model[] =
    "{\"class\": \"rnn\", \"populations\": {\"E\": 2, \"I\": 1}, \"n_inputs\": 0,\n"
    " \"activation\": {\"name\": \"linear\"}, \"leak\": 0.1,\n"
    " \"recurrent\": {\"W\": [[10, 0, 0], [0, 10, 0], [0, 0, 10]]}}\n";

enum { B = 2, T = 40, NIN = 2, EVERY = 3 };
static double inputs[B * T * NIN];

static const char run_doc[] = "{\"dt\": 0.1, \"integrator\": \"exp_euler\", "
                              "\"record\": {\"vars\": [\"V\", \"r\", \"z\", \"y\"], \"every\": 3}}";
static const char run_doc_seeded[] =
    "{\"dt\": 0.1, \"integrator\": \"exp_euler\", "
    "\"record\": {\"vars\": [\"V\", \"r\", \"z\", \"y\"], \"every\": 3}, \"seed\": 7}";

/** The input files: in.npy (B x T x n_in), in0.csv (trial 0), in.json (nested lists). */
static void write_inputs(void)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < NIN; c++)
                inputs[(b * T + t) * NIN + c] = sin(0.3 * t + b + 1.7 * c) + 0.5;
    int64_t shape[3] = {B, T, NIN};
    eir_npy_error ne;
    assert_int_equal(eir_npy_write_file(et_tmp("in.npy"), EIR_NPY_F8, 3, shape, inputs, &ne),
                     EIR_NPY_OK);
    FILE *f = fopen(et_tmp("in0.csv"), "w");
    assert_non_null(f);
    fprintf(f, "u0,u1\n");
    for (int t = 0; t < T; t++)
        fprintf(f, "%.17g,%.17g\n", inputs[t * NIN], inputs[t * NIN + 1]);
    assert_int_equal(fclose(f), 0);
    f = fopen(et_tmp("in.json"), "w");
    assert_non_null(f);
    fputc('[', f);
    for (int b = 0; b < B; b++) {
        fprintf(f, "%s[", b ? "," : "");
        for (int t = 0; t < T; t++)
            fprintf(f, "%s[%.17g,%.17g]", t ? "," : "", inputs[(b * T + t) * NIN],
                    inputs[(b * T + t) * NIN + 1]);
        fputc(']', f);
    }
    fputs("]\n", f);
    assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Setup                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    if (et_tmpdir_make() != 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    static const char *const args[] = {"--workers", "2", "--shutdown-grace", "1", NULL};
    static const char *const args_token[] = {"--workers", "1", "--shutdown-grace", "1", "--token",
                                             token,       NULL};
    unsetenv("EIRNN_TOKEN"); /* the daemons take it too */
    api_init(&dA);
    api_start(&dA, args, NULL);
    api_init(&dB);
    api_start(&dB, args_token, NULL);
    write_text(et_tmp("tiny.json"), tiny_model);
    write_text(et_tmp("bad.json"), bad_model);
    write_text(et_tmp("diverging.json"), diverging_model);
    write_text(et_tmp("slow.json"), api_model_slow);
    write_text(et_tmp("slow_run.json"),
               "{\"dt\": 0.1, \"record\": {\"vars\": [\"r\"], \"every\": 1000}}");
    write_text(et_tmp("run.json"), run_doc);
    write_text(et_tmp("run_seeded.json"), run_doc_seeded);
    write_inputs();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    api_cleanup(&dA);
    api_cleanup(&dB);
    free(out_text);
    free(err_text);
    return et_tmpdir_remove();
}

/** Create tiny_model in daemon A; its id (malloc'ed). */
static char *create_tiny(void)
{
    expect_rc(cli("models", "create", "-q", et_tmp("tiny.json"), NULL), 0);
    return out_line();
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void test_models(void **state)
{
    (void)state;
    /* create: the table, then --json (the server's resource) */
    expect_rc(cli("models", "create", et_tmp("tiny.json"), NULL), 0);
    assert_contains(out_text, "id ");
    assert_contains(out_text, "tiny");
    assert_contains(out_text, "neurons      4");
    assert_string_equal(err_text, "");
    expect_rc(cli("--json", "models", "create", et_tmp("tiny.json"), NULL), 0);
    char *id = out_id();
    assert_true(strncmp(id, "m_", 2) == 0);

    /* list: human table and JSON; pages */
    expect_rc(cli("models", "list", NULL), 0);
    assert_contains(out_text, "ID");
    assert_contains(out_text, "NEURONS");
    assert_contains(out_text, id);
    expect_rc(cli("models", "list", "--json", NULL), 0);
    json_t *j = out_json();
    assert_true(json_array_size(json_object_get(j, "items")) >= 2);
    json_decref(j);
    expect_rc(cli("models", "list", "--limit", "1", NULL), 0);
    assert_int_equal(count_lines(out_text), 2); /* header and one model */
    assert_contains(err_text, "more models");
    expect_rc(cli("--json", "models", "list", "--limit", "1", "--all", NULL), 0);
    j = out_json();
    assert_true(json_array_size(json_object_get(j, "items")) >= 2);
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
    expect_rc(cli("models", "list", "--limit", "1", "--all", NULL), 0);
    assert_true(count_lines(out_text) >= 3);

    /* get */
    expect_rc(cli("models", "get", id, NULL), 0);
    assert_contains(out_text, id);
    assert_contains(out_text, "gated");
    assert_contains(out_text, "E 3, I 1");
    expect_rc(cli("models", "get", id, "--json", NULL), 0);
    j = out_json();
    assert_string_equal(json_string_value(json_object_get(j, "id")), id);
    assert_true(json_is_object(json_object_get(j, "model")));
    json_decref(j);

    /* delete, then it is gone */
    expect_rc(cli("models", "delete", id, NULL), 0);
    assert_contains(out_text, "deleted model");
    expect_rc(cli("models", "get", id, NULL), 4);
    assert_contains(err_text, "eirnn: error: 404 Not Found: ");
    assert_int_equal(count_lines(err_text), 1);
    expect_rc(cli("--json", "models", "delete", id, NULL), 4);
    free(id);
}

/** A generated model (built by a worker: 202, pending) and one the engine refuses at its build. */
static const char gen_model[] =
    "{\"class\": \"gated\", \"populations\": {\"E\": 40, \"I\": 10}, \"activation\": "
    "{\"name\": \"%s\"}, \"leak\": 1.0, \"recurrent\": {\"generate\": {\"seed\": 3, \"p\": "
    "{\"EE\": 0.2, \"EI\": 0.4, \"IE\": 0.4, \"II\": 0.4}, \"mean\": {\"EE\": 0.1, \"EI\": 0.2, "
    "\"IE\": 0.1, \"II\": 0.2}, \"spectral_radius\": 0.9}, \"A\": 0.5}}";

/* `models create` of a generated model: pending without --wait; --wait prints it ready with its
 * hash, or its build's error with exit 3 (issue 10, item 2). */
static void test_models_pending(void **state)
{
    (void)state;
    char doc[1024];
    snprintf(doc, sizeof doc, gen_model, "relu");
    write_text(et_tmp("gen.json"), doc);
    snprintf(doc, sizeof doc, gen_model, "linear");
    write_text(et_tmp("gen_bad.json"), doc);

    expect_rc(cli("models", "create", et_tmp("gen.json"), NULL), 0);
    assert_contains(out_text, "state        pending");
    assert_contains(out_text, "not built yet");
    expect_rc(cli("models", "create", "--wait", et_tmp("gen.json"), NULL), 0);
    assert_contains(out_text, "state        ready");
    assert_contains(out_text, "neurons      50");
    assert_true(strstr(out_text, "not built yet") == NULL);
    expect_rc(cli("--json", "models", "create", "-w", et_tmp("gen.json"), NULL), 0);
    json_t *j = out_json();
    assert_string_equal(json_string_value(json_object_get(j, "state")), "ready");
    assert_int_equal(strlen(json_string_value(json_object_get(j, "hash"))), 64);
    json_decref(j);

    expect_rc(cli("models", "create", "--wait", et_tmp("gen_bad.json"), NULL), 3);
    assert_contains(out_text, "state        failed");
    assert_contains(out_text, "/activation");
    assert_contains(err_text, "failed to build");

    /* A daemon without workers never builds it: --timeout gives up (exit 8), saying so. */
    api_daemon dC;
    static const char *const no_workers[] = {"--workers", "0", NULL};
    api_init(&dC);
    api_start(&dC, no_workers, NULL);
    expect_rc(cli("--url", dC.base, "models", "create", "--wait", "--timeout", "1",
                  et_tmp("gen.json"), NULL),
              8);
    assert_contains(err_text, "still pending after 1 s");
    api_stop_clean(&dC);
}

/**
 * One user's session against the live daemon, in order: submit, wait with progress, get, list,
 * download every result in every format and compare with `eirnn simulate`. Long (about 160
 * lines) because each step needs the state the one before left, and splitting it would only
 * move that state into globals.
 */
static void test_submit_wait_results(void **state)
{
    (void)state;
    char *mid = create_tiny();

    /* Submit with --wait: exit 0, the ended run on stdout, nothing on stderr (no bar). */
    expect_rc(cli("--json", "runs", "submit", "--model", mid, "--run-file", et_tmp("run.json"),
                  "--inputs", et_tmp("in.npy"), "--seed", "7", "--wait", NULL),
              0);
    assert_string_equal(err_text, "");
    json_t *run = out_json();
    assert_string_equal(json_string_value(json_object_get(run, "status")), "succeeded");
    char *rid = strdup(json_string_value(json_object_get(run, "id")));
    json_decref(run);

    /* The same run offline. */
    expect_rc(cli("simulate", et_tmp("tiny.json"), et_tmp("run_seeded.json"), "--inputs",
                  et_tmp("in.npy"), "-o", et_tmp("sim"), "-q", NULL),
              0);

    /* Each variable as .npy: the same bytes as simulate's. */
    static const char *const vars[] = {"V", "r", "z", "y"};
    for (int v = 0; v < 4; v++) {
        char name[32], simf[32];
        snprintf(name, sizeof name, "srv_%s.npy", vars[v]);
        snprintf(simf, sizeof simf, "sim/%s.npy", vars[v]);
        expect_rc(cli("results", "get", rid, vars[v], "-o", et_tmp(name), NULL), 0);
        assert_contains(out_text, "wrote ");
        assert_same_file(et_tmp(name), et_tmp(simf));
    }
    /* No temporary file left behind. */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -q '^\\.'", et_tmpdir);
    assert_int_not_equal(system(cmd), 0);

    eir_npy_array a;
    read_npy(et_tmp("sim/r.npy"), &a);
    int64_t Tr = a.shape[1], n = a.shape[2];
    assert_int_equal(a.shape[0], B);
    assert_int_equal(Tr, eir_recorded_rows(T, EVERY));

    /* CSV: a header, then trial, step and the values, exactly. */
    expect_rc(cli("results", "get", rid, "r", "-o", et_tmp("r.csv"), NULL), 0);
    char *csv = api_read_file(et_tmp("r.csv"), NULL);
    assert_non_null(csv);
    assert_true(strncmp(csv, "trial,step,r0,r1,r2,r3\n", 23) == 0);
    char *p = csv + 23;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < Tr; t++) {
            char *end;
            assert_int_equal(strtoll(p, &end, 10), b);
            p = end + 1;
            assert_int_equal(strtoll(p, &end, 10), t);
            p = end;
            for (int64_t k = 0; k < n; k++) {
                assert_int_equal(*p, ',');
                double x = strtod(p + 1, &end);
                if (x != a.data[(b * Tr + t) * n + k])
                    fail_msg("csv [%lld][%lld][%lld] = %.17g, npy %.17g", (long long)b,
                             (long long)t, (long long)k, x, a.data[(b * Tr + t) * n + k]);
                p = end;
            }
            assert_int_equal(*p, '\n');
            p++;
        }
    assert_int_equal(*p, '\0');
    free(csv);

    /* JSON: nested lists, exactly. */
    expect_rc(cli("--json", "results", "get", rid, "r", "-o", et_tmp("r.json"), NULL), 0);
    json_t *info = out_json();
    assert_string_equal(json_string_value(json_object_get(info, "format")), "json");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(info, "shape"), 1)), Tr);
    json_decref(info);
    json_error_t je;
    json_t *arr = json_load_file(et_tmp("r.json"), 0, &je);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), B);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < Tr; t++)
            for (int64_t k = 0; k < n; k++) {
                json_t *x = json_array_get(json_array_get(json_array_get(arr, b), t), k);
                assert_true(json_is_number(x));
                assert_true(json_number_value(x) == a.data[(b * Tr + t) * n + k]);
            }
    json_decref(arr);

    /* Slicing: trial 1, steps 2..4, units 3 and 1, in that order. */
    expect_rc(cli("results", "get", rid, "r", "-o", et_tmp("slice.npy"), "--trials", "1:2",
                  "--steps", "2:5", "--neurons", "3,1", NULL),
              0);
    assert_contains(out_text, "1 x 3 x 2");
    eir_npy_array s;
    read_npy(et_tmp("slice.npy"), &s);
    assert_int_equal(s.ndim, 3);
    assert_int_equal(s.shape[0], 1);
    assert_int_equal(s.shape[1], 3);
    assert_int_equal(s.shape[2], 2);
    for (int t = 0; t < 3; t++) {
        assert_true(s.data[t * 2] == a.data[(1 * Tr + 2 + t) * n + 3]);
        assert_true(s.data[t * 2 + 1] == a.data[(1 * Tr + 2 + t) * n + 1]);
    }
    eir_npy_array_free(&s);
    eir_npy_array_free(&a);

    /* A bad slice is the server's 400: exit 3, the parameter named. */
    expect_rc(cli("results", "get", rid, "r", "-o", et_tmp("bad.npy"), "--trials", "5:9", NULL), 3);
    assert_contains(err_text, "eirnn: error: 400 Bad Request: trials: ");
    assert_int_equal(access(et_tmp("bad.npy"), F_OK), -1);
    /* A variable that was not recorded: 404, exit 4, no file. */
    expect_rc(cli("results", "get", rid, "q", "-o", et_tmp("q.npy"), NULL), 4);
    assert_contains(err_text, "404 Not Found");
    assert_int_equal(access(et_tmp("q.npy"), F_OK), -1);

    /* Inputs from .json: the same run, the same results. */
    expect_rc(cli("runs", "submit", "-q", "--model", mid, "--run-file", et_tmp("run.json"),
                  "--inputs", et_tmp("in.json"), "--seed", "7", "--wait", NULL),
              0);
    char *rid2 = out_line();
    expect_rc(cli("results", "get", rid2, "V", "-o", et_tmp("srv2_V.npy"), NULL), 0);
    assert_same_file(et_tmp("srv2_V.npy"), et_tmp("sim/V.npy"));

    /* Inputs from .csv with the model inline: the same as simulate with that CSV. */
    expect_rc(cli("runs", "submit", "-q", "--model-file", et_tmp("tiny.json"), "--run-file",
                  et_tmp("run.json"), "--inputs", et_tmp("in0.csv"), "--seed", "7", "--wait", NULL),
              0);
    char *rid3 = out_line();
    expect_rc(cli("simulate", et_tmp("tiny.json"), et_tmp("run_seeded.json"), "--inputs",
                  et_tmp("in0.csv"), "-o", et_tmp("sim_csv"), "-q", NULL),
              0);
    expect_rc(cli("results", "get", rid3, "r", "-o", et_tmp("srv3_r.npy"), NULL), 0);
    assert_same_file(et_tmp("srv3_r.npy"), et_tmp("sim_csv/r.npy"));

    /* results list, runs get (human and JSON), runs list */
    expect_rc(cli("results", "list", rid, NULL), 0);
    assert_contains(out_text, "VAR");
    assert_contains(out_text, "float64");
    expect_rc(cli("runs", "get", rid, NULL), 0);
    assert_contains(out_text, "succeeded");
    assert_contains(out_text, "seed         7");
    expect_rc(cli("runs", "get", rid, "--json", NULL), 0);
    run = out_json();
    assert_true(json_is_object(json_object_get(run, "meta")));
    json_decref(run);
    expect_rc(cli("runs", "list", "--model", mid, NULL), 0);
    assert_contains(out_text, rid);
    assert_contains(out_text, rid2);
    assert_not_contains(out_text, rid3); /* inline model: not a run of the stored one */
    expect_rc(cli("--json", "runs", "list", "--status", "succeeded", "--limit", "2", NULL), 0);
    json_t *l = out_json();
    assert_int_equal(json_array_size(json_object_get(l, "items")), 2);
    json_decref(l);

    /* Deleting: the runs, then the model. */
    expect_rc(cli("runs", "delete", rid, NULL), 0);
    assert_contains(out_text, "deleted run");
    expect_rc(cli("--json", "runs", "delete", rid2, NULL), 0);
    json_decref(out_json());
    expect_rc(cli("runs", "get", rid, NULL), 4);
    expect_rc(cli("models", "delete", mid, NULL), 0);
    free(rid);
    free(rid2);
    free(rid3);
    free(mid);
}

static void test_submit_no_wait_and_idempotency(void **state)
{
    (void)state;
    char *mid = create_tiny();
    expect_rc(cli("runs", "submit", "--model", mid, "--steps", "20", "--dt", "0.1", "--seed", "1",
                  "--idempotency-key", "key-1", "--json", NULL),
              0);
    json_t *r1 = out_json();
    const char *st = json_string_value(json_object_get(r1, "status"));
    assert_true(strcmp(st, "queued") == 0 || strcmp(st, "running") == 0 ||
                strcmp(st, "succeeded") == 0);
    expect_rc(cli("runs", "submit", "--model", mid, "--steps", "20", "--dt", "0.1", "--seed", "1",
                  "--idempotency-key", "key-1", "-q", NULL),
              0);
    char *id2 = out_line();
    assert_string_equal(json_string_value(json_object_get(r1, "id")), id2);
    expect_rc(cli("runs", "wait", id2, NULL), 0);
    assert_contains(out_text, "succeeded");
    assert_contains(out_text, "1 trial x 20 steps");
    /* Human output of a queued submit. */
    expect_rc(cli("runs", "submit", "--model", mid, "--steps", "5", "--dt", "0.1", NULL), 0);
    assert_contains(out_text, "status ");
    json_decref(r1);
    free(id2);
    free(mid);
}

static void test_diverged(void **state)
{
    (void)state;
    write_text(et_tmp("div_run.json"), "{\"dt\": 1.0, \"V0\": 1.0, \"inputs\": {\"steps\": 1000, "
                                       "\"trials\": 2}, \"record\": {\"vars\": [\"V\", \"r\"]}}");
    expect_rc(cli("runs", "submit", "--model-file", et_tmp("diverging.json"), "--run-file",
                  et_tmp("div_run.json"), "--wait", NULL),
              5);
    assert_contains(err_text, "diverged at step");
    assert_int_equal(count_lines(err_text), 1);
    assert_contains(out_text, "diverged");
    /* runs wait on an ended run gives the same code at once. */
    char *id = NULL;
    const char *p = strstr(out_text, "r_");
    assert_non_null(p);
    id = strndup(p, 26);
    expect_rc(cli("runs", "wait", id, "-q", NULL), 5);
    assert_string_equal(out_text, "");
    expect_rc(cli("runs", "get", id, NULL), 0); /* get reports; it does not judge */
    free(id);
}

static void test_cancel_and_timeout(void **state)
{
    (void)state;
    expect_rc(cli("runs", "submit", "-q", "--model-file", et_tmp("slow.json"), "--run-file",
                  et_tmp("slow_run.json"), "--steps", "2000000", "--seed", "3", NULL),
              0);
    char *id = out_line();

    /* --timeout passes first: exit 8, the run goes on. */
    expect_rc(cli("runs", "wait", id, "--timeout", "0.5", NULL), 8);
    assert_contains(err_text, "has not ended after");
    assert_int_equal(count_lines(err_text), 1);

    /* A waiter in the background, then a cancel: the waiter ends with 6. */
    char *argv[] = {(char *)"eirnn", (char *)"runs", (char *)"wait", id, NULL};
    const char *o = et_tmp("bg_out.txt"), *e = et_tmp("bg_err.txt");
    pid_t pid = spawn_cli(argv, NULL, o, e);
    api_pause(0.3);
    expect_rc(cli("runs", "cancel", id, NULL), 0);
    assert_contains(out_text, "cancel");
    expect_rc(wait_cli(pid, 60, o, e), 6);
    assert_contains(err_text, "was cancelled after");
    assert_contains(out_text, "cancelled");
    expect_rc(cli("--json", "runs", "get", id, NULL), 0);
    json_t *r = out_json();
    assert_string_equal(json_string_value(json_object_get(r, "status")), "cancelled");
    json_decref(r);
    /* Cancelling it again changes nothing; deleting it works. */
    expect_rc(cli("runs", "cancel", id, NULL), 0);
    expect_rc(cli("runs", "delete", id, NULL), 0);
    free(id);

    /* submit --wait --timeout: exit 8 too, the submitted run printed (-q: its id; --json:
     * the resource); cancelled, then 6. */
    expect_rc(cli("runs", "submit", "--json", "--model-file", et_tmp("slow.json"), "--run-file",
                  et_tmp("slow_run.json"), "--steps", "2000000", "--wait", "--timeout", "0.3",
                  NULL),
              8);
    id = out_id();
    assert_true(strncmp(id, "r_", 2) == 0);
    expect_rc(cli("--json", "runs", "cancel", id, NULL), 0);
    json_decref(out_json());
    expect_rc(cli("runs", "wait", id, NULL), 6);
    free(id);
}

static void test_failed(void **state)
{
    (void)state;
    write_text(et_tmp("limited.json"), "{\"dt\": 0.1, \"time_limit\": 0.3, \"inputs\": {\"steps\": "
                                       "2000000, \"trials\": 1}, \"record\": {\"vars\": [\"r\"], "
                                       "\"every\": 1000}}");
    expect_rc(cli("runs", "submit", "--model-file", et_tmp("slow.json"), "--run-file",
                  et_tmp("limited.json"), "--wait", NULL),
              7);
    assert_contains(err_text, "failed: ");
    assert_contains(err_text, "wall-clock limit");
    assert_int_equal(count_lines(err_text), 1);
}

/** The output "VAR" of the run meta in @p run: its shape as "B,T',n" and its dtype. */
static void expect_output(const json_t *run, const char *var, const char *shape, const char *dtype)
{
    const json_t *o =
        json_object_get(json_object_get(json_object_get(run, "meta"), "outputs"), var);
    if (!o) fail_msg("run has no output %s", var);
    char got[64] = "";
    size_t i, k = 0;
    const json_t *d;
    json_array_foreach(json_object_get(o, "shape"), i, d)
    {
        k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(d));
    }
    assert_string_equal(got, shape);
    assert_string_equal(json_string_value(json_object_get(o, "dtype")), dtype);
}

/** meta.run.<key> of @p run. */
static const json_t *meta_run(const json_t *run, const char *key)
{
    return json_object_get(json_object_get(json_object_get(run, "meta"), "run"), key);
}

/**
 * submit's flags for the run document: each sets its field (the same results as a run file
 * that holds them), overrides the run file's, and a bad value is refused before anything is
 * sent (exit 2) or named by the server (exit 3). A table of cases would hide which flag a
 * failure is about; the cases are listed one after the other instead (about 140 lines).
 */
static void test_submit_run_flags(void **state)
{
    (void)state;
    char *mid = create_tiny();
    /* Every field from flags alone... */
    expect_rc(cli("--json", "runs", "submit", "--model", mid, "--steps", "30", "--trials", "3",
                  "--dt", "0.1", "--seed", "5", "--integrator", "rk4", "--precision", "float32",
                  "--V0", "0.25", "--record", "V,r,z", "--every", "4", "--neurons", "1:3",
                  "--time-limit", "60", "--wait", NULL),
              0);
    json_t *run = out_json();
    assert_int_equal(json_integer_value(meta_run(run, "B")), 3);
    assert_int_equal(json_integer_value(meta_run(run, "T")), 30);
    assert_string_equal(json_string_value(meta_run(run, "integrator")), "rk4");
    assert_string_equal(json_string_value(meta_run(run, "precision")), "float32");
    assert_int_equal(json_integer_value(meta_run(run, "seed")), 5);
    const json_t *rec = meta_run(run, "record");
    assert_int_equal(json_integer_value(json_object_get(rec, "every")), 4);
    assert_int_equal(json_integer_value(json_object_get(rec, "neurons")), 2);
    assert_int_equal(json_array_size(json_object_get(rec, "vars")), 3);
    expect_output(run, "V", "3,7,2", "float32");
    expect_output(run, "z", "3,7,2", "float32");
    assert_null(json_object_get(json_object_get(json_object_get(run, "meta"), "outputs"), "y"));
    char *flags_id = strdup(json_string_value(json_object_get(run, "id")));
    json_decref(run);
    /* ... gives the bytes of the same run written as a run file. */
    write_text(et_tmp("flags_run.json"),
               "{\"dt\": 0.1, \"seed\": 5, \"integrator\": \"rk4\", \"precision\": \"float32\", "
               "\"V0\": 0.25, \"time_limit\": 60, \"inputs\": {\"steps\": 30, \"trials\": 3}, "
               "\"record\": {\"vars\": [\"V\", \"r\", \"z\"], \"every\": 4, \"neurons\": [1, 2]}}");
    expect_rc(cli("runs", "submit", "-q", "--model", mid, "--run-file", et_tmp("flags_run.json"),
                  "--wait", NULL),
              0);
    char *file_id = out_line();
    const char *vars[] = {"V", "r", "z"};
    for (int v = 0; v < 3; v++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "flags_%s.npy", vars[v]);
        snprintf(b, sizeof b, "file_%s.npy", vars[v]);
        expect_rc(cli("results", "get", flags_id, vars[v], "-o", et_tmp(a), NULL), 0);
        expect_rc(cli("results", "get", file_id, vars[v], "-o", et_tmp(b), NULL), 0);
        assert_same_file(et_tmp(a), et_tmp(b));
    }
    /* V0 reached the run: without it the first rows differ. */
    expect_rc(cli("runs", "submit", "-q", "--model", mid, "--run-file", et_tmp("flags_run.json"),
                  "--V0", "0", "--wait", NULL),
              0);
    char *v0_id = out_line();
    expect_rc(cli("results", "get", v0_id, "V", "-o", et_tmp("v0_V.npy"), NULL), 0);
    size_t n1, n2;
    char *x = api_read_file(et_tmp("flags_V.npy"), &n1),
         *y = api_read_file(et_tmp("v0_V.npy"), &n2);
    assert_true(x && y && n1 == n2 && memcmp(x, y, n1) != 0);
    free(x);
    free(y);

    /* Flags override the run file's fields; the file's others stay (dt 0.1, vars of run.json
     * replaced, every 3 -> 5, its inputs replaced by --inputs). */
    expect_rc(cli("--json", "runs", "submit", "--model", mid, "--run-file", et_tmp("run.json"),
                  "--inputs", et_tmp("in.npy"), "--record", "r", "--every", "5", "--precision",
                  "float32", "--wait", NULL),
              0);
    run = out_json();
    assert_true(json_real_value(meta_run(run, "dt")) == 0.1);
    assert_string_equal(json_string_value(meta_run(run, "integrator")), "exp_euler");
    expect_output(run, "r", "2,8,4", "float32");
    /* r, and the final state V_final every run that ran to its end keeps (issue 12) */
    assert_int_equal(json_object_size(json_object_get(json_object_get(run, "meta"), "outputs")), 2);
    assert_non_null(
        json_object_get(json_object_get(json_object_get(run, "meta"), "outputs"), "V_final"));
    json_decref(run);
    /* --trials and --steps change a run file's {"steps", "trials"}; --neurons all drops its
     * neurons. */
    write_text(et_tmp("zero_run.json"), "{\"dt\": 0.1, \"inputs\": {\"steps\": 10, \"trials\": 2}, "
                                        "\"record\": {\"vars\": [\"V\"], \"neurons\": [0]}}");
    expect_rc(cli("--json", "runs", "submit", "--model", mid, "--run-file", et_tmp("zero_run.json"),
                  "--trials", "4", "--neurons", "all", "--wait", NULL),
              0);
    run = out_json();
    expect_output(run, "V", "4,10,4", "float64");
    json_decref(run);
    expect_rc(cli("--json", "runs", "submit", "--model", mid, "--run-file", et_tmp("zero_run.json"),
                  "--steps", "12", "--neurons", "3,0:2", "--wait", NULL),
              0);
    run = out_json();
    expect_output(run, "V", "2,12,3", "float64");
    json_decref(run);
    /* A long run kept short by --record/--every and stopped by --time-limit (exit 7). */
    expect_rc(cli("runs", "submit", "--model-file", et_tmp("slow.json"), "--steps", "2000000",
                  "--dt", "0.1", "--record", "r", "--every", "1000", "--time-limit", "0.3",
                  "--wait", NULL),
              7);
    assert_contains(err_text, "wall-clock limit");

    /* Bad values: refused before sending (exit 2), or by the server naming the field. */
    const char *const bad[][3] = {
        {"--record", "V,V", "repeated variable 'V'"},
        {"--record", "V,x", "unknown variable 'x'"},
        {"--record", "", "unknown variable ''"},
        {"--neurons", "2:2", "'2:2' is not an index or a range"},
        {"--neurons", "1,a", "'a' is not an index"},
        {"--neurons", "-1", "'-1' is not an index"},
        {"--neurons", "0:2000000", "more than 1000000 neurons"},
        {"--every", "0", "--every"},
        {"--trials", "0", "--trials"},
        {"--integrator", "rk5", "exp_euler, euler or rk4, not 'rk5'"},
        {"--precision", "float16", "float64 or float32, not 'float16'"},
        {"--V0", "nan", "--V0 must be a finite number"},
        {"--time-limit", "0", "--time-limit"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        expect_rc(cli("runs", "submit", "--model", mid, "--steps", "5", "--dt", "0.1", bad[i][0],
                      bad[i][1], NULL),
                  2);
        assert_contains(err_text, bad[i][2]);
    }
    expect_rc(cli("runs", "submit", "--model", mid, "--trials", "2", "--dt", "0.1", NULL), 2);
    assert_contains(err_text, "give --steps T as well");
    expect_rc(cli("runs", "submit", "--model", mid, "--inputs", et_tmp("in.npy"), "--trials", "2",
                  "--dt", "0.1", NULL),
              2);
    assert_contains(err_text, "fixes T and B");
    expect_rc(cli("runs", "submit", "--model", mid, "--run-file", et_tmp("run.json"), "--inputs",
                  et_tmp("in.npy"), NULL),
              0);
    expect_rc(cli("runs", "submit", "--model", mid, "--run-file", et_tmp("flags_run.json"),
                  "--inputs", et_tmp("in.npy"), "--trials", "2", NULL),
              2);
    expect_rc(cli("runs", "submit", "--model", mid, "--steps", "5", "--dt", "0.1", "--neurons",
                  "0,0", NULL),
              3);
    assert_contains(err_text, "/record/neurons");
    expect_rc(cli("runs", "submit", "--model", mid, "--steps", "5", "--dt", "0.1", "--neurons",
                  "0:5", NULL),
              3);
    assert_contains(err_text, "/record/neurons");
    expect_rc(
        cli("runs", "submit", "--model", mid, "--steps", "5", "--dt", "0.1", "--every", "6", NULL),
        3);
    assert_contains(err_text, "/record/every");
    free(v0_id);
    free(file_id);
    free(flags_id);
    free(mid);
}

static void test_invalid(void **state)
{
    (void)state;
    /* A bad model: 422, exit 3, one line naming the field. */
    expect_rc(cli("models", "create", et_tmp("bad.json"), NULL), 3);
    assert_contains(err_text, "eirnn: error: 422 Unprocessable: /recurrent/W: ");
    assert_int_equal(count_lines(err_text), 1);
    assert_string_equal(out_text, "");
    /* The same model inline in a run: the field under /model. */
    expect_rc(cli("runs", "submit", "--model-file", et_tmp("bad.json"), "--steps", "10", "--dt",
                  "0.1", NULL),
              3);
    assert_contains(err_text, "eirnn: error: 422 Unprocessable: /model/recurrent/W: ");
    /* A run that does not fit its model: inputs with 3 columns for n_in = 2. */
    write_text(et_tmp("in3.csv"), "1,2,3\n4,5,6\n");
    expect_rc(cli("runs", "submit", "--model-file", et_tmp("tiny.json"), "--inputs",
                  et_tmp("in3.csv"), "--dt", "0.1", NULL),
              3);
    assert_contains(err_text, "422 Unprocessable: /inputs");
    /* No such stored model. */
    expect_rc(cli("runs", "submit", "--model", "m_000000000000000000000000", "--steps", "10",
                  "--dt", "0.1", NULL),
              3);
    assert_contains(err_text, "/model_id: ");
    /* Offline checks: JSON syntax, a model that is not an object, a 1-d .npy. */
    write_text(et_tmp("syntax.json"), "{\"class\": \"gated\",\n \"leak\": }\n");
    expect_rc(cli("models", "create", et_tmp("syntax.json"), NULL), 3);
    assert_contains(err_text, "syntax.json:2:");
    write_text(et_tmp("array.json"), "[1, 2]");
    expect_rc(cli("models", "create", et_tmp("array.json"), NULL), 3);
    int64_t shape1[1] = {4};
    double v[4] = {1, 2, 3, 4};
    eir_npy_error ne;
    assert_int_equal(eir_npy_write_file(et_tmp("in1d.npy"), EIR_NPY_F8, 1, shape1, v, &ne),
                     EIR_NPY_OK);
    expect_rc(cli("runs", "submit", "--model-file", et_tmp("tiny.json"), "--inputs",
                  et_tmp("in1d.npy"), "--dt", "0.1", NULL),
              3);
    assert_contains(err_text, "T x n_in");
    /* Missing files: I/O, exit 1. */
    expect_rc(cli("models", "create", et_tmp("missing.json"), NULL), 1);
    assert_contains(err_text, "cannot open");
}

static void test_usage(void **state)
{
    (void)state;
    expect_rc(cli("--help", NULL), 0);
    assert_contains(out_text, "models");
    assert_contains(out_text, "4 other HTTP error or server unreachable");
    assert_contains(out_text, "7 run failed");
    assert_contains(out_text, "EIRNN_URL");
    expect_rc(cli("runs", "submit", "--help", NULL), 0);
    assert_contains(out_text, "--model-file");
    expect_rc(cli("runs", "--help", NULL), 0);
    assert_contains(out_text, "eirnn runs wait");
    expect_rc(cli("runs", NULL), 2);
    expect_rc(cli("models", "frob", NULL), 2);
    assert_contains(err_text, "unknown subcommand");
    expect_rc(cli("runs", "submit", "--steps", "10", "--dt", "0.1", NULL), 2);
    assert_contains(err_text, "--model");
    expect_rc(cli("runs", "submit", "--model", "m_x", "--model-file", et_tmp("tiny.json"), NULL),
              2);
    expect_rc(
        cli("runs", "submit", "--model", "m_x", "--inputs", et_tmp("in.npy"), "--steps", "3", NULL),
        2);
    expect_rc(cli("runs", "submit", "--model", "m_x", "--inputs", et_tmp("run.txt"), NULL), 2);
    expect_rc(cli("runs", "submit", "--model", "m_x", "--seed", "-1", NULL), 2);
    expect_rc(cli("runs", "wait", "r_x", "--timeout", "soon", NULL), 2);
    expect_rc(cli("runs", "list", "--status", "finished", NULL), 2);
    expect_rc(cli("models", "list", "--limit", "0", NULL), 2);
    expect_rc(cli("models", "get", NULL), 2);
    expect_rc(cli("models", "get", "a", "b", NULL), 2);
    expect_rc(cli("results", "get", "r_x", "r", "-o", et_tmp("x.txt"), NULL), 2);
    assert_contains(err_text, ".npy, .csv or .json");
    expect_rc(cli("results", "get", "r_x", "r", NULL), 2);
    expect_rc(cli("--url", "ftp://127.0.0.1:1", "models", "list", NULL), 2);
    expect_rc(cli("models", "list", "--url", NULL), 2);
}

static void test_server_down(void **state)
{
    (void)state;
    /* A port where nothing listens. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    expect_rc(cli("--url", url, "models", "list", NULL), 4);
    assert_contains(err_text, "eirnn: error: cannot reach eirnnd at ");
    assert_contains(err_text, url);
    assert_int_equal(count_lines(err_text), 1);
    char envurl[80];
    snprintf(envurl, sizeof envurl, "EIRNN_URL=%s", url);
    const char *env[] = {envurl, NULL};
    expect_rc(cli_env(env, "runs", "submit", "--model", "m_x", "--steps", "3", "--dt", "1",
                      "--wait", NULL),
              4);
    /* HOST:PORT alone is http://HOST:PORT. */
    snprintf(url, sizeof url, "127.0.0.1:%d", ntohs(a.sin_port));
    expect_rc(cli("--url", url, "runs", "list", NULL), 4);
    assert_contains(err_text, "cannot reach");
}

static void test_token(void **state)
{
    (void)state;
    char envurl[96], envtok[96];
    snprintf(envurl, sizeof envurl, "EIRNN_URL=%s", dB.base);
    snprintf(envtok, sizeof envtok, "EIRNN_TOKEN=%s", token);
    const char *env_none[] = {envurl, NULL};
    const char *env_tok[] = {envurl, envtok, NULL};
    const char *env_bad[] = {envurl, "EIRNN_TOKEN=wrong", NULL};
    char tokopt[64];
    snprintf(tokopt, sizeof tokopt, "--token=%s", token);

    /* No token: 401, exit 4, one line saying how to give one. */
    expect_rc(cli_env(env_none, "models", "list", NULL), 4);
    assert_contains(err_text, "eirnn: error: 401 Unauthorized: ");
    assert_contains(err_text, "--token");
    assert_int_equal(count_lines(err_text), 1);
    /* A wrong one. */
    expect_rc(cli_env(env_bad, "models", "list", NULL), 4);
    assert_contains(err_text, "401 Unauthorized");
    expect_rc(cli_env(env_none, "--token", "nope", "models", "list", NULL), 4);
    assert_contains(err_text, "401 Unauthorized");
    /* --token (both spellings, before and after the command) and EIRNN_TOKEN. */
    expect_rc(
        cli_env(env_none, "--token", token, "models", "create", "-q", et_tmp("tiny.json"), NULL),
        0);
    char *mid = out_line();
    expect_rc(cli_env(env_none, "models", "get", mid, tokopt, NULL), 0);
    expect_rc(cli_env(env_tok, "models", "list", NULL), 0);
    assert_contains(out_text, mid);
    /* The whole path with the token from the environment: submit, long polls, download. */
    expect_rc(cli_env(env_tok, "runs", "submit", "-q", "--model", mid, "--steps", "30", "--dt",
                      "0.1", "--seed", "2", "--wait", NULL),
              0);
    char *rid = out_line();
    expect_rc(cli_env(env_tok, "results", "get", rid, "r", "-o", et_tmp("tok_r.npy"), NULL), 0);
    expect_rc(cli_env(env_none, "results", "get", rid, "r", "-o", et_tmp("tok_r2.npy"), NULL), 4);
    assert_contains(err_text, "401");
    assert_int_equal(access(et_tmp("tok_r2.npy"), F_OK), -1);
    /* --url on the command line wins over EIRNN_URL. */
    const char *env_a[] = {envtok, NULL}; /* EIRNN_URL is daemon A here */
    expect_rc(cli_env(env_a, "--url", dB.base, "models", "get", mid, NULL), 0);
    free(rid);
    free(mid);
}

/** Every command's --json output is one JSON document. */
static void test_json_output(void **state)
{
    (void)state;
    expect_rc(cli("--json", "models", "create", et_tmp("tiny.json"), NULL), 0);
    char *mid = out_id();
    expect_rc(cli("--json", "runs", "submit", "--model", mid, "--steps", "12", "--dt", "0.1",
                  "--seed", "4", NULL),
              0);
    char *rid = out_id();
    expect_rc(cli("--json", "runs", "wait", rid, NULL), 0);
    json_decref(out_json());
    const char *const cmds[][8] = {
        {"models", "list", NULL},
        {"models", "get", mid, NULL},
        {"runs", "list", NULL},
        {"runs", "list", "--all", NULL},
        {"runs", "get", rid, NULL},
        {"results", "list", rid, NULL},
        {"results", "get", rid, "V", "-o", et_tmp("json_V.npy"), NULL},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        const char *a[12] = {"--json"};
        int n = 1;
        for (int k = 0; cmds[i][k]; k++)
            a[n++] = cmds[i][k];
        a[n] = NULL;
        expect_rc(cli(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], NULL), 0);
        json_t *j = out_json();
        assert_true(json_is_object(j));
        json_decref(j);
    }
    expect_rc(cli("--json", "runs", "delete", rid, NULL), 0);
    json_decref(out_json());
    free(rid);
    free(mid);
}

/** On a terminal, waiting draws a progress bar on stderr (and erases it at the end). */
static void test_progress_on_tty(void **state)
{
    (void)state;
    int master, slave;
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    const char *o = et_tmp("tty_out.txt");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(master);
        int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (fo < 0 || in < 0) _exit(126);
        dup2(fo, 1);
        dup2(slave, 2);
        dup2(in, 0);
        close(slave);
        child_env(NULL);
        execl(EIRNN_BIN, "eirnn", "runs", "submit", "-q", "--model-file", et_tmp("slow.json"),
              "--run-file", et_tmp("slow_run.json"), "--steps", "20000", "--wait", (char *)NULL);
        _exit(127);
    }
    close(slave);
    char buf[1 << 16];
    size_t n = 0;
    double t0 = api_now();
    for (;;) {
        struct pollfd pfd = {master, POLLIN, 0};
        int pr = poll(&pfd, 1, 200);
        if (pr > 0) {
            ssize_t r = read(master, buf + n, sizeof buf - 1 - n);
            if (r <= 0) break; /* EIO once the child has gone */
            n += (size_t)r;
        }
        if (api_now() - t0 > eir_scaled(120)) break;
    }
    buf[n] = '\0';
    close(master);
    int rc = wait_pid(pid, 60);
    if (rc != 0) fail_msg("exit %d; terminal: %s", rc, buf);
    assert_contains(buf, "\r\033[K");
    assert_contains(buf, "] ");
    assert_contains(buf, "%");
    assert_contains(buf, "/20000 steps)");
    /* Erased at the end: the last thing written is the erase sequence. */
    assert_true(n >= 4 && strcmp(buf + n - 4, "\r\033[K") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_models_pending),
        cmocka_unit_test(test_submit_wait_results),
        cmocka_unit_test(test_submit_no_wait_and_idempotency),
        cmocka_unit_test(test_diverged),
        cmocka_unit_test(test_cancel_and_timeout),
        cmocka_unit_test(test_failed),
        cmocka_unit_test(test_submit_run_flags),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_server_down),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_json_output),
        cmocka_unit_test(test_progress_on_tty),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#endif /* EIRNND_BIN */
