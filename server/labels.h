/**
 * @file labels.h
 * @brief Labels of models, runs, analyses and sweeps (docs/API.md "Labels"): the repeatable
 *        ?label=key:value filters of the lists, the query text that repeats them in a list's
 *        next link, the "labels" member of a submitted document, and the stored labels shown in
 *        a resource.
 *
 * Threads: everything here runs on the calling HTTP thread; nothing is shared.
 */
#ifndef EIRNN_LABELS_H
#define EIRNN_LABELS_H

#include <jansson.h>
#include <stddef.h>

#include "http.h"
#include "store.h"

/* SRV_LABEL_KEY_MAX (63), the longest label key, is in http.h (srv_req keeps the keys). */
#define SRV_LABEL_VALUE_MAX 255 /**< longest label value (bytes) */

/**
 * Bytes of a list's query text (srv_job_list_params()'s @c extra) that can hold every filter,
 * the STORE_MAX_LABEL_FILTERS labels percent-encoded included.
 */
#define SRV_LIST_QUERY_MAX                                                                         \
    (1024 + STORE_MAX_LABEL_FILTERS * (16 + 3 * (SRV_LABEL_KEY_MAX + 1 + SRV_LABEL_VALUE_MAX)))

/**
 * The ?label=key:value arguments of @p r (repeatable; an object matches when it has all of
 * them) into @p out: each split at its first ':', the key 1..SRV_LABEL_KEY_MAX characters of
 * [A-Za-z0-9_.-], the value (possibly empty) at most SRV_LABEL_VALUE_MAX bytes without a NUL.
 * The keys are copied into r->label_keys, the values borrowed from @p r's connection: both stay
 * valid until the request ends (calling it again gives the same filters).
 * @return 0 (out->n = 0 when there is none); -1 with a 400 problem naming the parameter
 *         "label" queued into *@p ret for a malformed one or more than STORE_MAX_LABEL_FILTERS.
 */
int srv_labels_query(srv_req *r, store_labels *out, enum MHD_Result *ret);

/**
 * Append "label=key%3Avalue" for each label of @p l to the query text @p extra of @p cap bytes
 * (joined with '&'), for the next link of a list. A buffer of SRV_LIST_QUERY_MAX bytes always
 * holds them; a smaller one gets as many whole arguments as fit.
 */
void srv_labels_query_text(const store_labels *l, char *extra, size_t cap);

/**
 * The text to store (store_run_new::labels_json, store_model_create()) of checked labels
 * @p labels (eir_json_check_labels()): compact jansson text, members in the order sent, which
 * json_dumps() of the object parsed back writes again byte for byte (the run resource splices
 * it in as it is, h_common.c). NULL @p labels (none given): *@p text is NULL.
 * @return 0, or -1 when out of memory (*@p text NULL).
 */
int srv_labels_text(const json_t *labels, char **text);

/**
 * The "labels" of a submitted model, run or analysis document @p doc, checked
 * (eir_json_check_labels() at "/labels"), as the text to store (srv_labels_text(); NULL in
 * *@p text when the document has none; the caller frees it).
 * @return 0; -1 with 422 naming the member ("/labels/project") or 503 (out of memory) queued
 *         into *@p ret.
 */
int srv_labels_of(srv_req *r, const json_t *doc, char **text, enum MHD_Result *ret);

/**
 * The labels of a resource from their stored JSON text @p labels_json: the object it holds, or
 * an empty object when it is NULL, "" or not an object (a row from before labels).
 * @return a new reference; NULL only when out of memory.
 */
json_t *srv_labels_object(const char *labels_json);

#endif /* EIRNN_LABELS_H */
