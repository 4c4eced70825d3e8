#!/usr/bin/env python3
"""Run every curl example of README.md against a live eirnnd, so the README cannot drift.

The convention (README.md, "API tour"):

* every fenced ```sh block that contains ``curl`` is an example; the examples are one bash
  script, run in order (``set -euo pipefail``) in one shell, so a block can use the shell
  variables and functions of the blocks before it (``$URL``, ``$MODEL``, ``field``, ...);
  ``sh`` blocks without curl (installation, Docker, the CLI) are not run here;
* ``URL`` comes from ``$EIRNN_URL`` (the first example says ``URL=${EIRNN_URL:-...}``); the
  test starts eirnnd on 127.0.0.1, port 0, with a temporary database, and sets EIRNN_URL;
* a fenced block right after an example (only blank lines between), with the info string
  ``json``, ``text`` or ``csv``, is that example's answer: the example's output (stdout and
  stderr) must match it, whitespace aside, with ``…`` standing for any text (ids, times,
  numbers that vary, the parts left out);
* a curl command without ``-f``/``--fail`` (one that shows an error answer) must have an
  answer block, so that its status is checked there.

The test fails when an example fails (curl -f exits non-zero on an HTTP error), when an answer
does not match, when the README has no example of one of the tour's endpoints, or when eirnnd
did not serve the examples or did not shut down cleanly. It also holds the README's
configuration table to ``eirnnd --help``: every flag with its variable and default, and no
flag that eirnnd does not know.

    python3 tests/readme/test_readme.py --eirnnd build/server/eirnnd [--readme README.md]
    ... --print     show each example's real output (to write the answer blocks)
    ... --url URL   against a running eirnnd (e.g. scripts/serve.sh's) instead of a new one

Exit 1 when curl is not installed (scripts/deps.sh test installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "common"))
from eirnnd_http import time_scale  # noqa: E402  (EIRNN_TEST_TIME_SCALE)

ANSWER_INFOS = {"json", "text", "csv"}
ELLIPSIS = "…"
FENCE = re.compile(r"^(```+|~~~+)\s*([^\s`]*)[^`]*$")
CURL = re.compile(r"(?<![\w/.-])curl\s")

# What the tour must show (a regex each, searched in the examples' text).
REQUIRED = {
    "health": r"\$URL/healthz",
    "create a model": r"curl[^\n]*\$URL/v1/models\b[^\n]*-d",
    "submit a run with inputs": r"curl[^\n]*\$URL/v1/runs\b[^\n]*-d[\s\S]*?\"inputs\"",
    "a sweep and its table": r"curl[^\n]*\$URL/v1/sweeps\b[\s\S]*?/table",
    "wait (long poll)": r"\$URL/v1/runs/\$\w+\?wait=",
    "results as .npy": r"\$URL/v1/runs/\$\w+/results/\w+[^\n]*-o \S+\.npy|-o \S+\.npy[^\n]*\$URL/v1/runs/\$\w+/results/\w+",
    "results as CSV": r"\$URL/v1/runs/\$\w+/results/\w+\?[^\n\"]*format=csv",
    "cancel": r"-X POST[^\n]*\$URL/v1/runs/\$\w+/cancel",
    "list runs": r"\$URL/v1/runs\?",
    "list models": r"\$URL/v1/models\?",
}


@dataclass
class Block:
    """A fenced code block of the README."""

    info: str
    text: str
    line: int  # of the opening fence, 1-based
    end: int   # of the closing fence
    answer: Optional["Block"] = field(default=None)


def parse_blocks(md: str) -> List[Block]:
    """The fenced code blocks of @md, in order."""
    blocks: List[Block] = []
    lines = md.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(1), m.group(2).lower()
        j = i + 1
        while j < len(lines) and not (lines[j].startswith(fence[0] * len(fence))
                                      and lines[j].strip(fence[0]).strip() == ""):
            j += 1
        if j >= len(lines):
            raise SystemExit(f"README.md:{i + 1}: unterminated code block")
        blocks.append(Block(info, "\n".join(lines[i + 1:j]), i + 1, j + 1))
        i = j + 1
    return blocks


def examples(md: str) -> List[Block]:
    """The curl examples with their answer blocks."""
    blocks = parse_blocks(md)
    lines = md.split("\n")
    out = []
    for k, b in enumerate(blocks):
        if b.info not in ("sh", "bash", "shell") or not CURL.search(b.text):
            continue
        if k + 1 < len(blocks):
            nxt = blocks[k + 1]
            between = lines[b.end:nxt.line - 1]
            if nxt.info in ANSWER_INFOS and all(not s.strip() for s in between):
                b.answer = nxt
        out.append(b)
    return out


def curl_commands(text: str) -> List[str]:
    """Each curl command of a block (the rest of its line, continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", text)
    cmds = []
    for line in joined.split("\n"):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        for m in CURL.finditer(code):
            cmds.append(code[m.start():])
    return cmds


def has_fail_flag(cmd: str) -> bool:
    for tok in cmd.split()[1:]:
        if tok == "--fail" or re.fullmatch(r"-[a-zA-Z]*f[a-zA-Z]*", tok):
            return True
        if tok in ("|", ";", "&&", "||", ")"):
            break
    return False


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def match_answer(expected: str, actual: str) -> Optional[str]:
    """None when @actual matches the answer block @expected, else why not."""
    pieces = squash(expected).split(ELLIPSIS)
    act = squash(actual)
    pattern = ".*?".join(re.escape(p) for p in pieces)
    if re.fullmatch(pattern, act, re.S):
        return None
    # Say which piece is missing: the longest matching prefix of the pieces.
    for n in range(len(pieces), 0, -1):
        prefix = ".*?".join(re.escape(p) for p in pieces[:n])
        anchored = prefix if n < len(pieces) else prefix + r"\Z"
        if re.match(anchored, act, re.S):
            if n == len(pieces):
                return "the output goes on past the answer (end the answer with …)"
            return f"after the matching part, the output has no {pieces[n]!r}"
    return f"the output does not start with {pieces[0]!r}"


class Daemon:
    """eirnnd on 127.0.0.1, port 0, with a temporary database."""

    def __init__(self, binary: str, workdir: str) -> None:
        self.log_path = os.path.join(workdir, "eirnnd.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("EIRNN_")}
        env["OPENBLAS_NUM_THREADS"] = "1"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--db", os.path.join(workdir, "eirnn.db"),
             "--workers", "2", "--shutdown-grace", "2"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)
        self.port = self._port()

    def _port(self) -> int:
        deadline = time.monotonic() + 30 * time_scale()
        while time.monotonic() < deadline:
            for rec in self.records():
                if rec.get("event") == "listening":
                    return int(rec["port"])
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise SystemExit("eirnnd did not start:\n" + self.tail())

    def records(self) -> List[dict]:
        recs = []
        with open(self.log_path, "rb") as f:
            for line in f:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    pass
        return recs

    def tail(self, n: int = 20) -> str:
        with open(self.log_path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode(errors="replace")

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30 * time_scale())
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.log.close()
        return self.proc.returncode


def script(blocks: List[Block], outdir: str) -> str:
    """The bash script: every example in order, each one's output to OUTDIR/<k>.out."""
    parts = ["set -euo pipefail", f"exec 9>{outdir}/trace", "BASH_XTRACEFD=9", "set -x"]
    for k, b in enumerate(blocks):
        parts.append(f"echo 'README.md:{b.line}' >{outdir}/current")
        # Through a pipe, not straight into the file: an example may write to /dev/stderr
        # (tee), which would reopen (and truncate) a file. The block runs in this shell, so
        # its variables stay for the next one.
        parts.append("{\n" + b.text + "\n}" + f" > >(cat >{outdir}/{k}.out) 2>&1 </dev/null")
        parts.append("wait $!")
    parts.append(f"echo done >{outdir}/current")
    return "\n".join(parts) + "\n"


HELP_OPT = re.compile(r"^  --([a-z-]+) \S+\s+(EIRNN_\w+)\s+(.+?)\s*$")


def check_config(md: str, eirnnd: str) -> List[str]:
    """The README's configuration table against `eirnnd --help`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRNN_")}
    help_text = subprocess.run([eirnnd, "--help"], capture_output=True, text=True, env=env,
                               check=True).stdout
    opts = [m.groups() for m in map(HELP_OPT.match, help_text.splitlines()) if m]
    if len(opts) < 10:
        return [f"could not read the options of 'eirnnd --help' ({len(opts)} found)"]
    rows = [ln for ln in md.splitlines() if re.match(r"^\|\s*`--[a-z-]+", ln)]
    problems = []
    for flag, var, default in opts:
        row = next((r for r in rows if re.match(rf"^\|\s*`--{flag}[ `]", r)), None)
        if row is None:
            problems.append(f"the configuration table has no row for --{flag} ({var})")
            continue
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) < 3 or f"`{var}`" not in cells[1]:
            problems.append(f"--{flag}: the variable should be `{var}`: {row}")
        elif "(CPUs)" in default or flag == "http-threads":
            if "CPU" not in cells[2]:  # machine-dependent: say what it depends on
                problems.append(f"--{flag}: the default depends on the CPUs: {row}")
        elif "(memory)" in default:
            if "memory" not in cells[2]:  # machine-dependent: say what it depends on
                problems.append(f"--{flag}: the default depends on the memory: {row}")
        elif default == "(none)":
            if "none" not in cells[2]:
                problems.append(f"--{flag}: the default is none: {row}")
        elif cells[2] != f"`{default}`":
            problems.append(f"--{flag}: the default is `{default}` ('eirnnd --help'), "
                            f"the README says {cells[2]}")
    known = {f for f, _, _ in opts}
    for r in rows:
        flag = re.match(r"^\|\s*`--([a-z-]+)", r).group(1)
        if flag not in known:
            problems.append(f"the configuration table lists --{flag}, which eirnnd does not have")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--eirnnd", required=True, help="the eirnnd binary")
    ap.add_argument("--readme", default=os.path.join(here, "..", "..", "README.md"))
    ap.add_argument("--print", action="store_true", help="print each example's output")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--url", help="run the examples against this running eirnnd instead")
    args = ap.parse_args()
    for tool in ("curl", "bash"):
        if not shutil.which(tool):
            print(f"FAILED: {tool} is not installed (scripts/deps.sh test installs it)",
                  file=sys.stderr)
            return 1

    with open(args.readme, encoding="utf-8") as f:
        md = f.read()
    blocks = examples(md)
    failures: List[str] = []
    if len(blocks) < 5:
        failures.append(f"only {len(blocks)} curl examples in {args.readme}")
    alltext = "\n".join(b.text for b in blocks)
    for what, rx in REQUIRED.items():
        if not re.search(rx, alltext):
            failures.append(f"no curl example shows: {what} (/{rx}/)")
    failures += check_config(md, os.path.abspath(args.eirnnd))
    for b in blocks:
        for cmd in curl_commands(b.text):
            if not has_fail_flag(cmd) and b.answer is None:
                failures.append(f"README.md:{b.line}: '{cmd.strip()[:60]}' has no -f and no "
                                "answer block to check its status")
    if failures:
        for f_ in failures:
            print("FAIL:", f_, file=sys.stderr)
        return 1

    work = tempfile.mkdtemp(prefix="eirnn-readme-")
    outdir = os.path.join(work, "out")
    os.mkdir(outdir)
    cwd = os.path.join(work, "cwd")  # the examples' working directory (downloads land here)
    os.mkdir(cwd)
    daemon = None if args.url else Daemon(os.path.abspath(args.eirnnd), work)
    url = args.url or f"http://127.0.0.1:{daemon.port}"
    print(f"eirnnd at {url}; {len(blocks)} examples from {args.readme}", flush=True)
    with open(os.path.join(work, "readme.sh"), "w", encoding="utf-8") as f:
        f.write(script(blocks, outdir))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRNN_")}
    env["EIRNN_URL"] = url
    rc = 0
    try:
        proc = subprocess.run(["bash", os.path.join(work, "readme.sh")], cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=300 * time_scale())
        rc = proc.returncode
        script_err = proc.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        rc, script_err = -1, "timed out after %g s" % (300 * time_scale())
    code = daemon.stop() if daemon else 0

    with open(os.path.join(outdir, "current"), encoding="utf-8") as f:
        current = f.read().strip()
    for k, b in enumerate(blocks):
        path = os.path.join(outdir, f"{k}.out")
        if not os.path.exists(path):
            break
        with open(path, encoding="utf-8", errors="replace") as f:
            out = f.read()
        if args.print:
            print(f"--- README.md:{b.line}\n{out}", flush=True)
        if current == f"README.md:{b.line}" and rc != 0:
            failures.append(f"README.md:{b.line}: the example failed (exit {rc}); its output:"
                            f"\n{out}")
            break
        if b.answer is not None:
            why = match_answer(b.answer.text, out)
            if why:
                failures.append(f"README.md:{b.line}: the output does not match the answer at "
                                f"README.md:{b.answer.line}: {why}\n  output: {out.strip()}")
    if rc != 0 and current == "done":
        failures.append(f"the script failed after the last example (exit {rc}): {script_err}")
    if rc != 0:
        with open(os.path.join(outdir, "trace"), encoding="utf-8", errors="replace") as f:
            trace = f.readlines()[-15:]
        failures.append("last commands run:\n" + "".join(trace) + script_err)
    paths = [r.get("path", "") for r in daemon.records()
             if r.get("event") == "request"] if daemon else ["/v1/runs"]
    if not any(p == "/v1/runs" for p in paths):
        failures.append("eirnnd served no POST /v1/runs: do the examples use $URL?")
    if code != 0:
        failures.append(f"eirnnd did not stop cleanly on SIGTERM (exit {code})\n{daemon.tail()}")

    if failures:
        for f_ in failures:
            print("FAIL:", f_, file=sys.stderr)
        print(f"(files in {work})", file=sys.stderr)
        return 1
    print(f"OK: {len(blocks)} curl examples, {sum(b.answer is not None for b in blocks)} "
          f"answers checked" + (f", {len(paths)} requests" if daemon else ""))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"(files in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
