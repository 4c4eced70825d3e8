/**
 * @file json_patch.c
 * @brief eir_json_patch_pointer(): a copy of a document with one value replaced at an RFC 6901
 *        JSON pointer, copying only the containers on the path (a sweep patches its base
 *        documents once per point, so untouched subtrees are shared, never deep-copied).
 */
#include "eir_json.h"
#include "json_util.h"

#include <stdlib.h>
#include <string.h>

/** The pointer split into unescaped tokens (stored in one buffer). */
typedef struct tokens {
    char *buf;
    char **tok;
    size_t n;
} tokens;

/* Unescape ~0 -> ~ and ~1 -> / in place; -1 on another ~ sequence. */
static int unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r != '~') {
            *w++ = *r;
            continue;
        }
        if (r[1] == '0')
            *w++ = '~';
        else if (r[1] == '1')
            *w++ = '/';
        else
            return -1;
        r++;
    }
    *w = '\0';
    return 0;
}

static eir_status split(const char *pointer, tokens *t, eir_error *err)
{
    size_t len = strlen(pointer), n = 0;
    memset(t, 0, sizeof *t);
    if (pointer[0] != '/')
        return eir_error_set(err, EIR_EINVAL, pointer,
                             "expected a JSON pointer starting with \"/\" (RFC 6901), got "
                             "\"%.200s\"",
                             pointer);
    for (size_t i = 0; i < len; i++)
        n += pointer[i] == '/';
    t->buf = malloc(len + 1);
    t->tok = malloc(n * sizeof *t->tok);
    if (!t->buf || !t->tok) return ju_enomem(err, pointer);
    memcpy(t->buf, pointer, len + 1);
    for (char *p = t->buf; p; p = strchr(p + 1, '/')) {
        *p = '\0';
        t->tok[t->n++] = p + 1;
    }
    for (size_t i = 0; i < t->n; i++)
        if (unescape(t->tok[i]))
            return eir_error_set(err, EIR_EINVAL, pointer,
                                 "expected ~ to be followed by 0 or 1 in a JSON pointer (RFC "
                                 "6901), in token %zu",
                                 i + 1);
    return EIR_OK;
}

/* Array index of token @p s below @p size: "0" or digits without a leading zero. */
static int array_index(const char *s, size_t size, size_t *out)
{
    size_t v = 0, n = strlen(s);
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0')) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    if (v >= size) return -1;
    *out = v;
    return 0;
}

/* The pointer of the first @p k tokens, for messages (escaped again, truncated). */
static void prefix_ptr(const tokens *t, size_t k, char dst[EIR_FIELD_MAX])
{
    dst[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        char tmp[EIR_FIELD_MAX];
        ju_ptr_key(tmp, dst, t->tok[i]);
        memcpy(dst, tmp, EIR_FIELD_MAX);
    }
}

static json_t *patch_at(const json_t *node, const tokens *t, size_t k, json_t *value,
                        const char *pointer, eir_error *err)
{
    char at[EIR_FIELD_MAX], got[JU_DESC_MAX];
    if (k == t->n) return json_incref(value);
    const char *tok = t->tok[k];
    int last = k + 1 == t->n;
    json_t *child = NULL, *copy = NULL, *sub = NULL;
    size_t idx = 0;
    prefix_ptr(t, k, at);
    if (json_is_object(node)) {
        child = json_object_get(node, tok);
        if (!child && !last) {
            eir_error_set(err, EIR_EINVAL, pointer,
                          "no member \"%.64s\" in the object at \"%.120s\" to go through", tok, at);
            return NULL;
        }
    } else if (json_is_array(node)) {
        if (array_index(tok, json_array_size(node), &idx)) {
            eir_error_set(err, EIR_EINVAL, pointer,
                          "expected an index below %zu of the array at \"%.120s\", got \"%.64s\"",
                          json_array_size(node), at, tok);
            return NULL;
        }
        child = json_array_get(node, idx);
    } else {
        ju_describe(node, got);
        eir_error_set(err, EIR_EINVAL, pointer,
                      "cannot go into \"%.64s\": the value at \"%.120s\" is %s, not an object or "
                      "array",
                      tok, at, got);
        return NULL;
    }
    sub = child ? patch_at(child, t, k + 1, value, pointer, err) : json_incref(value);
    if (!sub) return NULL;
    copy = json_copy((json_t *)node); /* shallow: members are shared */
    int rc = !copy                  ? -1
             : json_is_object(node) ? json_object_set_new(copy, tok, sub)
                                    : json_array_set_new(copy, idx, sub);
    if (rc) {
        if (!copy) json_decref(sub);
        json_decref(copy);
        ju_enomem(err, pointer);
        return NULL;
    }
    return copy;
}

json_t *eir_json_patch_pointer(const json_t *doc, const char *pointer, json_t *value,
                               eir_error *err)
{
    tokens t;
    if (!doc || !pointer || !value) {
        eir_error_set(err, EIR_EINVAL, pointer ? pointer : "", "nothing to patch");
        return NULL;
    }
    if (pointer[0] == '\0') return json_incref(value); /* the whole document */
    json_t *out = NULL;
    if (split(pointer, &t, err) == EIR_OK) out = patch_at(doc, &t, 0, value, pointer, err);
    free(t.buf);
    free(t.tok);
    return out;
}
