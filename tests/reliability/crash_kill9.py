#!/usr/bin/env python3
"""Crash safety of eirnnd (docs/RELIABILITY.md, "Crash safety").

Starts eirnnd on a fresh database and drives it with a steady stream of runs of mixed sizes
(small and noisy runs of a few kilobytes, multi-chunk results of several MB, and results past
the store's 16 MiB batch size, which are committed in staged batches), noisy runs with and
without a seed, runs by model_id and with the model inline, float32 and float64, with and
without an Idempotency-Key (a keyed submit whose answer was lost is sent again after the
restart). Meanwhile an observer polls runs (some with long polls), lists and downloads results.
The daemon is killed with SIGKILL at random moments drawn from a seeded generator (the seed is
printed; --seed repeats the moments) and restarted each time. Then the runs are left to finish
and the driver checks:

  1. every run that got a 202 (or a 200 replay) ends succeeded, and so does every other run in
     the database (those whose answer was lost to a kill);
  2. each run's results are byte-equal to `eirnn simulate` of the same model and run document
     (the document as stored, with the seed the daemon chose at submission for noisy runs
     without one; meta.run.seed names the same seed);
  3. no run completed twice with different results: a run seen final by the observer keeps
     that status and the same result checksums to the end; its meta.attempt equals its
     attempts (no claim after the completing one); across all the daemon's logs no run has two
     successful run_finished lines or a run_claimed after one;
  4. after a clean SIGTERM (exit 0): PRAGMA integrity_check is "ok" (sqlite3 shell), no staged
     result rows are left, and store_verify() (eirnn-store-verify) re-hashes every stored result
     and finds them all matching their checksums.

A summary gives the kills survived, where they landed, the runs accepted and verified.
Exit 0 when every check passes, 1 otherwise.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eirnnd_proc import (MODEL_BIG, MODEL_NOISY, MODEL_SMALL, Daemon, HttpError,  # noqa: E402
                         get_json, request, sqlite3_cli, time_scale, wait_healthy)

# Run mixes. Sizes: "big" records V of N = 300 for T steps in float64 (T * 2.4 KB: 3.6-7.2 MB,
# two 4 MiB chunks); "huge" records V and r (T * 4.8 KB: past the 16 MiB batch, so its finish
# commits staged batches before the final transaction).
PROFILES = {
    "short": dict(kills=20, gap=(0.25, 1.8), p_huge=0.03, p_big=0.07, p_noisy=0.45,
                  big_t=(1500, 3000), huge_t=(3600, 5000), queue_cap=12, drain=300),
    "long": dict(kills=200, gap=(0.2, 4.0), p_huge=0.06, p_big=0.12, p_noisy=0.4,
                 big_t=(1500, 6000), huge_t=(3600, 20000), queue_cap=24, drain=1800),
}


def log(msg):
    print("crash: " + msg, flush=True)


class State:
    """Everything the threads share (under lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.stop_submit = threading.Event()
        self.stop_observe = threading.Event()
        self.accepted = {}  # run id -> {"kind", "key", "replayed"}
        self.observed = {}  # run id -> (status, {var: sha256})
        self.errors = []
        self.submits_in_flight = 0
        self.queue_depth = 0
        self.n = dict(submitted=0, answered_202=0, replayed_200=0, retried_keyed=0,
                      lost_unkeyed=0, busy_503=0, polls=0, downloads=0, download_bytes=0,
                      observed_final=0)

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)
        log("ERROR: " + msg)

    def count(self, name, k=1):
        with self.lock:
            self.n[name] += k


def pick_vars(rng, names):
    k = rng.randint(1, len(names))
    return sorted(rng.sample(names, k), key=names.index)


def make_doc(rng, prof, ids):
    """A random run document and its kind."""
    u = rng.random()
    prec = "float32" if rng.random() < 0.2 else "float64"
    doc = {"dt": 0.05, "precision": prec}
    if u < prof["p_huge"]:
        kind, t = "huge", rng.randint(*prof["huge_t"])
        doc.update(model_id=ids["big"], inputs={"steps": t, "trials": 1},
                   record={"vars": ["V", "r"], "every": 1}, precision="float64")
    elif u < prof["p_huge"] + prof["p_big"]:
        kind, t = "big", rng.randint(*prof["big_t"])
        doc.update(model_id=ids["big"], inputs={"steps": t, "trials": 1},
                   record={"vars": ["V"], "every": 1}, precision="float64")
    elif u < prof["p_huge"] + prof["p_big"] + prof["p_noisy"]:
        kind = "noisy"
        doc.update(inputs={"steps": rng.randint(50, 1500), "trials": rng.randint(1, 4)},
                   record={"vars": pick_vars(rng, ["V", "r", "y"]), "every": rng.randint(1, 3)})
        if rng.random() < 0.2:
            doc["model"] = MODEL_NOISY
        else:
            doc["model_id"] = ids["noisy"]
    else:
        kind = "small"
        doc.update(inputs={"steps": rng.randint(20, 400), "trials": rng.randint(1, 3)},
                   record={"vars": pick_vars(rng, ["V", "r", "z", "y"]),
                           "every": rng.randint(1, 3)})
        if rng.random() < 0.2:
            doc["model"] = MODEL_SMALL
        else:
            doc["model_id"] = ids["small"]
    if kind != "small" and rng.random() < 0.5:
        doc["seed"] = rng.randrange(1 << 40)
    elif kind == "small" and rng.random() < 0.3:
        doc["seed"] = rng.randrange(1 << 20)
    return doc, kind


