/**
 * @file eir_test_pg.h
 * @brief The tests' PostgreSQL: whether a test runs on it (EIRNN_TEST_STORE=pg), a fresh
 *        database per test on the ctest fixture's throwaway cluster (tests/pg/cluster.sh, whose
 *        base URL is in the file named by EIRNN_TEST_PG_URL_FILE), its removal, and one-value
 *        queries for checks the store's API does not show. libpq; no global state; every
 *        function may be called from any thread.
 *
 * Failures are reported on stderr (the test's output) with what to do, and returned as -1:
 * a test that asked for PostgreSQL fails rather than skips when there is none.
 */
#ifndef EIR_TEST_PG_H
#define EIR_TEST_PG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** 1 when the environment asks for the PostgreSQL store (EIRNN_TEST_STORE=pg), else 0. */
int eir_test_pg_wanted(void);

/**
 * A new, empty database on the fixture's cluster, named "eirt_" + 16 random hex digits: its
 * URL (the base URL with that database) into @p url of @p cap bytes. Returns 0, or -1 (message
 * on stderr, @p url "") when EIRNN_TEST_PG_URL_FILE is unset or unreadable, the URL does not
 * fit or the CREATE DATABASE failed.
 */
int eir_test_pg_newdb(char *url, size_t cap);

/**
 * Drop the database of @p url (made by eir_test_pg_newdb), ending its sessions first (DROP
 * DATABASE ... WITH (FORCE)), through a connection to the base URL's database. Returns 0, or
 * -1 with the reason on stderr (the database is then left to the cluster's removal).
 */
int eir_test_pg_dropdb(const char *url);

/**
 * Run @p sql (no parameters) on the database of @p url and put the first column of its first
 * row, as an integer, into @p out. Returns 0, or -1 with the reason on stderr when the
 * connection or the statement fails or the result has no row.
 */
int eir_test_pg_scalar(const char *url, const char *sql, int64_t *out);

/**
 * Run @p sql (no parameters, any number of statements) on the database of @p url. Returns 0,
 * or -1 with the reason on stderr.
 */
int eir_test_pg_exec(const char *url, const char *sql);

#ifdef __cplusplus
}
#endif
#endif /* EIR_TEST_PG_H */
