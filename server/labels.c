/**
 * @file labels.c
 * @brief Labels (labels.h): the ?label= filters of the lists and the stored labels of a
 *        resource.
 */
#include "labels.h"

#include <stdio.h>
#include <string.h>

/** Whether @p c may be in a label key ([A-Za-z0-9_.-], as eir_json_check_labels()). */
static int key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/** The state of the iteration over a request's query arguments. */
typedef struct label_scan {
    store_labels *out;
    srv_req *r;    /**< its label_keys hold the keys */
    char why[160]; /**< the first malformed argument's problem, "" when none */
} label_scan;

/** MHD_KeyValueIteratorN: take each "label" argument into x->out, stop at a malformed one. */
static enum MHD_Result scan_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    label_scan *x = cls;
    if (!key || key_size != 5 || memcmp(key, "label", 5) != 0) return MHD_YES;
    const char *colon = value ? memchr(value, ':', value_size) : NULL;
    size_t klen = colon ? (size_t)(colon - value) : 0;
    if (!colon || klen == 0) {
        snprintf(x->why, sizeof x->why,
                 "label must be key:value (a key, ':', its value), not '%.64s'",
                 value ? value : "");
        return MHD_NO;
    }
    if (strlen(value) != value_size) {
        snprintf(x->why, sizeof x->why, "a label filter may not hold a NUL character");
        return MHD_NO;
    }
    if (klen > SRV_LABEL_KEY_MAX) {
        snprintf(x->why, sizeof x->why, "a label key has at most %d characters, not %zu",
                 SRV_LABEL_KEY_MAX, klen);
        return MHD_NO;
    }
    for (size_t i = 0; i < klen; i++)
        if (!key_char(value[i])) {
            snprintf(x->why, sizeof x->why,
                     "label key '%.*s' may only have letters, digits, '_', '.' and '-'", (int)klen,
                     value);
            return MHD_NO;
        }
    if (value_size - klen - 1 > SRV_LABEL_VALUE_MAX) {
        snprintf(x->why, sizeof x->why, "the value of label '%.*s' has more than %d bytes",
                 (int)klen, value, SRV_LABEL_VALUE_MAX);
        return MHD_NO;
    }
    store_labels *l = x->out;
    if (l->n >= STORE_MAX_LABEL_FILTERS) {
        snprintf(x->why, sizeof x->why, "at most %d label filters may be given",
                 STORE_MAX_LABEL_FILTERS);
        return MHD_NO;
    }
    char *k = x->r->label_keys[l->n];
    memcpy(k, value, klen);
    k[klen] = '\0';
    l->keys[l->n] = k;
    l->values[l->n] = value + klen + 1;
    l->n++;
    return MHD_YES;
}

int srv_labels_query(srv_req *r, store_labels *out, enum MHD_Result *ret)
{
    memset(out, 0, sizeof *out);
    label_scan x = {.out = out, .r = r, .why = ""};
    MHD_get_connection_values_n(r->con, MHD_GET_ARGUMENT_KIND, scan_arg, &x);
    if (!x.why[0]) return 0;
    memset(out, 0, sizeof *out);
    *ret = srv_problem_param(r, "label", "%s", x.why);
    return -1;
}

/** Append @p in percent-encoded (RFC 3986 unreserved kept) at @p out; returns the bytes. */
static size_t encode(const char *in, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        unsigned char c = *p;
        if (key_char((char)c) || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    return n;
}

void srv_labels_query_text(const store_labels *l, char *extra, size_t cap)
{
    char arg[16 + 3 * (SRV_LABEL_KEY_MAX + 1 + SRV_LABEL_VALUE_MAX) + 1];
    for (int i = 0; l && i < l->n; i++) {
        if (strlen(l->keys[i]) > SRV_LABEL_KEY_MAX || strlen(l->values[i]) > SRV_LABEL_VALUE_MAX)
            continue; /* not from srv_labels_query(): cannot be a filter the list used */
        size_t n = strlen(extra);
        size_t k = (size_t)sprintf(arg, "%slabel=", n ? "&" : "");
        k += encode(l->keys[i], arg + k);
        memcpy(arg + k, "%3A", 3);
        k += 3;
        k += encode(l->values[i], arg + k);
        arg[k] = '\0';
        if (n + k >= cap) return;
        memcpy(extra + n, arg, k + 1);
    }
}

json_t *srv_labels_object(const char *labels_json)
{
    json_t *j = labels_json && *labels_json ? json_loads(labels_json, 0, NULL) : NULL;
    if (json_is_object(j)) return j;
    json_decref(j);
    return json_object();
}

int srv_labels_text(const json_t *labels, char **text)
{
    *text = NULL;
    if (!labels) return 0;
    *text = srv_json_dumps(labels, JSON_COMPACT);
    return *text ? 0 : -1;
}

int srv_labels_of(srv_req *r, const json_t *doc, char **text, enum MHD_Result *ret)
{
    *text = NULL;
    eir_error err;
    eir_error_clear(&err);
    if (eir_json_check_labels(json_object_get(doc, "labels"), "/labels", &err) != EIR_OK) {
        *ret = srv_problem_eir(r, &err);
        return -1;
    }
    if (srv_labels_text(json_object_get(doc, "labels"), text)) {
        *ret = srv_problem(r, SRV_P_UNAVAILABLE, 503, NULL, "out of memory");
        return -1;
    }
    return 0;
}
