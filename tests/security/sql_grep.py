#!/usr/bin/env python3
"""security/sql_grep: no SQL is built from request text in the C sources.

    sql_grep.py [--root DIR] [-v]

Scans the C sources of the daemon, the engine, the schema parser and the CLI (server/, engine/,
schema/src/, clients/; tests and fuzz harnesses are not part of the product) for:

 1. every call that hands SQL text to SQLite or PostgreSQL (sqlite3_exec, sqlite3_prepare*,
    libpq's PQexec, PQexecParams, PQprepare, PQsendQuery*, and — found by
    following parameters — every function that passes one of its own parameters on as that
    SQL text, e.g. a wrapper `exec_fixed(db, sql)`): the SQL argument must be a string literal,
    a macro of literals, or an element of a constant table of literals (`static const char
    *const stmt_sql[] = {"...", ...}`, a file's `static const char name[] = "...";`, or the
    build-time table of migrations). Anything else —
    a local buffer, a pointer computed at run time — is a violation;
 2. every printf-style formatting call (snprintf, sprintf, asprintf, vsnprintf, sqlite3_mprintf,
    sqlite3_snprintf, sqlite3_vmprintf, sqlite3_str_appendf) whose format string starts with an
    SQL keyword (SELECT, INSERT, UPDATE, DELETE, PRAGMA, CREATE, ...): SQL assembled with %s is
    where injection comes from.

Values reach SQL through sqlite3_bind_* (SQLite) and statement parameters (libpq) only. The few statements that are formatted from
integers of the configuration (not from requests) are listed, with the reason, in
tests/security/sql_allowlist.txt; an entry that matches nothing fails the test too (so the list
cannot rot). Before scanning, the checker proves on built-in bad snippets that it catches each
kind of violation. Exit 0 when there is none.
"""
import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCAN_DIRS = ["server", "engine", "schema/src", "schema/include", "clients"]
SINKS = {"sqlite3_exec": 1, "sqlite3_prepare": 1, "sqlite3_prepare_v2": 1, "sqlite3_prepare_v3": 1,
         "sqlite3_prepare16": 1, "sqlite3_prepare16_v2": 1, "sqlite3_prepare16_v3": 1,
         "PQexec": 1, "PQexecParams": 1, "PQprepare": 2, "PQsendQuery": 1,
         "PQsendQueryParams": 1, "PQsendPrepare": 2}
FORMATTERS = {"snprintf": 2, "sprintf": 1, "asprintf": 1, "vsnprintf": 2, "vsprintf": 1,
              "vasprintf": 1, "sqlite3_mprintf": 0, "sqlite3_vmprintf": 0, "sqlite3_snprintf": 2,
              "sqlite3_vsnprintf": 2, "sqlite3_str_appendf": 1}
SQL_WORD = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|PRAGMA|CREATE|DROP|ALTER|REPLACE|WITH|"
                      r"BEGIN|COMMIT|ROLLBACK|ATTACH|DETACH|VACUUM|ANALYZE|REINDEX|SAVEPOINT|"
                      r"RELEASE|EXPLAIN|UPSERT)\b", re.I)
STRING_RE = r'"(?:[^"\\\n]|\\.)*"'


