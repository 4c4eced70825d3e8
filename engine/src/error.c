/**
 * @file error.c
 * @brief Error reporting helpers shared by the engine and its callers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "eir.h"

eir_status eir_error_set(eir_error *err, eir_status status, const char *field, const char *fmt, ...)
{
    if (!err) return status;
    err->status = status;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

void eir_error_clear(eir_error *err)
{
    if (!err) return;
    err->status = EIR_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}

const char *eir_status_name(eir_status s)
{
    switch (s) {
    case EIR_OK:
        return "ok";
    case EIR_EINVAL:
        return "invalid";
    case EIR_ENOMEM:
        return "out of memory";
    case EIR_ECANCELLED:
        return "cancelled";
    case EIR_ENUMERIC:
        return "numeric";
    }
    return "unknown";
}
