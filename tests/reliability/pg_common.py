"""Shared pieces of the PostgreSQL reliability drivers (pg_many_daemons.py, pg_long_poll.py,
pg_restart.py; docs/RELIABILITY.md, "Many daemons on one PostgreSQL"): where the test cluster
is, a fresh database on it (dropped at the end), psql queries, and ISO times of the API.
Standard library only; psql (Debian postgresql-client) runs the SQL."""

import datetime
import os
import subprocess
import sys
import urllib.parse
import uuid

SKIP = 77  # ctest SKIP_RETURN_CODE: no PostgreSQL was given to the test


def base_url(arg_url=None):
    """The base URL of the test cluster: @p arg_url (--pg-url), else the first line of the file
    named by EIRNN_TEST_PG_URL_FILE (the ctest fixture `pg` writes it). None when neither is
    given (the caller skips); raises when the variable names a file that cannot be read (the
    fixture failed: that is an error, not a skip)."""
    if arg_url:
        return arg_url
    path = os.environ.get("EIRNN_TEST_PG_URL_FILE", "")
    if not path:
        return None
    with open(path) as f:
        url = f.readline().strip()
    if not url.startswith(("postgresql://", "postgres://")):
        raise RuntimeError("%s holds no postgresql:// URL: %r" % (path, url))
    return url


def with_dbname(url, name):
    """@p url naming database @p name instead of its own (query parameters kept)."""
    p = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def psql(url, sql, timeout=120):
    """Run @p sql with psql on @p url; returns the rows as lists of strings (unaligned, fields
    separated by the unit separator). Raises RuntimeError with psql's message on failure."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                          "-d", url, "-c", sql], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("psql %s: %s" % (sql[:120], out.stderr.strip()))
    return [line.split("\x1f") for line in out.stdout.splitlines() if line != ""]


class NewDb:
    """A fresh database on the cluster of @p base (named <prefix>_<pid>_<hex>), dropped by
    drop() (WITH (FORCE): sessions still open are ended)."""

    def __init__(self, base, prefix):
        self.base = base
        self.name = "%s_%d_%s" % (prefix, os.getpid(), uuid.uuid4().hex[:8])
        psql(base, 'CREATE DATABASE "%s"' % self.name)
        self.url = with_dbname(base, self.name)

    def drop(self):
        try:
            psql(self.base, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print("could not drop database %s: %s" % (self.name, e), file=sys.stderr)


def parse_time(iso):
    """Seconds since the epoch of an API time ("2026-11-28T11:41:13.228Z")."""
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def claimant_pid(claimant):
    """The pid in a default claimant name "<hostname>:<pid>:<8 hex>" (None if not that form)."""
    parts = claimant.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1])
