#!/usr/bin/env python3
"""reliability/training_resume: a training whose daemon is killed (SIGKILL) after at least one
checkpoint resumes from its checkpoint after a restart and ends with the same bytes as an
uninterrupted training of the same document (issue 15; docs/API.md "Trainings").

    training_resume.py --eirnnd PATH

A daemon trains a small gated network on the decision task; once the training has stored a
checkpoint (eirnn_training_checkpoints_total >= 1 and its progress past checkpoint_every) and
before it ends, the daemon is killed with SIGKILL. A new daemon on the same database claims the
training again (attempt 2), logs that it started from the checkpoint's iteration (> 0), and
finishes it. The same document is then trained again without interruption. Both trained models
must have the same hash and the same matrices (.npy bytes), and both curves the same rows.
Then a third training of the document is stopped by SIGTERM (--shutdown-grace 0): the daemon
exits 0 within 5 s, the training is queued again (attempt not counted) and after a restart
resumes from its checkpoint and ends with the same bytes.
With EIRNN_TEST_STORE=pg the database is a new one on the tests' PostgreSQL cluster.
Exit 0 when all hold.
"""
import argparse
import json
import os
import shutil
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

ITERATIONS = 20000
CHECKPOINT_EVERY = 100


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def wait_for(what, cond, timeout):
    end = time.monotonic() + timeout * time_scale()
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    fail("timed out waiting for " + what)


def post(port, path, doc):
    st, _, body = request(port, "POST", path, doc)
    if st not in (201, 202):
        fail("POST %s answered %d: %s" % (path, st, body[:300]))
    return json.loads(body)["id"]


def finished(port, tid, timeout=600):
    end = time.monotonic() + timeout * time_scale()
    while True:
        st, t = get_json(port, "/v1/trainings/%s?wait=30" % tid, timeout=60)
        if st != 200:
            fail("GET training %s: %d %s" % (tid, st, t))
        if t["status"] not in ("queued", "running"):
            return t
        if time.monotonic() > end:
            fail("training %s did not end: %s" % (tid, t["progress"]))


