#!/usr/bin/env python3
"""security/routes: with a token set, every /v1 route of schema/openapi.json refuses requests
without it or with a wrong one.

    routes.py --eirnnd PATH

Starts eirnnd with --token (through EIRNN_TOKEN), reads every path and method of the OpenAPI
document and sends each one (path parameters filled with well-formed ids, a JSON body for POST)
without an Authorization header, with a wrong bearer token, with a wrong token of the same
length, with the right token under another scheme (Basic), with an empty bearer token, and with
the token in the query string; every answer must be 401 application/problem+json with
WWW-Authenticate (error="invalid_token" when a token was given), and HEAD of GET routes too.
Operations whose OpenAPI security is empty (/healthz) must answer without a token. Also: /v1
paths and methods that do not exist answer 401 (not 404/405) without the token, the right token
is accepted (no 401), the token never appears in the daemon's log, and the image's Dockerfile
runs eirnnd as a non-root user. Exit 0 when all hold.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, http  # noqa: E402

TOKEN = "s3cret-Token-for-security-routes-0123456789"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def fill(path):
    return (path.replace("{id}", "r_0123456789abcdef01234567" if "/runs/" in path
                         else "m_0123456789abcdef01234567").replace("{var}", "V"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", default=os.environ.get("EIRNND_BIN"))
    a = ap.parse_args()
    with open(os.path.join(ROOT, "schema", "openapi.json")) as f:
        doc = json.load(f)
    top_security = doc.get("security", [])
    ops = []
    for path, item in doc["paths"].items():
        for m, op in item.items():
            if m in METHODS:
                sec = op.get("security", top_security)
                ops.append((m.upper(), path, bool(sec)))
    bad, checked = [], 0
    d = Daemon(a.eirnnd, ["--workers", "0"], env={"EIRNN_TOKEN": TOKEN})
    try:
        wrong_same_len = "x" * len(TOKEN)
        variants = [
            ("no Authorization", [], False),
            ("wrong bearer token", [("Authorization", "Bearer wrong")], True),
            ("wrong token of the same length", [("Authorization", "Bearer " + wrong_same_len)], True),
            ("token prefix", [("Authorization", "Bearer " + TOKEN[:-1])], True),
            ("token plus a character", [("Authorization", "Bearer " + TOKEN + "x")], True),
            ("Basic scheme", [("Authorization", "Basic " + TOKEN)], True),
            ("empty bearer", [("Authorization", "Bearer ")], True),
            ("bare token", [("Authorization", TOKEN)], True),
            ("token in X-Api-Key", [("X-Api-Key", TOKEN)], False),
        ]
        body = json.dumps({"model_id": "m_0123456789abcdef01234567", "dt": 0.1,
                           "inputs": {"steps": 1, "trials": 1}})
        protected = [(m, p) for m, p, sec in ops if sec]
        if not any(p.startswith("/v1/") for _, p in protected):
            bad.append("the OpenAPI document lists no protected /v1 route")
        for method, path, secured in ops:
            url = fill(path)
            if not secured:
                r = http(d.port, method, url)
                checked += 1
                if r.status == 401:
                    bad.append("%s %s needs no token per the OpenAPI document, got 401" % (method, path))
                continue
            if not (path.startswith("/v1/") or path == "/metrics"):
                bad.append("%s %s is protected but not under /v1" % (method, path))
            tries = [(method, url)]
            if method == "GET":
                tries.append(("HEAD", url))
                tries.append((method, url + "?token=" + TOKEN + "&access_token=" + TOKEN))
            for m, u in tries:
                for label, headers, had in variants:
                    r = http(d.port, m, u, body if m == "POST" else None, headers)
                    checked += 1
                    what = "%s %s (%s)" % (m, path, label)
                    if r.status != 401:
                        bad.append("%s: %d, expected 401" % (what, r.status))
                        continue
                    ct = (r.header("Content-Type") or "").split(";")[0]
                    if ct != "application/problem+json":
                        bad.append("%s: content type %r" % (what, ct))
                    if m != "HEAD":
                        p = json.loads(r.body)
                        if p.get("type") != "urn:eirnn:problem:unauthorized" or p.get("status") != 401:
                            bad.append("%s: problem %r" % (what, p))
                    wa = r.header("WWW-Authenticate") or ""
                    if not wa.startswith("Bearer"):
                        bad.append("%s: WWW-Authenticate %r" % (what, wa))
                    if had and 'error="invalid_token"' not in wa:
                        bad.append("%s: WWW-Authenticate without invalid_token: %r" % (what, wa))
            # the right token is accepted by the same route
            r = http(d.port, method, url, body if method == "POST" else None,
                     [("Authorization", "Bearer " + TOKEN)])
            checked += 1
            if r.status == 401:
                bad.append("%s %s: 401 with the right token" % (method, path))
        # paths and methods the document does not have: 401 before 404/405
        for m, u in [("GET", "/v1/nothing"), ("GET", "/v1"), ("GET", "/v1/"), ("PATCH", "/v1/runs"),
                     ("BREW", "/v1/models"), ("GET", "/v1/runs/%2e%2e/results"),
                     ("DELETE", "/v1/openapi.json"), ("GET", "/metrics/x")]:
            r = http(d.port, m, u)
            checked += 1
            exp = 404 if u == "/metrics/x" else 401
            if r.status != exp:
                bad.append("%s %s without a token: %d, expected %d" % (m, u, r.status, exp))
        r = http(d.port, "GET", "/healthz")
        checked += 1
        if r.status != 200:
            bad.append("/healthz without a token: %d" % r.status)
    finally:
        rc = d.stop()
    log = "".join(d.log)
    if TOKEN in log:
        bad.append("the token appears in the daemon's log")
    if rc != 0:
        bad.append("eirnnd exited %s at SIGTERM" % rc)
    # the image runs eirnnd as a non-root user
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        users = re.findall(r"^\s*USER\s+(\S+)", f.read(), re.M)
    if not users or users[-1] in ("root", "0", "0:0"):
        bad.append("the Dockerfile's last USER is %r: eirnnd must not run as root" %
                   (users[-1] if users else None))
    for b in bad:
        print("security/routes: FAIL: " + b)
    print("security/routes: %d operations from openapi.json (%d protected), %d requests, %d "
          "failures; Dockerfile USER %s" % (len(ops), sum(1 for o in ops if o[2]), checked,
                                            len(bad), users[-1] if users else None))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