def wait_up(st, d):
    """The daemon's port once it is up (0 when submitting should stop)."""
    while not st.up.wait(0.2):
        pass
    return d.port


def submitter(st, d, prof, ids, idx, seed):
    rng = random.Random(seed * 7919 + idx)
    n = 0
    while not st.stop_submit.is_set():
        with st.lock:
            depth = st.queue_depth
        if depth > prof["queue_cap"]:
            time.sleep(0.05)
            continue
        doc, kind = make_doc(rng, prof, ids)
        body = json.dumps(doc)
        key = "crash-%d-%d-%d" % (seed, idx, n) if rng.random() < 0.6 else None
        n += 1
        st.count("submitted")
        tries = 0
        while True:
            port = wait_up(st, d)
            hdrs = {"Content-Type": "application/json"}
            if key:
                hdrs["Idempotency-Key"] = key
            with st.lock:
                st.submits_in_flight += 1
            try:
                status, h, data = request(port, "POST", "/v1/runs", body, hdrs, timeout=60)
            except HttpError:
                status = None
            finally:
                with st.lock:
                    st.submits_in_flight -= 1
            if status in (202, 200):
                rid = json.loads(data)["id"]
                with st.lock:
                    info = st.accepted.setdefault(rid, {"kind": kind, "key": key,
                                                         "replayed": False})
                    if status == 200:
                        info["replayed"] = True
                st.count("answered_202" if status == 202 else "replayed_200")
                if status == 200 and not (key and h.get("idempotent-replayed") == "true"):
                    st.error("POST /v1/runs answered 200 without an idempotent replay")
                break
            if status == 503:
                st.count("busy_503")
                time.sleep(0.2)
                continue
            if status is None:
                if key:
                    tries += 1
                    st.count("retried_keyed")
                    time.sleep(0.05)
                    continue
                st.count("lost_unkeyed")
                break
            st.error("POST /v1/runs answered %s: %s" % (status, data[:300]))
            break
        time.sleep(rng.uniform(0.0, 0.06))


def npy_data(blob):
    """The array bytes of a .npy v1/v2 file."""
    if blob[:6] != b"\x93NUMPY":
        return None
    if blob[6] == 1:
        return blob[10 + int.from_bytes(blob[8:10], "little"):]
    return blob[12 + int.from_bytes(blob[8:12], "little"):]


def observer(st, d, seed):
    rng = random.Random(seed * 31 + 5)
    final = ("succeeded", "failed", "diverged", "cancelled")
    while not st.stop_observe.is_set():
        port = wait_up(st, d)
        try:
            s, h = get_json(port, "/healthz", timeout=10)
            if s == 200:
                with st.lock:
                    st.queue_depth = h.get("queue_depth", 0)
            with st.lock:
                ids = list(st.accepted)
            if not ids:
                time.sleep(0.05)
                continue
            rid = rng.choice(ids)
            wait = rng.choice([0, 0, 0, 1, 2])
            s, run = get_json(port, "/v1/runs/%s?wait=%d" % (rid, wait), timeout=30)
            st.count("polls")
            if s != 200:
                st.error("GET /v1/runs/%s answered %d" % (rid, s))
                continue
            if run["status"] not in final:
                continue
            s, lst = get_json(port, "/v1/runs/%s/results" % rid, timeout=30)
            if s != 200:
                st.error("GET /v1/runs/%s/results answered %d" % (rid, s))
                continue
            shas = {it["var"]: it["sha256"] for it in lst["items"]}
            with st.lock:
                seen = st.observed.get(rid)
                if seen is None:
                    st.observed[rid] = (run["status"], shas)
                    st.n["observed_final"] += 1
            if seen is not None and seen != (run["status"], shas):
                st.error("run %s changed after it was final: %s then %s" %
                         (rid, seen, (run["status"], shas)))
            items = [it for it in lst["items"] if it["bytes"] <= (8 << 20)]
            if items and rng.random() < 0.3:
                it = rng.choice(items)
                s, _, blob = request(port, "GET", it["url"], timeout=60)
                if s != 200:
                    st.error("GET %s answered %d" % (it["url"], s))
                    continue
                st.count("downloads")
                st.count("download_bytes", len(blob))
                data = npy_data(blob)
                if data is None or hashlib.sha256(data).hexdigest() != it["sha256"]:
                    st.error("download of %s does not match its sha256" % it["url"])
        except HttpError:
            time.sleep(0.02)
        except (ValueError, KeyError, TypeError) as e:
            st.error("observer: unexpected answer: %r" % e)