def strip_comments(text):
    """Blank out comments (keeping newlines and string/char literals) so positions stay valid."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def match_paren(text, i):
    """Index of the ')' closing the '(' at i (strings skipped), or -1."""
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def split_args(s):
    args, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c in "\"'":
            j = i + 1
            while j < len(s) and s[j] != c:
                j += 2 if s[j] == "\\" else 1
            cur.append(s[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur or args:
        args.append("".join(cur).strip())
    return args


class Source:
    def __init__(self, path, text):
        self.path = path
        self.raw = text
        self.text = strip_comments(text)
        self.functions = self._functions()

    def line_of(self, pos):
        return self.text.count("\n", 0, pos) + 1

    def _functions(self):
        """[(name, params, body_start, body_end)] of the function definitions."""
        out, t, i, depth = [], self.text, 0, 0
        while i < len(t):
            c = t[i]
            if c in "\"'":
                j = i + 1
                while j < len(t) and t[j] != c:
                    j += 2 if t[j] == "\\" else 1
                i = j + 1
                continue
            if c == "{":
                if depth == 0:
                    m = re.search(r"(\w+)\s*\(([^;{}]*)\)\s*(?:__attribute__\s*\(\(.*?\)\)\s*)?$",
                                  t[max(0, i - 2000):i], re.S)
                    end = match_paren(t, i)
                    if m and m.group(1) not in ("if", "for", "while", "switch", "sizeof"):
                        params = [p.strip() for p in split_args(m.group(2))]
                        names = []
                        for p in params:
                            pm = re.search(r"(\w+)\s*(?:\[[^\]]*\])?$", p)
                            names.append(pm.group(1) if pm else "")
                        out.append((m.group(1), names, i, end))
                    i = end + 1 if end > 0 else i + 1
                    continue
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        return out

    def function_at(self, pos):
        for f in self.functions:
            if f[2] <= pos <= f[3]:
                return f
        return None

    def calls(self, name):
        for m in re.finditer(r"\b%s\s*\(" % re.escape(name), self.text):
            start = m.end() - 1
            end = match_paren(self.text, start)
            if end < 0:
                continue
            # a definition or declaration is not a call
            before = self.text[max(0, m.start() - 80):m.start()]
            if re.search(r"\b(?:static|extern|int|void|char|size_t|int64_t|store_status|"
                         r"sqlite3_stmt|eir_status|PGresult)\s*\**\s*$", before) and \
                    self.text[end + 1:end + 40].lstrip()[:1] in ("{", ";"):
                continue
            yield m.start(), split_args(self.text[start + 1:end])


def is_literal(expr, macros=()):
    """Whether expr is string literals, concatenated, possibly with macros that are literals."""
    e = expr.strip()
    while e.startswith("(") and match_paren(e, 0) == len(e) - 1:
        e = e[1:-1].strip()
    parts = re.findall(r'\s*(?:%s|\w+)\s*' % STRING_RE, e)
    if not parts or "".join(parts).strip() != e:
        return False
    return any(p.strip().startswith('"') for p in parts) and all(
        p.strip().startswith('"') or p.strip() in macros or re.match(r"PRI[diux]64$", p.strip())
        for p in parts)


class Checker:
    def __init__(self, sources):
        self.sources = sources
        self.macros, self.const_tables, self.const_struct_tables = {}, set(), set()
        for _ in range(2):  # macros made of macros
            for s in sources:
                joined = re.sub(r"\\\n", " ", s.text)  # continuation lines
                for m in re.finditer(r"^\s*#\s*define\s+(\w+)\s+(.+)$", joined, re.M):
                    if is_literal(m.group(2), self.macros):
                        self.macros[m.group(1)] = m.group(2)
        for s in sources:
            for m in re.finditer(r"static\s+const\s+char\s*\*\s*const\s+(\w+)\s*\[[^\]]*\]\s*=\s*\{",
                                 s.text):
                end = match_paren(s.text, m.end() - 1)
                body = s.text[m.end():end]
                items = [re.sub(r"^\[[^\]]*\]\s*=\s*", "", x) for x in split_args(body) if x]
                if items and all(is_literal(x, self.macros) or x in ("NULL", "0") for x in items):
                    self.const_tables.add(m.group(1))
            for m in re.finditer(r"\bconst\s+struct\s+\w+\s+(\w+)\s*\[\s*\]", s.text):
                self.const_struct_tables.add(m.group(1))
            # static const char name[] = "..." "...";  (a constant string: this file only)
            s.const_strings = set()
            for m in re.finditer(r"^static\s+const\s+char\s+(\w+)\s*\[\s*\]\s*=\s*([^;]+);",
                                 s.text, re.M):
                if is_literal(m.group(2), self.macros):
                    s.const_strings.add(m.group(1))

    def classify(self, src, pos, expr):
        """'const', ('param', index) or ('bad', why) for a SQL argument at pos."""
        e = expr.strip()
        if is_literal(e, self.macros):
            return "const"
        if e in self.macros or e in getattr(src, "const_strings", ()):
            return "const"
        m = re.match(r"^(\w+)\s*\[[^\]]*\]$", e)
        if m and m.group(1) in self.const_tables:
            return "const"
        m = re.match(r"^(\w+)\s*\[[^\]]*\]\s*\.\s*\w+$", e)
        if m and m.group(1) in self.const_struct_tables:
            return "const"
        f = src.function_at(pos)
        if re.match(r"^\w+$", e) and f:
            name, params, b0, b1 = f
            if e in params:
                return ("param", params.index(e))
            body = src.text[b0:pos]
            built = re.search(r"\b(?:%s|strcpy|strcat|strncpy|strncat|memcpy)\s*\(\s*&?\s*%s\b" %
                              ("|".join(FORMATTERS), re.escape(e)), body)
            if built:
                return ("bad", "SQL text built at run time in '%s' (line %d)" %
                        (e, src.line_of(b0 + built.start())))
            decl = re.search(r"\bconst\s+char\s*\*\s*(?:const\s+)?%s\s*=\s*([^;]+);" % re.escape(e), body)
            if decl and all(is_literal(x, self.macros) for x in re.split(r"[?:]", decl.group(1))[1:] or [decl.group(1)]):
                return "const"
        return ("bad", "SQL argument %r is not a string literal or a constant" % e)

    def run(self):
        """[(path, line, function, statement, why)] of the violations."""
        found = []
        sinks = dict(SINKS)
        derived = {}
        done = set()
        work = list(sinks.items())
        while work:
            name, idx = work.pop()
            if (name, idx) in done:
                continue
            done.add((name, idx))
            for src in self.sources:
                for pos, args in src.calls(name):
                    if idx >= len(args):
                        continue
                    c = self.classify(src, pos, args[idx])
                    f = src.function_at(pos)
                    if isinstance(c, tuple) and c[0] == "param":
                        wrapper = f[0]
                        sinks[wrapper] = c[1]
                        derived.setdefault(wrapper, (src, pos, name))
                        work.append((wrapper, c[1]))
                    elif isinstance(c, tuple):
                        found.append((src.path, src.line_of(pos), f[0] if f else "?",
                                      stmt_line(src, pos), c[1] + " (via %s)" % name))
        # A function that passes a parameter on as SQL is judged at its callers; one that is
        # never called by name, or whose address is taken (a store's function table), has
        # callers this check cannot see: its parameter may be anything.
        for wrapper, (src, pos, via) in derived.items():
            ncalls, taken = 0, False
            for s2 in self.sources:
                ncalls += sum(1 for _ in s2.calls(wrapper))
                for m in re.finditer(r"\b%s\b(?!\s*\()" % re.escape(wrapper), s2.text):
                    taken = True
            if ncalls == 0 or taken:
                f = src.function_at(pos)
                found.append((src.path, src.line_of(pos), wrapper, stmt_line(src, pos),
                              "SQL taken from a parameter of %s(), which is %s (via %s)" %
                              (wrapper, "called through a pointer" if taken else "never called "
                               "directly", via)))
        for src in self.sources:
            for name, fi in FORMATTERS.items():
                for pos, args in src.calls(name):
                    if fi < len(args):
                        lits = re.findall(STRING_RE, args[fi])
                        if lits and SQL_WORD.match(bytes(lits[0][1:-1], "utf-8").decode("unicode_escape")):
                            f = src.function_at(pos)
                            fmt = "".join(x[1:-1] for x in lits)
                            # text conversions can never be excused, whatever the allowlist says
                            text = re.search(r"%[-+ #0-9.*]*(?:l|ll|z|j|h)?[sqQwc]", fmt)
                            found.append((src.path, src.line_of(pos), f[0] if f else "?",
                                          stmt_line(src, pos), "SQL formatted with %s%s" % (
                                              name, " from text (%s)" % text.group(0) if text else ""),
                                          bool(text)))
        self.sinks = sinks
        return found


def stmt_line(src, pos):
    line_start = src.text.rfind("\n", 0, pos) + 1
    line_end = src.text.find("\n", pos)
    return " ".join(src.text[line_start:line_end].split())


def load_allowlist(path):
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(" | ")
            if len(parts) != 4:
                sys.exit("%s:%d: expected 'file | function | statement | reason'" % (path, n))
            entries.append([p.strip() for p in parts] + [0])
    return entries


SELF_TEST = r'''
static int run_sql(sqlite3 *db, const char *text) { return sqlite3_exec(db, text, 0, 0, 0); }
static void bad1(sqlite3 *db, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT * FROM runs WHERE id = '%s'", id);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, sql, -1, &s, NULL);
}
static void bad2(sqlite3 *db, const char *from_request) { run_sql(db, from_request); }
static void ok(sqlite3 *db) { run_sql(db, "BEGIN IMMEDIATE"); }
static void bad3(sqlite3 *db, char *q) { char *t = sqlite3_mprintf("DELETE FROM runs WHERE id=%Q", q); sqlite3_exec(db, t, 0, 0, 0); }
static const char get_sql[] = "SELECT id FROM runs WHERE id = $1";
static PGresult *pq_run(PGconn *db, const char *sql) { return PQexecParams(db, sql, 0, 0, 0, 0, 0, 0); }
static void ok_pq(PGconn *db) { pq_run(db, get_sql); PQexec(db, "BEGIN"); }
static void bad4(PGconn *db, const char *id) { char q[99]; snprintf(q, sizeof q, "SELECT 1 WHERE '%s'", id); PQexec(db, q); }
static void bad5(PGconn *db, char *name) { pq_run(db, name); }
'''


def self_test():
    c = Checker([Source("<self-test>", SELF_TEST)])
    found = c.run()
    funcs = sorted(set(f[2] for f in found))
    want = ["bad1", "bad2", "bad3", "bad4", "bad5"]
    if funcs != want or "run_sql" not in c.sinks or "pq_run" not in c.sinks:
        sys.exit("sql_grep: the self-test did not find the planted violations: %s" % found)
    return len(found)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT)
    ap.add_argument("--allowlist", default=os.path.join(HERE, "sql_allowlist.txt"))
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    planted = self_test()
    sources = []
    for d in SCAN_DIRS:
        for dp, dn, fn in os.walk(os.path.join(a.root, d)):
            dn[:] = [x for x in dn if not x.startswith("build")]
            for f in sorted(fn):
                if f.endswith((".c", ".h")):
                    p = os.path.join(dp, f)
                    with open(p, encoding="utf-8", errors="replace") as fh:
                        sources.append(Source(os.path.relpath(p, a.root), fh.read()))
    checker = Checker(sources)
    found = checker.run()
    allow = load_allowlist(a.allowlist)
    violations, allowed = [], []
    for v in found:
        hit = None
        for e in allow:
            if len(v) > 5 and v[5]:
                break  # SQL formatted from text: never allowed
            if e[0] == v[0] and e[1] == v[2] and " ".join(e[2].split()) in v[3]:
                hit = e
                break
        if hit:
            hit[4] += 1
            allowed.append((v, hit[3]))
        else:
            violations.append(v)
    stale = [e for e in allow if e[4] == 0]
    nsink_calls = sum(1 for s in sources for n in checker.sinks for _ in s.calls(n))
    for v, why in allowed:
        if a.v:
            print("allowed  %s:%d %s(): %s — %s" % (v[0], v[1], v[2], v[4], why))
    for v in violations:
        print("VIOLATION %s:%d in %s(): %s\n          %s" % (v[0], v[1], v[2], v[4], v[3]))
    for e in stale:
        print("STALE allowlist entry (matches nothing; remove it): %s | %s | %s" % tuple(e[:3]))
    print("sql_grep: %d C files, %d calls handing SQL to SQLite or libpq (sinks: %s), %d reviewed "
          "exceptions (sql_allowlist.txt), %d violations; self-test caught %d planted ones" % (
              len(sources), nsink_calls, ", ".join(sorted(n for n in checker.sinks if n not in SINKS)) or "-",
              len(allowed), len(violations) + len(stale), planted))
    return 1 if violations or stale else 0


if __name__ == "__main__":
    sys.exit(main())
