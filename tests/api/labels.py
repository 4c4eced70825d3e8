#!/usr/bin/env python3
"""api/labels: labels on models, runs and analyses, the ?label= and ?sweep_id= filters, the run
resource's "sweep" member and GET /v1/runs/{id}/request (issue 12, section 4; docs/API.md
"Labels").

    labels.py --eirnnd PATH

* Documents with "labels" are accepted; their resources (GET, lists, the answer of the POST)
  show them as sent, "{}" when none; bad labels are 422 naming /labels/<key>.
* ?label=key:value filters (repeatable, AND; split at the first ':'); no match is an empty list;
  a malformed one is 400 naming the parameter "label"; the next link repeats the filters.
* GET /v1/runs?sweep_id= filters by sweep (none here: an empty list); a run shows "sweep": null.
* GET /v1/runs/{id}/request returns the body as sent, byte for byte (application/json), and a
  noisy run without a seed the body with the seed picked.
Exit 0 when all hold.
"""
import argparse
import traceback
import json
import urllib.parse

from analysis_common import Api, Daemon, http, verdict

BAD = []


def check(ok, what):
    if not ok:
        BAD.append(what)
        print("FAIL", what)
    return ok


MODEL = {"class": "rnn", "populations": {"E": 3, "I": 1}, "n_inputs": 1,
         "activation": {"name": "tanh"}, "leak": 1.0,
         "recurrent": {"W": [[0.0, 0.1, 0.2, -0.3], [0.1, 0.0, 0.1, -0.2],
                             [0.2, 0.1, 0.0, -0.1], [0.3, 0.2, 0.1, 0.0]]},
         "input": {"P": [[1.0], [0.5], [0.0], [-0.5]]}}

GENERATED = {"class": "gated", "populations": {"E": 8, "I": 2}, "n_inputs": 1,
             "activation": {"name": "relu"}, "leak": 1.0, "bias": 0.1,
             "recurrent": {"generate": {"seed": 3,
                                        "p": {"EE": 0.5, "EI": 0.5, "IE": 0.5, "II": 0.5},
                                        "dist": "lognormal", "cv": 0.5,
                                        "mean": {"EE": 0.06, "EI": 0.12, "IE": 0.03, "II": 0.1}},
                           "A": {"E": 0.5, "I": 1.0}},
             "input": {"generate": {"seed": 2, "mean": 1.0}}}


def ids(api, path):
    st, j = api.call("GET", path)
    if not check(st == 200, "GET %s: %s %s" % (path, st, j)):
        return None
    return [it["id"] for it in j["items"]]


def q(**labels):
    return "&".join("label=" + urllib.parse.quote("%s:%s" % kv, safe="") for kv in labels.items())


def models(api):
    a = dict(MODEL, labels={"project": "isn", "owner": "ana"})
    b = dict(MODEL, labels={"project": "isn", "owner": "bo"})
    st, ja = api.call("POST", "/v1/models", a)
    check(st == 201 and ja.get("labels") == a["labels"], "model a: %s %s" % (st, ja))
    st, jb = api.call("POST", "/v1/models", b)
    check(st == 201 and jb.get("labels") == b["labels"], "model b: %s %s" % (st, jb))
    st, jc = api.call("POST", "/v1/models", MODEL)
    check(st == 201 and jc.get("labels") == {}, "model without labels: %s %s" % (st, jc))
    gen = dict(GENERATED, labels={"project": "isn", "kind": "generated"})
    st, jg = api.call("POST", "/v1/models", gen)
    check(st == 202 and jg.get("labels") == gen["labels"], "pending model: %s %s" % (st, jg))
    st, j = api.call("GET", "/v1/models/" + ja["id"])
    check(st == 200 and j.get("labels") == a["labels"], "GET model: %s %s" % (st, j))
    got = ids(api, "/v1/models?" + q(project="isn"))
    check(got is not None and set(got) == {ja["id"], jb["id"], jg["id"]},
          "models ?label=project:isn: %s" % got)
    got = ids(api, "/v1/models?" + q(project="isn", owner="bo"))
    check(got == [jb["id"]], "models AND of two labels: %s" % got)
    got = ids(api, "/v1/models?" + q(project="other"))
    check(got == [], "models no match: %s" % got)
    st, j = api.call("GET", "/v1/models?label=project")
    check(st == 400 and j.get("parameter") == "label", "models malformed label: %s %s" % (st, j))
    st, j = api.call("GET", "/v1/models")
    items = {it["id"]: it for it in j["items"]}
    check(items.get(jc["id"], {}).get("labels") == {} and
          items.get(ja["id"], {}).get("labels") == a["labels"], "model list labels: %s" % items)
    # bad labels: 422 naming the member
    for labels, field in [({"bad key": "x"}, "/labels/bad key"), ({"n": 3}, "/labels/n"),
                          ({"v": "x" * 256}, "/labels/v")]:
        st, j = api.call("POST", "/v1/models", dict(MODEL, labels=labels))
        check(st == 422 and j.get("field") == field,
              "model labels %s: %s %s" % (list(labels), st, j))
    st, j = api.call("POST", "/v1/models", dict(MODEL, labels=["a"]))
    check(st == 422 and j.get("field") == "/labels", "model labels not an object: %s %s" % (st, j))
    return ja["id"]