def offline_doc(request_json, models):
    """The document `eirnn simulate` runs: the stored request with its model inline."""
    doc = json.loads(request_json)
    mid = doc.pop("model_id", None)
    if mid is not None:
        doc["model"] = models[mid]
    return doc


def simulate(eirnn, doc, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "run.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    res = subprocess.run([eirnn, "simulate", path, "-o", out_dir, "-q"], capture_output=True,
                         text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if res.returncode != 0:
        return "eirnn simulate exited %d: %s" % (res.returncode, res.stderr.strip()[:300])
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eirnnd", required=True, help="the daemon binary")
    ap.add_argument("--eirnn", required=True, help="the eirnn binary (for `eirnn simulate`)")
    ap.add_argument("--verify", required=True, help="the eirnn-store-verify binary")
    ap.add_argument("--long", action="store_true",
                    help="the long version: 200 kills, larger results (up to ~100 MB)")
    ap.add_argument("--kills", type=int, help="number of kill -9 (default 20, long 200)")
    ap.add_argument("--seed", type=int, help="seed of the kill moments and run mix")
    ap.add_argument("--workers", type=int, default=2, help="eirnnd --workers (2)")
    ap.add_argument("--sanitized", action="store_true",
                    help="the daemon is a sanitizer build: smaller runs, longer timeouts")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()

    prof = dict(PROFILES["long" if a.long else "short"])
    if a.kills is not None:
        prof["kills"] = a.kills
    if a.sanitized:
        prof.update(p_huge=0.01, p_big=0.04, big_t=(500, 1500), huge_t=(3600, 3800),
                    drain=prof["drain"] * 3)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    log("seed %d (repeat the kill moments with --seed %d); %s profile, %d kills"
        % (seed, seed, "long" if a.long else "short", prof["kills"]))
    krng = random.Random(seed)

    tmp = tempfile.mkdtemp(prefix="eirnn-crash-")
    db = os.path.join(tmp, "eirnn.db")
    d = Daemon(a.eirnnd, db, ["--workers", str(a.workers), "--max-attempts", "1000",
                              "--shutdown-grace", "0"], log_path=os.path.join(tmp, "eirnnd.log"))
    st = State()
    t_start = time.monotonic()
    ok = False
    try:
        port = d.start()
        ids, models = {}, {}
        for name, m in (("small", MODEL_SMALL), ("noisy", MODEL_NOISY), ("big", MODEL_BIG)):
            s, _, data = request(port, "POST", "/v1/models", m)
            # a model with a generate recipe is built by a worker: 202, pending (API.md)
            text = m if isinstance(m, (str, bytes)) else json.dumps(m)
            if s != (202 if '"generate"' in str(text) else 201):
                raise RuntimeError("POST /v1/models %s answered %d: %s" % (name, s, data))
            ids[name] = json.loads(data)["id"]
            models[ids[name]] = m
        st.up.set()
        threads = [threading.Thread(target=submitter, args=(st, d, prof, ids, i, seed),
                                    daemon=True)
                   for i in range(2)]
        obs = threading.Thread(target=observer, args=(st, d, seed), daemon=True)
        for t in threads + [obs]:
            t.start()

        # ---- the kills ---------------------------------------------------------------------
        kills = []
        for k in range(prof["kills"]):
            gap = krng.uniform(*prof["gap"])
            time.sleep(gap)
            with st.lock:
                in_flight = st.submits_in_flight
            st.up.clear()
            t_kill = time.monotonic()
            d.kill9()
            d.start()
            rq = d.events("requeued", lifetime=-1)
            rq = rq[0] if rq else {}
            kills.append(dict(gap=gap, submits=in_flight, requeued=rq.get("requeued", 0),
                              staged=rq.get("partial_results", 0),
                              restart_s=time.monotonic() - t_kill))
            st.up.set()
            if (k + 1) % 10 == 0 or k + 1 == prof["kills"]:
                log("%d kills survived (%d runs accepted so far)" % (k + 1, len(st.accepted)))
        st.stop_submit.set()
        for t in threads:
            t.join()
        log("kill phase over after %.1f s; letting the runs finish" % (time.monotonic() - t_start))

        # ---- drain: wait until nothing is queued or running --------------------------------
        end = time.monotonic() + prof["drain"] * time_scale()
        port = d.port
        while True:
            h = wait_healthy(port)
            s1, q = get_json(port, "/v1/runs?status=queued&limit=1")
            s2, r = get_json(port, "/v1/runs?status=running&limit=1")
            if s1 == 200 and s2 == 200 and not q["items"] and not r["items"]:
                break
            if time.monotonic() > end:
                raise RuntimeError("runs still queued or running after %d s (queue %s)" %
                                   (prof["drain"] * time_scale(), h.get("queue_depth")))
            time.sleep(0.25)
        st.stop_observe.set()
        obs.join()

        # ---- checks with the daemon running: every run against `eirnn simulate` -----------
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        rows = con.execute("SELECT id, model_id, status, attempts, request_json, meta_json, "
                           "error_json FROM runs").fetchall()
        staged_live = con.execute("SELECT count(*) FROM results WHERE complete = 0").fetchone()[0]
        con.close()
        by_id = {r[0]: r for r in rows}
        for rid in st.accepted:
            if rid not in by_id:
                st.error("accepted run %s is not in the database" % rid)
        if staged_live:
            st.error("%d staged result rows left after the drain" % staged_live)
        noisy_ids = {i for i, m in models.items() if m["noise"]["sigma"] > 0}

        sims = {}  # canonical offline doc -> (dir, error)
        sim_lock = threading.Lock()
        counter = [0]

        def sim_for(doc):
            canon = json.dumps(doc, sort_keys=True)
            with sim_lock:
                if canon in sims:
                    return sims[canon]
                counter[0] += 1
                out = os.path.join(tmp, "sim", "%d" % counter[0])
                sims[canon] = None
            err = simulate(a.eirnn, doc, out)
            with sim_lock:
                sims[canon] = (out, err)
            return sims[canon]

        verified = [0]
        verified_bytes = [0]
        by_kind = {}

        def check_run(row):
            rid, mid, status, attempts, req, meta_json, err_json = row
            if status != "succeeded":
                st.error("run %s ended %s: %s" % (rid, status, err_json))
                return
            meta = json.loads(meta_json)
            doc = json.loads(req)
            noisy = (mid in noisy_ids) or (doc.get("model", {}).get("noise", {})
                                           .get("sigma", 0) > 0)
            if noisy and not isinstance(doc.get("seed"), int):
                st.error("noisy run %s was stored without a seed" % rid)
            if noisy and meta["run"].get("seed") != doc.get("seed"):
                st.error("run %s: meta.run.seed %s, stored seed %s" %
                         (rid, meta["run"].get("seed"), doc.get("seed")))
            if meta.get("attempt") != attempts:
                st.error("run %s completed in attempt %s but was claimed %d times" %
                         (rid, meta.get("attempt"), attempts))
            odoc = offline_doc(req, models)
            while True:
                r = sim_for(odoc)
                if r is not None:
                    break
                time.sleep(0.01)
            out, serr = r
            if serr:
                st.error("run %s: %s" % (rid, serr))
                return
            files = sorted(f[:-4] for f in os.listdir(out) if f.endswith(".npy"))
            s, lst = get_json(d.port, "/v1/runs/%s/results" % rid)
            vars_ = sorted(it["var"] for it in lst["items"]) if s == 200 else None
            if vars_ != files:
                st.error("run %s: results %s, eirnn simulate wrote %s" % (rid, vars_, files))
                return
            nbytes = 0
            for v in files:
                s, _, blob = request(d.port, "GET", "/v1/runs/%s/results/%s" % (rid, v),
                                     timeout=120)
                with open(os.path.join(out, v + ".npy"), "rb") as f:
                    want = f.read()
                if s != 200 or blob != want:
                    st.error("run %s result %s differs from eirnn simulate (%d vs %d bytes)" %
                             (rid, v, len(blob), len(want)))
                    return
                nbytes += len(blob)
            seen = st.observed.get(rid)
            if seen is not None:
                shas = {it["var"]: it["sha256"] for it in lst["items"]}
                if seen != (status, shas):
                    st.error("run %s: observed %s while running the kills, %s at the end" %
                             (rid, seen, (status, shas)))
            with sim_lock:
                verified[0] += 1
                verified_bytes[0] += nbytes
                kind = st.accepted.get(rid, {}).get("kind", "unanswered")
                by_kind[kind] = by_kind.get(kind, 0) + 1

        t_check = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as ex:
            list(ex.map(check_run, rows))
        log("checked %d runs against eirnn simulate (%d simulations) in %.1f s" %
            (len(rows), len(sims), time.monotonic() - t_check))

        # ---- the logs of every lifetime: no run completed twice --------------------------------
        finished_ok, twice, claimed_after = {}, 0, 0
        for lines in d.lifetimes:
            for o in lines:
                ev, rid = o.get("event"), o.get("run_id")
                if ev == "run_finished" and o.get("store") == "ok":
                    if rid in finished_ok:
                        twice += 1
                        st.error("run %s finished twice (logs)" % rid)
                    finished_ok[rid] = True
                elif ev == "run_claimed" and rid in finished_ok:
                    claimed_after += 1
                    st.error("run %s claimed again after it finished (logs)" % rid)

        # ---- clean stop, then the database itself --------------------------------------------
        rc = d.stop(signal.SIGTERM, 60)
        if rc != 0:
            st.error("eirnnd exited %s at SIGTERM" % rc)
        integrity = sqlite3_cli(db, "PRAGMA integrity_check;")
        if integrity != "ok":
            st.error("PRAGMA integrity_check: %s" % integrity)
        staged = sqlite3_cli(db, "SELECT count(*) FROM results WHERE complete = 0;")
        if staged != "0":
            st.error("%s staged result rows left" % staged)
        vres = subprocess.run([a.verify, db], capture_output=True, text=True)
        try:
            vrep = json.loads(vres.stdout)
        except ValueError:
            vrep = {}
        if vres.returncode != 0:
            st.error("eirnn-store-verify: exit %d: %s %s" % (vres.returncode, vres.stdout,
                                                             vres.stderr[-500:]))

        # ---- summary ---------------------------------------------------------------------------
        n = st.n
        lifetimes = len(d.lifetimes)
        log("---- summary (seed %d) ----" % seed)
        log("kills survived: %d (restarts %d, mean restart %.3f s, max %.3f s)" %
            (len(kills), lifetimes - 1, sum(k["restart_s"] for k in kills) / max(1, len(kills)),
             max([k["restart_s"] for k in kills] or [0])))
        log("kills with a submit in flight: %d; with runs running (requeued at restart): %d "
            "(%d runs in all); during a staged result write: %d" %
            (sum(1 for k in kills if k["submits"]), sum(1 for k in kills if k["requeued"]),
             sum(k["requeued"] for k in kills), sum(1 for k in kills if k["staged"])))
        log("submits: %d; answered 202: %d; idempotent replays (200): %d; keyed re-sends after "
            "a kill: %d; unkeyed answers lost: %d; 503: %d" %
            (n["submitted"], n["answered_202"], n["replayed_200"], n["retried_keyed"],
             n["lost_unkeyed"], n["busy_503"]))
        log("runs accepted: %d; runs in the database: %d; verified byte-equal to eirnn simulate:"
            " %d (%s), %.1f MB downloaded" %
            (len(st.accepted), len(rows), verified[0],
             ", ".join("%s %d" % kv for kv in sorted(by_kind.items())), verified_bytes[0] / 1e6))
        attempts = [r[3] for r in rows]
        log("attempts per run: max %d, runs claimed more than once: %d" %
            (max(attempts or [0]), sum(1 for x in attempts if x > 1)))
        log("observer: %d polls, %d runs seen final during the kills (unchanged at the end), "
            "%d downloads (%.1f MB) matched their checksums" %
            (n["polls"], n["observed_final"], n["downloads"], n["download_bytes"] / 1e6))
        log("completed twice: %d (logs), claimed after completion: %d" % (twice, claimed_after))
        log("integrity_check: %s; store verify: %s" % (integrity, json.dumps(vrep)))
        log("total %.1f s" % (time.monotonic() - t_start))
        ok = not st.errors and verified[0] == len(rows) and len(rows) >= len(st.accepted) > 0
        if st.errors:
            log("%d error(s), first: %s" % (len(st.errors), st.errors[0]))
        log("PASS" if ok else "FAIL")
    except Exception as e:  # noqa: BLE001 - report and fail
        log("FAIL: %s: %s" % (type(e).__name__, e))
        log("daemon log tail:\n" + d.log_tail())
    finally:
        st.stop_submit.set()
        st.stop_observe.set()
        st.up.set()
        if d.alive():
            d.kill9()
        if a.keep or not ok:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
