/**
 * @file store_migrations.h
 * @brief The SQL migrations of schema/migrations/, embedded at build time
 *        (embed_migrations.cmake generates the definitions).
 */
#ifndef EIR_STORE_MIGRATIONS_H
#define EIR_STORE_MIGRATIONS_H

#include <stddef.h>

/** One migration: the file NNN_name.sql becomes version NNN. */
struct store_migration {
    int version;      /**< 1, 2, ... without gaps, in array order */
    const char *name; /**< file name, for messages */
    const char *sql;  /**< the file's text, NUL-terminated */
};

extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

#endif /* EIR_STORE_MIGRATIONS_H */
