#!/usr/bin/env python3
"""Send every case of tests/bad_inputs/cases/ to a live eirnnd and check the answers.

    run_catalogue.py --eirnnd build/server/eirnnd [--cases DIR] [-k SUBSTRING] [-v]
                     [--report FILE.json]

The daemon is started on 127.0.0.1 port 0 with a temporary database and small limits (so that
the "beyond the limits" cases are cheap). Each case is sent over a raw socket (so that lying
Content-Length headers and broken framing can be sent), its answer checked (status, content type
application/problem+json, problem type, "field" JSON pointer, "parameter"), and then GET /healthz
must answer 200 on a new connection and the process must still be alive. At the end the daemon
is stopped with SIGTERM and must exit 0. Exit status: 0 when every case passed.
Python standard library only.
"""
import argparse
import base64
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, exchange, time_scale  # noqa: E402
CONN_TIMEOUT = 2  # --connection-timeout of the daemon under test
LIMIT_FLAGS = ["--workers", "1", "--max-neurons", "64", "--max-steps", "1000",
               "--max-trials", "8", "--max-recorded-values", "100000",
               "--max-body-bytes", "1M", "--queue-limit", "50",
               "--connection-timeout", str(CONN_TIMEOUT), "--long-poll-max", "2",
               "--http-threads", "2"]


# ---- cases ------------------------------------------------------------------------------------

def expand(v, subst):
    if isinstance(v, dict) and "$parts" in v:
        out = []
        for piece in v["$parts"]:
            text, count = piece[0], piece[1]
            if len(piece) > 2 and piece[2]:
                out.append("".join(text.replace("{i}", str(i)) for i in range(count)))
            else:
                out.append(text * count)
        return subst("".join(out))
    if isinstance(v, str):
        return subst(v)
    if isinstance(v, list):
        return [expand(x, subst) for x in v]
    if isinstance(v, dict):
        return {k: expand(x, subst) for k, x in v.items()}
    return v