def runs(api, mid):
    la = {"project": "isn", "sweep": "none", "note": "a \"quoted\" é/ü value"}
    lb = {"project": "isn", "arm": "b"}
    docs = [dict(model_id=mid, dt=0.1, inputs={"steps": 5}, labels=la),
            dict(model_id=mid, dt=0.1, inputs={"steps": 5}, labels=lb),
            dict(model_id=mid, dt=0.1, inputs={"steps": 5}, labels=lb),
            dict(model_id=mid, dt=0.1, inputs={"steps": 5})]
    made = []
    for d in docs:
        st, j = api.call("POST", "/v1/runs", d)
        check(st == 202 and j.get("labels") == d.get("labels", {}) and j.get("sweep") is None
              and "sweep" in j, "POST run: %s %s" % (st, j))
        made.append(j["id"])
    for rid, d in zip(made, docs):
        j = api.wait("/v1/runs/" + rid)
        check(j["status"] == "succeeded" and j.get("labels") == d.get("labels", {}) and
              j.get("sweep", 0) is None, "GET run: %s" % j)
    got = ids(api, "/v1/runs?" + q(project="isn"))
    check(got is not None and set(got) == set(made[:3]), "runs ?label=project:isn: %s" % got)
    got = ids(api, "/v1/runs?" + q(project="isn", arm="b"))
    check(got is not None and set(got) == set(made[1:3]), "runs AND: %s" % got)
    got = ids(api, "/v1/runs?" + q(note=la["note"]))
    check(got == [made[0]], "runs label value with quotes and UTF-8: %s" % got)
    got = ids(api, "/v1/runs?" + q(arm="b", project="other"))
    check(got == [], "runs no match: %s" % got)
    # a value holding ':' splits at the first one
    st, j = api.call("POST", "/v1/runs", dict(model_id=mid, dt=0.1, inputs={"steps": 2},
                                               labels={"url": "http://x:8080"}))
    got = ids(api, "/v1/runs?" + q(url="http://x:8080"))
    check(got == [j["id"]], "runs label value with ':': %s" % got)
    for bad in ["label=project", "label=:isn", "label=a%20b:c", "label"]:
        st, j = api.call("GET", "/v1/runs?" + bad)
        check(st == 400 and j.get("parameter") == "label", "runs ?%s: %s %s" % (bad, st, j))
    st, j = api.call("GET", "/v1/runs?" + "&".join("label=k%d:v" % i for i in range(17)))
    check(st == 400 and j.get("parameter") == "label", "17 label filters: %s %s" % (st, j))
    # the next link repeats the filters
    r = http(api.d.port, "GET", "/v1/runs?limit=1&" + q(project="isn", arm="b"))
    link = r.header("Link") or ""
    check(r.status == 200 and "label=project%3Aisn" in link and "label=arm%3Ab" in link,
          "next link with labels: %s %s" % (r.status, link))
    if link.startswith("<"):
        nxt = link[1:link.index(">")]
        st, j = api.call("GET", nxt)
        first = json.loads(r.body)["items"][0]["id"]
        check(st == 200 and [it["id"] for it in j["items"]] == [x for x in made[1:3] if x != first],
              "next page with labels: %s %s" % (st, j))
    # ?sweep_id=: no sweep here
    got = ids(api, "/v1/runs?sweep_id=s_000000000000000000000000")
    check(got == [], "runs ?sweep_id= of no sweep: %s" % got)
    # bad labels on a run: 422 naming the member, nothing queued
    st, j = api.call("POST", "/v1/runs", dict(docs[0], labels={"ok": "1", "b@d": "x"}))
    check(st == 422 and j.get("field") == "/labels/b@d", "run bad label: %s %s" % (st, j))
    return made


