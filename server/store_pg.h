/**
 * @file store_pg.h
 * @brief The PostgreSQL backend of store.h (libpq): many eirnnd daemons on one database
 *        (docs/STORE.md, "PostgreSQL").
 *
 * store_open() picks it for a spec starting "postgresql://" or "postgres://"; this header is
 * for the few callers (tests, tools) that need the backend by name.
 */
#ifndef EIR_STORE_PG_H
#define EIR_STORE_PG_H

#include <stdint.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Open the PostgreSQL store at @p url (a libpq URI or connection string, any libpq
 * parameters): connects once, applies the migrations of schema/migrations_pg/ in one
 * transaction under an advisory lock (so daemons starting together migrate once) and makes the
 * connection pool (store_config::pool_size connections at most; none stay open after open).
 * @p cfg NULL means defaults; a NULL cfg->claimant gets "<hostname>:<pid>:<8 hex>".
 * Returns NULL with a message in @p err (@p errlen bytes, may be 0) when the database cannot be
 * reached, its schema is newer than this build, a migration fails, or memory runs out.
 */
store *store_pg_open(const char *url, const store_config *cfg, char *err, size_t errlen);

/** The connection string the store was opened with (for tests and tools that connect on their
 *  own, e.g. to read the claim audit); NULL when @p s is not a PostgreSQL store. The string
 *  may hold a password: never log it. */
const char *store_pg_url(const store *s);

/** This store's claimant name (config's, or the one made at open); NULL when @p s is not a
 *  PostgreSQL store. */
const char *store_pg_claimant(const store *s);

/** Highest schema version (schema_migrations) this build knows. */
int store_pg_schema_version(void);

/** Pool counters, for tests and /metrics. */
typedef struct store_pg_pool_stats {
    int size;         /**< most connections open at once */
    int open;         /**< connections open now (idle + borrowed) */
    int idle;         /**< connections waiting in the pool */
    uint64_t made;    /**< connections made so far */
    uint64_t dropped; /**< connections closed because they broke */
    uint64_t waits;   /**< borrows that had to wait for a connection */
} store_pg_pool_stats;

/** The pool counters of a PostgreSQL store (zeros for another backend). */
void store_pg_pool_stats_get(store *s, store_pg_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* EIR_STORE_PG_H */