def build(req, subst):
    """The bytes of a case's request."""
    if "raw" in req:
        return expand(req["raw"], subst).encode("utf-8")
    method = req.get("method", "GET")
    path = expand(req["path"], subst)
    headers = expand(req.get("headers", {}), subst)
    body = None
    if "body_json" in req:
        body = json.dumps(expand(req["body_json"], subst), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    elif "body" in req:
        body = expand(req["body"], subst).encode("utf-8")
    elif "body_b64" in req:
        body = base64.b64decode(req["body_b64"])
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    lines += ["%s: %s" % (k, v) for k, v in headers.items()]
    lines.append("Connection: close")
    out_body = b""
    if req.get("chunked"):
        lines.append("Transfer-Encoding: chunked")
        b = body or b""
        parts = []
        for i in range(0, len(b), 65536):
            c = b[i:i + 65536]
            parts.append(b"%x\r\n" % len(c) + c + b"\r\n")
        out_body = b"".join(parts) + b"0\r\n\r\n"
    elif body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: %d" % len(body or b""))
        out_body = body or b""
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + out_body


def check(case, resp, closed, secs, err):
    """Problems with the answer to a case (a list of strings, empty when it passed)."""
    exp = case["expect"]
    want = exp.get("status")
    allowed = exp.get("status_any")
    bad = []
    if resp is None:
        if want is None and (allowed is None or None in allowed):
            if not closed and err != "timeout":
                bad.append("expected the connection to be closed, got error %s" % err)
            elif err == "timeout":
                bad.append("the daemon neither answered nor closed the connection")
            return bad
        return ["no answer (%s)" % (err or "connection closed")]
    st = resp.status
    if allowed is not None:
        if st not in allowed:
            bad.append("status %d not in %s" % (st, allowed))
    elif st != want:
        bad.append("status %d, expected %s" % (st, want))
    if 500 <= st < 600 and not exp.get("allow_5xx"):
        bad.append("a 5xx answer")
    ct = (resp.header("Content-Type") or "").split(";")[0].strip()
    is_problem = ct == "application/problem+json"
    if exp.get("problem") and not is_problem:
        bad.append("content type %r, expected application/problem+json" % ct)
    if is_problem:
        try:
            p = json.loads(resp.body.decode("utf-8"))
        except ValueError:
            return bad + ["problem body is not JSON: %r" % resp.body[:200]]
        if p.get("status") != st:
            bad.append("problem status %r differs from HTTP status %d" % (p.get("status"), st))
        for k in ("type", "title", "detail"):
            if not isinstance(p.get(k), str):
                bad.append("problem has no %s" % k)
        if exp.get("problem"):
            if "type" in exp and p.get("type") != "urn:eirnn:problem:" + exp["type"]:
                bad.append("type %r, expected %s" % (p.get("type"), exp["type"]))
            if not exp.get("field_any") and "field" in exp:
                got = p.get("field")
                if exp["field"] is None:
                    if got is not None:
                        bad.append("unexpected field %r" % got)
                elif exp.get("field_startswith"):
                    if not isinstance(got, str) or not got.startswith(exp["field"]):
                        bad.append("field %r, expected it to start with %r" % (got, exp["field"]))
                elif exp.get("field_prefix"):
                    if not isinstance(got, str) or not (got == exp["field"] or
                                                        got.startswith(exp["field"] + "/")):
                        bad.append("field %r, expected %s or below" % (got, exp["field"]))
                elif got != exp["field"]:
                    bad.append("field %r, expected %r" % (got, exp["field"]))
            if "parameter" in exp and p.get("parameter") != exp["parameter"]:
                bad.append("parameter %r, expected %r" % (p.get("parameter"), exp["parameter"]))
        if st == 405 and not resp.header("Allow"):
            bad.append("405 without Allow")
    return bad


def healthz(port):
    resp, _, _, err = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                               10 * time_scale())
    if resp is None or resp.status != 200:
        return "GET /healthz: %s" % (resp.status if resp else err or "no answer")
    try:
        if json.loads(resp.body.decode()).get("status") != "ok":
            return "GET /healthz: %r" % resp.body[:200]
    except ValueError:
        return "GET /healthz: not JSON"
    return None


def simple(port, method, path, body=None, headers=()):
    data = build({"method": method, "path": path, "headers": dict(headers),
                  **({"body": body} if body is not None else {})}, lambda s: s)
    resp, _, _, err = exchange(port, data, 30 * time_scale())
    if resp is None:
        raise RuntimeError("%s %s: %s" % (method, path, err))
    return resp


def setup(port, needed):
    """Create what the placeholders name; return the substitution function."""
    values = {}
    for ph in sorted(needed):
        path = os.path.join(ROOT, "schema", "examples", "requests", ph[7:] + ".json")
        if ph.startswith("$MODEL:") and os.path.exists(path):  # (a truncated body may cut one)
            with open(path) as f:
                r = simple(port, "POST", "/v1/models", f.read())
            if r.status != 201:
                raise RuntimeError("cannot create %s: %d %r" % (ph, r.status, r.body[:300]))
            values[ph] = json.loads(r.body)["id"]
    mid = values.get("$MODEL:model_gated_explicit")
    if "$RUN:done" in needed or "$IDEM_KEY" in needed:
        if not mid:
            with open(os.path.join(ROOT, "schema/examples/requests/model_gated_explicit.json")) as f:
                mid = json.loads(simple(port, "POST", "/v1/models", f.read()).body)["id"]
        run = {"model_id": mid, "dt": 0.1, "inputs": {"steps": 10, "trials": 1}}
        r = simple(port, "POST", "/v1/runs", json.dumps(run),
                   [("Idempotency-Key", "catalogue-key")])
        if r.status != 202:
            raise RuntimeError("cannot submit a run: %d %r" % (r.status, r.body[:300]))
        rid = json.loads(r.body)["id"]
        for _ in range(100):
            st = json.loads(simple(port, "GET", "/v1/runs/%s?wait=1" % rid).body)["status"]
            if st == "succeeded":
                break
        else:
            raise RuntimeError("the setup run did not succeed")
        values["$RUN:done"] = rid
        values["$IDEM_KEY"] = "catalogue-key"

    def subst(s):
        for k, v in values.items():
            if k in s:
                s = s.replace(k, v)
        return s
    return subst


