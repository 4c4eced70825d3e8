/**
 * @file test_threads_per_run.c
 * @brief eirnnd's --threads-per-run (EIRNN_THREADS_PER_RUN): values outside 1..256 exit 2
 *        naming the flag or variable; the flag, the variable and the default (CPUs / workers,
 *        at least 1) reach the engine through the run pipeline, as meta.run.threads says; and a
 *        run's result bytes are the same at 1 and 3 threads per run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_harness.h"

/** Run eirnnd with @p env and @p args (shell words); its exit code, stderr in *err. */
static int run_daemon(const char *env, const char *args, char **err)
{
    char dir[] = "/tmp/eirnn-tpr-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int rc = api_system("cd '%s' && %s '%s' %s > /dev/null 2> '%s/err' < /dev/null", dir,
                        env ? env : "", EIRNND_BIN, args, dir);
    char path[64];
    snprintf(path, sizeof path, "%s/err", dir);
    *err = api_read_file(path, NULL);
    assert_non_null(*err);
    api_system("rm -rf '%s'", dir);
    return rc;
}

static void test_bad_values(void **state)
{
    (void)state;
    const char *bad[] = {"0", "257", "-1", "two", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char args[64], env[64], *err;
        snprintf(args, sizeof args, "--threads-per-run '%s'", bad[i]);
        assert_int_equal(run_daemon(NULL, args, &err), 2);
        if (!strstr(err, "--threads-per-run") || !strstr(err, "from 1 to 256"))
            fail_msg("for '%s': %s", bad[i], err);
        free(err);
        snprintf(env, sizeof env, "EIRNN_THREADS_PER_RUN='%s'", bad[i]);
        assert_int_equal(run_daemon(env, "--version", &err), 2);
        if (!strstr(err, "EIRNN_THREADS_PER_RUN") || !strstr(err, "from 1 to 256"))
            fail_msg("for '%s': %s", bad[i], err);
        free(err);
    }
}

/** The threads of a run of daemon @p d, from its metadata; the run's V .npy into *npy. */
static json_int_t run_threads(api_daemon *d, const char *doc, api_resp *npy)
{
    char *id = api_submit_run(d, doc);
    json_t *j = api_wait_run(d, id, 60);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "succeeded");
    json_int_t t = json_integer_value(
        json_object_get(json_object_get(json_object_get(j, "meta"), "run"), "threads"));
    json_decref(j);
    if (npy) {
        char path[128];
        snprintf(path, sizeof path, "/v1/runs/%s/results/V", id);
        const char *hdr[] = {"Accept: application/octet-stream", NULL};
        api_req(d, "GET", path, hdr, NULL, 0, npy);
        assert_int_equal(npy->status, 200);
    }
    free(id);
    return t;
}

/** A noisy run of 100 trials (two trial blocks), inline model, fixed seed. */
static char *noisy_doc(void)
{
    size_t cap = strlen(api_model_noisy) + 256;
    char *doc = malloc(cap);
    assert_non_null(doc);
    snprintf(doc, cap,
             "{\"model\": %s, \"dt\": 0.05, \"inputs\": {\"steps\": 200, \"trials\": 100}, "
             "\"record\": {\"vars\": [\"V\"], \"every\": 3}, \"seed\": 17}",
             api_model_noisy);
    return doc;
}

static void test_flag_variable_and_default(void **state)
{
    (void)state;
    char *doc = noisy_doc();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;

    api_daemon a, b, c, e;
    api_init(&a);
    const char *args_a[] = {"--workers", "1", "--threads-per-run", "3", NULL};
    api_start(&a, args_a, NULL);
    api_resp ra, rb;
    assert_int_equal(run_threads(&a, doc, &ra), 3);

    /* The variable, and the flag over it. */
    api_init(&b);
    const char *args_b[] = {"--workers", "1", NULL};
    const char *env_b[] = {"EIRNN_THREADS_PER_RUN=1", NULL};
    api_start(&b, args_b, env_b);
    assert_int_equal(run_threads(&b, doc, &rb), 1);
    /* The same bytes at 3 threads per run as at 1. */
    if (ra.len != rb.len || memcmp(ra.body, rb.body, ra.len) != 0)
        fail_msg("a run's bytes differ between 1 and 3 threads per run");
    api_resp_free(&ra);
    api_resp_free(&rb);

    /* Defaults: CPUs / workers, at least 1 (workers x threads-per-run <= CPUs). */
    api_init(&c);
    const char *args_c[] = {"--workers", "1", NULL};
    api_start(&c, args_c, NULL);
    long want = cpus > 256 ? 256 : cpus;
    assert_int_equal(run_threads(&c, doc, NULL), want);
    api_init(&e);
    const char *args_e[] = {"--workers", "2", NULL};
    api_start(&e, args_e, NULL);
    want = cpus / 2 < 1 ? 1 : cpus / 2 > 256 ? 256 : cpus / 2;
    assert_int_equal(run_threads(&e, doc, NULL), want);

    api_daemon *all[] = {&a, &b, &c, &e};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(api_stop(all[i], SIGTERM, 30), 0);
        api_cleanup(all[i]);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_flag_variable_and_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
