#!/usr/bin/env python3
"""reliability/training_fence: a training whose claim is taken from its worker (as a rescue by
another daemon would take it) stops writing at once, and the training still ends with the bytes
of an uninterrupted one (issue 15; docs/STORE.md "Leases", docs/API.md "Trainings").

    training_fence.py --eirnnd PATH

One daemon (SQLite, --lease-seconds 2) trains a small network. Once a checkpoint is stored,
the job's attempt number is raised behind the daemon's back with the sqlite3 shell, which is
what another daemon's rescue and claim do to the row. The worker's next fenced write (curve
rows, checkpoint or progress) is refused: it must log "lease_lost" for the training and store
nothing more (no checkpoint past the one of the theft, no model). The claim then expires (no
one renews it), the daemon's rescue queues the training again, it is claimed (attempt 3),
resumes from the checkpoint, and its trained model's hash and matrices equal those of an
uninterrupted training of the same document. Exit 0 when all hold; 77 (skipped) on PostgreSQL.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import pgtest  # noqa: E402
from eirnnd_proc import Daemon, get_json, request, time_scale  # noqa: E402
from training_docs import model_doc, training_doc  # noqa: E402
from training_resume import finished, outcome, post, wait_for, fail  # noqa: E402

ITERATIONS = 20000
CHECKPOINT_EVERY = 100


def sql(db, text):
    out = subprocess.run(["sqlite3", "-cmd", ".timeout 10000", db, text], capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        fail("sqlite3 %s: %s" % (text, out.stderr.strip()))
    return out.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--eirnn", help="(unused: the common arguments of the drivers)")
    ap.add_argument("--verify", help="(unused)")
    ap.add_argument("--sanitized", action="store_true", help="(unused)")
    args = ap.parse_args()
    if pgtest.wanted():
        print("skipped: the attempt is raised with the sqlite3 shell")
        return 77
    tmp = tempfile.mkdtemp(prefix="eir_train_fence_")
    db = os.path.join(tmp, "eirnn.db")
    d = Daemon(args.eirnnd, db, ["--workers", "1", "--lease-seconds", "2"])
    try:
        port = d.start()
        mid = post(port, "/v1/models", model_doc(seed=7))
        doc = training_doc(mid, iterations=ITERATIONS, checkpoint_every=CHECKPOINT_EVERY,
                           evaluate={"every": 50, "trials": 32}, seed=11, batch=16,
                           max_attempts=5)
        tid = post(port, "/v1/trainings", doc)

        def checkpointed():
            st, t = get_json(port, "/v1/trainings/" + tid)
            if t["status"] not in ("queued", "running"):
                fail("before the theft the training is %s (%s)" % (t["status"], t.get("error")))
            return t if t["progress"]["done"] > CHECKPOINT_EVERY + 20 else None
        wait_for("a checkpoint of " + tid, checkpointed, 120)
        sql(db, "UPDATE runs SET attempts = attempts + 1 WHERE id = '%s' AND status = 'running'"
            % tid)
        # the checkpoint when the claim was taken: the fenced worker cannot replace it
        stolen_at = int(sql(db, "SELECT iteration FROM training_checkpoints WHERE run_id = '%s'"
                                % tid) or 0)

        def lost():
            return [e for e in d.events("lease_lost") if e.get("run_id") == tid]
        ev = wait_for("lease_lost of " + tid, lost, 30)
        t = finished(port, tid)
        if t["status"] != "succeeded" or t["attempts"] != 3:
            fail("after the theft: %s, %d attempts (%s)" % (t["status"], t["attempts"],
                                                          t.get("error")))
        starts = [e.get("from") for e in d.events("training_started") if e.get("run_id") == tid]
        if len(starts) != 2 or starts[0] != 0 or not 0 < starts[1] < ITERATIONS:
            fail("the training's starts: %s" % starts)
        if starts[1] != stolen_at:
            fail("resumed from %d, not from the checkpoint of %d there was when the claim was "
                 "taken: the fenced worker wrote one" % (starts[1], stolen_at))
        fenced = outcome(port, t)
        models = [m for m in json.loads(request(port, "GET", "/v1/models?limit=1000")[2])["items"]
                  if m.get("training") == tid]
        if len(models) != 1:
            fail("models made by %s: %s" % (tid, [m["id"] for m in models]))
        whole = outcome(port, finished(port, post(port, "/v1/trainings", doc)))
        if fenced[0] != whole[0] or fenced[1] != whole[1] or fenced[2] != whole[2]:
            fail("the training whose claim was taken ends with other bytes")
        print("ok: %s lost its claim after the checkpoint of %d (lease_lost at %s), resumed from "
              "it as attempt 3; the same model %s as an uninterrupted training" %
              (tid, stolen_at, ev[0].get("at"), whole[0][:16]))
        rc = d.stop()
        if rc != 0:
            fail("eirnnd exited with %s" % rc)
        return 0
    finally:
        if d.alive():
            d.kill9()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
