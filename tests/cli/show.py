#!/usr/bin/env python3
"""cli/show: `eirnn runs|models|sweeps|analyses show ID` (docs/CLI.md) against the real eirnnd:
the resource as `get` prints it, then the address of its page in the web app.

    show.py --eirnn PATH --eirnnd PATH

1. Offline: `show` without an id exits 2; each command's --help lists `show`, and
   `<kind> show --help` describes the page line.
2. With a daemon: for a run, a stored model, a sweep and a spectrum analysis, `<kind> show ID`
   prints exactly what `<kind> get ID` prints and then one line `page: <base>/#/<kind>/ID`, with
   the base URL as the CLI was given it (its trailing slashes removed; `http://` added to a bare
   HOST:PORT); `--json <kind> show ID` is the server's resource with a member "page" (that
   address) added; an unknown id exits 4 and prints nothing on stdout.
Exit 0 when all hold.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon, time_scale, verdict  # noqa: E402

EIRNN = ""
KINDS = ("runs", "models", "sweeps", "analyses")
bad = []


def cli(*args, url=None):
    """Run eirnn; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRNN_")}
    if url:
        env["EIRNN_URL"] = url
    p = subprocess.run([EIRNN, *args], capture_output=True, text=True, env=env,
                       timeout=120 * time_scale())
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        bad.append(what)


def expect(args, code, url=None, contains=(), err_contains=None):
    rc, out, err = cli(*args, url=url)
    check(rc == code, f"eirnn {' '.join(args)}: exit {rc}, expected {code}; stderr: {err}")
    for c in ([contains] if isinstance(contains, str) else contains):
        check(c in out, f"eirnn {' '.join(args)}: '{c}' not in stdout: {out}")
    if err_contains is not None:
        check(err_contains in err, f"eirnn {' '.join(args)}: '{err_contains}' not in stderr: "
                                   f"{err}")
    return out


def get_json(url, path):
    with urllib.request.urlopen(url + path, timeout=60 * time_scale()) as r:
        return json.loads(r.read().decode("utf-8"))


def offline():
    for kind in KINDS:
        expect([kind, "show"], 2, err_contains="show")
        expect([kind, "--help"], 0, contains=f"eirnn {kind} show ID")
        expect([kind, "show", "--help"], 0,
               contains=(f"usage: eirnn {kind} show ID", f"page: URL/#/{kind}/ID"))


def shows(kind, rid, url, given):
    """`kind show rid` against a daemon at @url, the CLI given the address @given."""
    page = f"{url}/#/{kind}/{rid}"
    got = expect([kind, "get", rid], 0, url=given)
    out = expect([kind, "show", rid], 0, url=given)
    check(out == got + f"page: {page}\n",
          f"{kind} show {rid} (--url {given}): {out!r}, expected the get printout {got!r} and "
          f"'page: {page}'")
    raw = expect(["--json", kind, "show", rid], 0, url=given)
    want = dict(get_json(url, f"/v1/{kind}/{rid}"), page=page)
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    check(doc == want, f"--json {kind} show {rid}: {raw!r}, expected {json.dumps(want)}")
    rc, out, _ = cli(kind, "show", rid[:2] + "0" * 24, url=given)
    check(rc == 4 and out == "", f"{kind} show of an unknown id: exit {rc}, stdout {out!r}")


def with_daemon(eirnnd, tmp):
    d = Daemon(eirnnd, ["--workers", "2"])
    url = f"http://127.0.0.1:{d.port}"
    try:
        model_file = os.path.join(ROOT, "schema", "examples", "model_small.json")
        mid = expect(["models", "create", model_file, "-q", "-w"], 0, url=url).strip()
        rid = expect(["runs", "submit", "-m", mid, "--steps", "20", "--dt", "0.1", "--wait",
                      "-q"], 0, url=url).strip()
        doc = {"model_id": mid, "run": {"dt": 0.1, "inputs": {"steps": 20}, "seed": 1},
               "axes": [{"path": "/run/seed", "values": [1, 2]}]}
        sfile = os.path.join(tmp, "sweep.json")
        with open(sfile, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        sid = expect(["sweeps", "submit", sfile, "--wait", "-q"], 0, url=url).strip()
        aid = expect(["analyze", "spectrum", "--model", mid, "--of", "W", "--wait", "-q"], 0,
                     url=url).strip()
        ids = {"runs": rid, "models": mid, "sweeps": sid, "analyses": aid}
        check(all(ids.values()), f"ids: {ids}")
        for kind, i in ids.items():
            if not i:
                continue
            shows(kind, i, url, url)
            shows(kind, i, url, url + "//")  # trailing slashes are not part of the page's base
        shows("runs", rid, url, f"127.0.0.1:{d.port}")  # a bare HOST:PORT is http://
    finally:
        d.kill()


def main():
    global EIRNN
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnn", required=True)
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    EIRNN = a.eirnn
    offline()
    with tempfile.TemporaryDirectory(prefix="eirnn-cli-show-") as tmp:
        with_daemon(a.eirnnd, tmp)
    return verdict(bad)


if __name__ == "__main__":
    sys.exit(main())
