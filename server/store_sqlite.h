/**
 * @file store_sqlite.h
 * @brief The SQLite backend of store.h (WAL mode, one connection per thread).
 *
 * Most code opens it through store_open("sqlite:PATH" or "PATH"); this header is for tests and
 * diagnostics that need the backend itself.
 */
#ifndef EIR_STORE_SQLITE_H
#define EIR_STORE_SQLITE_H

#include <sqlite3.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Open (creating if missing) the SQLite database at @p path, switch it to WAL mode and apply
 * the embedded migrations it lacks, in one transaction. @p cfg NULL means defaults.
 * Returns NULL with a message in @p err on failure (nothing is left open; a failed migration
 * leaves the database as it was).
 */
store *store_sqlite_open(const char *path, const store_config *cfg, char *err, size_t errlen);

/**
 * The SQLite handle behind @p c, opening it if needed; NULL when @p c is not an SQLite
 * connection or cannot be opened (see store_errmsg()). For tests and diagnostics: statements
 * run on it share the connection's transaction state.
 */
sqlite3 *store_sqlite_db(store_conn *c);

/** Counters of the group sync of the WAL (docs/STORE.md, "Durability"). */
typedef struct store_sqlite_sync_stats {
    uint64_t durable_commits; /**< commits that waited for stable storage */
    uint64_t synced;          /**< how many of them are known to be on stable storage */
    uint64_t syncs;           /**< WAL syncs made for them (fewer when commits shared one) */
} store_sqlite_sync_stats;

/** The group-sync counters of an SQLite store (zeros for another backend). For tests and
 *  diagnostics. */
void store_sqlite_sync_stats_get(store *s, store_sqlite_sync_stats *out);

/** Highest schema version (PRAGMA user_version) this build knows. */
int store_sqlite_schema_version(void);

#ifdef __cplusplus
}
#endif
#endif /* EIR_STORE_SQLITE_H */
