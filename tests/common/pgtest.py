"""The Python tests' PostgreSQL (issue 14): whether the daemons of a test run on it
(EIRNN_TEST_STORE=pg, set by ctest for the tests api/pg/<name>, cli/pg/<name>), and a fresh
database per daemon on the tests' throwaway cluster (tests/pg/cluster.sh, started by the ctest
fixture pg; its base URL is in the file named by EIRNN_TEST_PG_URL_FILE). Uses Debian's psql
(postgresql, scripts/deps.sh test); standard library only.

    db = pgtest.daemon_db(tmpdir)   # --db for a new daemon: a file in tmpdir, or a new database
    ...
    pgtest.drop(db)                 # the database gone (nothing to do for a file)
"""
import glob
import os
import re
import secrets
import shutil
import subprocess


def wanted():
    """True when the environment asks for the PostgreSQL store (EIRNN_TEST_STORE=pg)."""
    return os.environ.get("EIRNN_TEST_STORE", "") == "pg"


def base_url():
    """The cluster's base URL (postgresql://postgres@127.0.0.1:PORT/postgres); SystemExit with
    what to do when the fixture's file is not there."""
    path = os.environ.get("EIRNN_TEST_PG_URL_FILE", "")
    if not path:
        raise SystemExit("pgtest: EIRNN_TEST_PG_URL_FILE is not set (run the test with ctest, "
                         "whose fixture pg starts the cluster: tests/pg/cluster.sh)")
    try:
        with open(path) as f:
            url = f.readline().strip()
    except OSError as e:
        raise SystemExit("pgtest: %s: %s (did the ctest fixture pg/start pass?)" % (path, e))
    if not url:
        raise SystemExit("pgtest: %s is empty" % path)
    return url


def psql():
    """The psql of the newest /usr/lib/postgresql/*/bin (the server's), else the one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"),
                   key=lambda p: [int(x) for x in re.findall(r"\d+", p)])
    if found:
        return found[-1]
    p = shutil.which("psql")
    if not p:
        raise SystemExit("pgtest: psql is not installed (scripts/deps.sh test installs postgresql)")
    return p


def with_database(url, name):
    """@p url with its database (the path after the host) replaced by @p name."""
    m = re.match(r"^([a-z]+://[^/?]*)(/[^?]*)?(\?.*)?$", url)
    if not m:
        raise SystemExit("pgtest: %s: not a postgresql:// URL" % url)
    return m.group(1) + "/" + name + (m.group(3) or "")


def run_sql(url, sql):
    """Run @p sql on the database of @p url; its output (unaligned, tuples only). SystemExit with
    psql's message when it fails."""
    r = subprocess.run([psql(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url,
                        "-c", sql], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise SystemExit("pgtest: %s: %s" % (sql, r.stderr.strip()))
    return r.stdout


def newdb():
    """A new, empty database on the cluster, named eirt_ + 16 random hex digits: its URL."""
    name = "eirt_" + secrets.token_hex(8)
    base = base_url()
    run_sql(base, "CREATE DATABASE " + name)  # name: letters, digits and _ only
    return with_database(base, name)


def dropdb(url):
    """Drop the database of @p url (made by newdb()), ending its sessions first."""
    m = re.match(r"^[a-z]+://[^/?]*/(eirt_[0-9a-f]+)(\?.*)?$", url)
    if not m:
        raise SystemExit("pgtest: %s: not a database of pgtest.newdb()" % url)
    run_sql(base_url(), "DROP DATABASE IF EXISTS %s WITH (FORCE)" % m.group(1))


def daemon_db(directory):
    """--db for a new daemon: a new database on PostgreSQL (EIRNN_TEST_STORE=pg), else the file
    eirnn.db in @p directory."""
    return newdb() if wanted() else os.path.join(directory, "eirnn.db")


def drop(db):
    """Remove what daemon_db() made: the PostgreSQL database (a file is left to its directory's
    owner). Errors are reported, not raised: the cluster's removal (pg/stop) takes what is left."""
    if re.match(r"^postgres(ql)?://", db or ""):
        try:
            dropdb(db)
        except (SystemExit, OSError, subprocess.SubprocessError) as e:
            print("pgtest: could not drop %s: %s" % (db, e))
