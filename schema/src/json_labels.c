/**
 * @file json_labels.c
 * @brief FORMAT.md "Labels": the "labels" object of model, run, analysis and sweep documents
 *        (eir_json_check_labels()).
 */
#include "eir_json.h"
#include "json_util.h"

#include <string.h>

/** Most members of a labels object, longest key and longest value (bytes). */
#define LABELS_MAX_MEMBERS 64
#define LABEL_KEY_MAX 63
#define LABEL_VALUE_MAX 255

static int key_char_ok(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

static eir_status check_key(const char *key, const char *field, eir_error *err)
{
    size_t n = strlen(key);
    if (n < 1 || n > LABEL_KEY_MAX)
        return eir_error_set(err, EIR_EINVAL, field,
                             "expected a label key of 1 to %d characters, got %zu", LABEL_KEY_MAX,
                             n);
    for (size_t i = 0; i < n; i++)
        if (!key_char_ok((unsigned char)key[i]))
            return eir_error_set(err, EIR_EINVAL, field,
                                 "expected a label key of the characters A-Z a-z 0-9 _ . -, got "
                                 "\"%.63s\" (character %zu)",
                                 key, i + 1);
    return EIR_OK;
}

static eir_status check_value(const json_t *v, const char *field, eir_error *err)
{
    char got[JU_DESC_MAX];
    if (!json_is_string(v)) {
        ju_describe(v, got);
        return eir_error_set(err, EIR_EINVAL, field, "expected a label value (a string), got %s",
                             got);
    }
    size_t n = json_string_length(v);
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    if (n > LABEL_VALUE_MAX)
        return eir_error_set(err, EIR_EINVAL, field,
                             "expected a label value of at most %d bytes, got %zu", LABEL_VALUE_MAX,
                             n);
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return eir_error_set(err, EIR_EINVAL, field,
                                 "expected a label value without control characters, got one "
                                 "at byte %zu",
                                 i);
    return EIR_OK;
}

eir_status eir_json_check_labels(const json_t *labels, const char *ptr, eir_error *err)
{
    char got[JU_DESC_MAX], field[EIR_FIELD_MAX];
    const char *key;
    json_t *val;
    if (!ptr) ptr = "/labels";
    if (!labels) return EIR_OK;
    if (!json_is_object(labels)) {
        ju_describe(labels, got);
        return eir_error_set(err, EIR_EINVAL, ptr,
                             "expected an object of labels {\"key\": \"value\"}, got %s", got);
    }
    if (json_object_size(labels) > LABELS_MAX_MEMBERS)
        return eir_error_set(err, EIR_EINVAL, ptr, "expected at most %d labels, got %zu",
                             LABELS_MAX_MEMBERS, json_object_size(labels));
    json_object_foreach((json_t *)labels, key, val)
    {
        ju_ptr_key(field, ptr, key);
        if (check_key(key, field, err) || check_value(val, field, err)) return EIR_EINVAL;
    }
    return EIR_OK;
}