PLACEHOLDER = re.compile(r"\$(?:MODEL:[A-Za-z0-9_]+|RUN:done|IDEM_KEY)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"), help="the daemon binary")
    ap.add_argument("--cases", default=os.path.join(HERE, "cases"))
    ap.add_argument("-k", default="", help="only cases whose file name contains this")
    ap.add_argument("-v", action="store_true", help="print every case")
    ap.add_argument("--report", help="write a JSON summary here")
    a = ap.parse_args()
    if not a.eirnnd:
        sys.exit("run_catalogue.py: --eirnnd (or EIRNND_BIN) is required")
    files = sorted(f for f in os.listdir(a.cases) if f.endswith(".json") and a.k in f)
    cases = []
    for f in files:
        with open(os.path.join(a.cases, f), encoding="utf-8") as fh:
            cases.append((f, json.load(fh)))
    needed = set()
    for _, c in cases:
        needed.update(PLACEHOLDER.findall(json.dumps(c["request"], ensure_ascii=False)))

    d = Daemon(a.eirnnd, LIMIT_FLAGS)
    failures, times, statuses = [], [], {}
    t_all = time.monotonic()
    try:
        subst = setup(d.port, needed)
        for name, case in cases:
            req = case["request"]
            data = build(req, subst)
            timeout = CONN_TIMEOUT + 8 * time_scale()
            resp, closed, secs, err = exchange(d.port, data, timeout, req.get("after_send"),
                                               head=req.get("method") == "HEAD")
            bad = check(case, resp, closed, secs, err)
            h = healthz(d.port)
            if h:
                bad.append(h)
            if not d.alive():
                bad.append("the daemon died (exit %s)" % d.proc.returncode)
            key = resp.status if resp else "closed"
            statuses[key] = statuses.get(key, 0) + 1
            times.append((secs, name))
            if a.v or bad:
                detail = ""
                if resp is not None and bad:
                    detail = " body=%r" % resp.body[:300]
                print("%s %-50s %s %.3fs%s%s" % ("FAIL" if bad else "ok  ", name,
                                                  resp.status if resp else "-", secs,
                                                  (" — " + "; ".join(bad)) if bad else "", detail))
            if bad:
                failures.append((name, bad))
            if not d.alive():
                break
    finally:
        rc = d.stop()
    log = "".join(d.log)
    if rc != 0:
        failures.append(("(shutdown)", ["eirnnd exited %s after SIGTERM" % rc]))
    for marker in ("Sanitizer", "runtime error:", "LeakSanitizer"):
        if marker in log:
            failures.append(("(log)", ["the daemon's stderr holds a %s report" % marker]))
    elapsed = time.monotonic() - t_all
    times.sort(reverse=True)
    print("bad_inputs: %d cases, %d passed, %d failed, /healthz checked after each, %.1f s; "
          "answers: %s; slowest: %s" % (
              len(cases), len(cases) - len([f for f in failures if not f[0].startswith("(")]),
              len(failures), elapsed,
              ", ".join("%s×%d" % (k, v) for k, v in sorted(statuses.items(), key=str)),
              ", ".join("%s %.2fs" % (n, s) for s, n in times[:3])))
    if a.report:
        with open(a.report, "w") as f:
            json.dump({"cases": len(cases), "failed": len(failures), "seconds": round(elapsed, 1),
                       "statuses": {str(k): v for k, v in statuses.items()},
                       "failures": failures}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