def requests(api, mid):
    body = ('{ "model_id" : "%s",\n  "dt": 0.10, "inputs": {"steps": 3},'
            ' "labels": {"k": "v"} }' % mid)
    r = http(api.d.port, "POST", "/v1/runs", body)
    check(r.status == 202, "POST run for /request: %s %s" % (r.status, r.body))
    rid = json.loads(r.body)["id"]
    r = http(api.d.port, "GET", "/v1/runs/%s/request" % rid)
    check(r.status == 200 and r.body == body.encode() and
          (r.header("Content-Type") or "").startswith("application/json"),
          "GET /request: %s %r %s" % (r.status, r.body, r.header("Content-Type")))
    # a noisy run without a seed: the request as stored has the seed picked
    noisy = dict(MODEL, noise={"sigma": 0.1})
    st, j = api.call("POST", "/v1/runs", {"model": noisy, "dt": 0.1, "inputs": {"steps": 3}})
    st2, req = api.call("GET", "/v1/runs/%s/request" % j["id"])
    check(st2 == 200 and isinstance(req.get("seed"), int) and req.get("model") == noisy,
          "GET /request of a noisy run: %s %s" % (st2, req))
    st, j = api.call("GET", "/v1/runs/r_000000000000000000000000/request")
    check(st == 404, "GET /request of no run: %s %s" % (st, j))


def analyses(api, mid):
    a = api.analysis({"kind": "spectrum", "model_id": mid, "of": "W",
                      "labels": {"project": "isn", "what": "spectrum"}})
    b = api.analysis({"kind": "spectrum", "model_id": mid, "of": "W"})
    check(a.get("labels") == {"project": "isn", "what": "spectrum"} and b.get("labels") == {}
          and "sweep" not in a, "analysis labels: %s %s" % (a, b))
    got = ids(api, "/v1/analyses?" + q(what="spectrum"))
    check(got == [a["id"]], "analyses ?label=: %s" % got)
    got = ids(api, "/v1/analyses?kind=spectrum&" + q(what="spectrum", project="isn"))
    check(got == [a["id"]], "analyses ?label= AND kind: %s" % got)
    st, j = api.call("GET", "/v1/analyses?label=x")
    check(st == 400 and j.get("parameter") == "label", "analyses malformed label: %s %s" % (st, j))
    st, j = api.call("POST", "/v1/analyses", {"kind": "spectrum", "model_id": mid,
                                              "labels": {"x": 1}})
    check(st == 422 and j.get("field") == "/labels/x", "analysis bad label: %s %s" % (st, j))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eirnnd", required=True)
    a = ap.parse_args()
    d = Daemon(a.eirnnd, ["--workers", "2"])
    api = Api(d)
    try:
        mid = models(api)
        runs(api, mid)
        requests(api, mid)
        analyses(api, mid)
    except Exception as e:  # a failure to talk to the daemon is a failure of the test
        traceback.print_exc()
        BAD.append("%s: %s" % (type(e).__name__, e))
    finally:
        d.stop_checked(BAD)
    return verdict(BAD)


if __name__ == "__main__":
    raise SystemExit(main())
