/**
 * @file json_training.h
 * @brief Internal: the state shared by the training parser's files (json_training.c: the
 *        document; json_training_task.c: "task", its timing, coherences and custom arrays).
 */
#ifndef EIR_JSON_TRAINING_INTERNAL_H
#define EIR_JSON_TRAINING_INTERNAL_H

#include "eir_json_training.h"
#include "json_util.h"

/** Arrays owned by an ::eir_training_req (its `storage`). */
typedef struct tr_store {
    double *x, *target, *mask;
    int32_t *label, *len;
} tr_store;

/** Parsing context of one training document. */
typedef struct tctx {
    const eir_json_limits *lim;
    eir_training_req *r;
    tr_store *st;
    eir_error *err;
    int labels_given; /**< a custom task with "labels" (else "targets") */
} tctx;

/** Parse "task" (after "dt", which it needs): r->task, r->max_steps. */
eir_status jt_parse_task(tctx *c, const json_t *doc);

/**
 * Apply "test" overrides of timing (object at @p ptr, may be NULL) and coherences (may be NULL)
 * to r->test_task (a copy of r->task).
 */
eir_status jt_parse_test_task(tctx *c, const json_t *timing, const char *tptr, const json_t *cohs,
                              const char *cptr);

/** The longest trial (steps of dt) task @p t can draw with its timing. */
int64_t jt_max_steps(const eir_task_spec *t);

/**
 * eir_task_check() of @p t with its field mapped into the document: "/dt" stays, "/custom/x"
 * becomes "/task/inputs" (and so on), "/timing/p" becomes "/test/timing/p" when @p test
 * overrides p (else "/task/timing/p"). @p test_timing / @p test_cohs: the test's overrides,
 * or NULL (checking "task").
 */
eir_status jt_check_task(tctx *c, const eir_task_spec *t, const json_t *test_timing,
                         const json_t *test_cohs);

#endif /* EIR_JSON_TRAINING_INTERNAL_H */