def checkpoints(port):
    st, _, body = request(port, "GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("eirnn_training_checkpoints_total "):
            return int(line.split()[1])
    return 0


def outcome(port, t):
    """The trained model's hash, its matrices' .npy bytes, and the curve rows."""
    if t["status"] != "succeeded":
        fail("training %s ended %s: %s" % (t["id"], t["status"], t.get("error")))
    mid = t["model_id"]
    st, m = get_json(port, "/v1/models/" + mid)
    if st != 200 or m.get("training") != t["id"]:
        fail("model %s: %d %s" % (mid, st, m))
    st, lst = get_json(port, "/v1/models/%s/matrices" % mid)
    if st != 200:
        fail("matrices of %s: %d %s" % (mid, st, lst))
    names = sorted(it["name"] for it in lst["matrices"])
    mats = {}
    for name in names:
        st, _, data = request(port, "GET", "/v1/models/%s/matrices/%s?format=npy" % (mid, name))
        if st != 200:
            fail("matrix %s of %s: %d" % (name, mid, st))
        mats[name] = data
    st, c = get_json(port, "/v1/trainings/%s/curve" % t["id"])
    if st != 200:
        fail("curve of %s: %d" % (t["id"], st))
    return m["hash"], mats, c["rows"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eirnnd", required=True)
    ap.add_argument("--eirnn", help="(unused: the common arguments of the drivers)")
    ap.add_argument("--verify", help="(unused)")
    ap.add_argument("--sanitized", action="store_true", help="(unused)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="eir_train_resume_")
    db = pgtest.daemon_db(tmp)
    # a short lease: on PostgreSQL the restarted daemon takes the killed one's claim once its
    # lease expired
    d = Daemon(args.eirnnd, db, ["--workers", "1", "--lease-seconds", "2", "--shutdown-grace", "0"])
    try:
        port = d.start()
        mid = post(port, "/v1/models", model_doc(seed=7))
        doc = training_doc(mid, iterations=ITERATIONS, checkpoint_every=CHECKPOINT_EVERY,
                           evaluate={"every": 50, "trials": 32}, seed=11, batch=16)
        tid = first = post(port, "/v1/trainings", doc)

        def checkpointed():
            st, t = get_json(port, "/v1/trainings/" + tid)
            if tid != first:  # the third training: the metrics count the earlier ones too
                return t if t["progress"]["done"] > CHECKPOINT_EVERY + 20 else None
            if t["status"] not in ("queued", "running"):
                fail("before the kill the training is %s (%s)" % (t["status"], t.get("error")))
            return t if (t["progress"]["done"] > CHECKPOINT_EVERY + 20 and
                         checkpoints(port) >= 1) else None
        t = wait_for("a checkpoint of " + tid, checkpointed, 120)
        done = t["progress"]["done"]
        if done >= ITERATIONS:
            fail("the training ended before the kill: more iterations (%d)" % ITERATIONS)
        d.kill9()
        if not t.get("latest") or t["latest"]["iteration"] != done:
            fail("the latest row %s at progress %d" % (t.get("latest"), done))
        print("killed at progress %d of %d" % (done, ITERATIONS), flush=True)

        port = d.start()
        t = finished(port, tid)
        starts = [e for e in d.events("training_started", lifetime=1) if e.get("run_id") == tid]
        if not starts or not 0 < starts[0].get("from", 0) < ITERATIONS:
            fail("the restarted daemon's start of %s: %s (killed at %d)" % (tid, starts, done))
        if t["attempts"] != 2:
            fail("resumed training: %d attempts" % t["attempts"])
        resumed = outcome(port, t)

        again = post(port, "/v1/trainings", doc)
        t2 = finished(port, again)
        if [e.get("from") for e in d.events("training_started", lifetime=1)
                if e.get("run_id") == again] != [0]:
            fail("the uninterrupted training did not start at 0")
        whole = outcome(port, t2)

        if resumed[0] != whole[0]:
            fail("model hash after the resume %s, uninterrupted %s" % (resumed[0], whole[0]))
        if sorted(resumed[1]) != sorted(whole[1]) or not resumed[1]:
            fail("matrices: %s vs %s" % (sorted(resumed[1]), sorted(whole[1])))
        for name in whole[1]:
            if resumed[1][name] != whole[1][name]:
                fail("matrix %s differs after the resume" % name)
        if resumed[2] != whole[2] or len(whole[2]) != ITERATIONS:
            fail("the curves differ (%d and %d rows)" % (len(resumed[2]), len(whole[2])))

        # SIGTERM mid-training (no grace): the training goes back to the queue, attempt not
        # counted, and resumes from its checkpoint after the restart with the same bytes
        third = post(port, "/v1/trainings", doc)
        tid, lifetime = third, 2
        wait_for("a checkpoint of " + third, checkpointed, 120)
        t_term = time.monotonic()
        rc = d.stop()
        secs = time.monotonic() - t_term
        if rc != 0 or secs > 5 * time_scale():
            fail("SIGTERM mid-training: exit %s after %.1f s" % (rc, secs))
        port = d.start()
        t3 = finished(port, third)
        starts3 = [e.get("from") for e in d.events("training_started", lifetime=lifetime)
                   if e.get("run_id") == third]
        if len(starts3) != 1 or not 0 < starts3[0] < ITERATIONS or t3["attempts"] != 1:
            fail("after SIGTERM: starts %s, %d attempts" % (starts3, t3["attempts"]))
        term = outcome(port, t3)
        if term[0] != whole[0] or term[1] != whole[1] or term[2] != whole[2]:
            fail("the training stopped by SIGTERM ends with other bytes")
        print("ok: %s killed at %d/%d, resumed from %d as attempt 2; %s stopped by SIGTERM, "
              "resumed from %d; model %s, matrices %s and %d curve rows equal to an "
              "uninterrupted training's" %
              (first, done, ITERATIONS, starts[0]["from"], third, starts3[0], whole[0][:16],
               sorted(whole[1]), ITERATIONS))
        rc = d.stop()
        if rc != 0:
            fail("eirnnd exited with %s" % rc)
        return 0
    finally:
        if d.alive():
            d.kill9()
        pgtest.drop(db)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
