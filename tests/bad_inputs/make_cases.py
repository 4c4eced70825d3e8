#!/usr/bin/env python3
"""Write the hostile-input catalogue: one JSON file per case in tests/bad_inputs/cases/.

Edit this script and run `python3 tests/bad_inputs/make_cases.py`, not the case files.
The format of a case is described in tests/bad_inputs/README.md.
"""
import base64
import copy
import json
import math
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, "schema", "examples")
OUT = os.path.join(HERE, "cases")

with open(os.path.join(EXAMPLES, "requests", "model_gated_explicit.json")) as f:
    MODEL = json.load(f)  # gated, N = 6 (E 4, I 2), 2 inputs, readout from E
MODEL_REF = "$MODEL:model_gated_explicit"
RUN = {"model_id": MODEL_REF, "dt": 0.1, "inputs": {"steps": 10, "trials": 1}}

cases = []


def add(name, about, request, status, field=None, ptype=None, problem=True, **extra):
    exp = {"status": status, "problem": problem}
    if problem and status is not None:
        exp["field"] = field
        if ptype:
            exp["type"] = ptype
    exp.update(extra)
    cases.append((name, {"about": about, "request": request, "expect": exp}))


def post(path, body_json=None, body=None, headers=None, **kw):
    r = {"method": "POST", "path": path}
    if headers:
        r["headers"] = headers
    if body_json is not None:
        r["body_json"] = body_json
    if body is not None:
        r["body"] = body
    r.update(kw)
    return r


def parts(pieces):
    """A long string given as [text, count] pieces ("{i}" in text is replaced by the index of the
    repetition when a third element is true); expanded by the runner."""
    return {"$parts": pieces}


def get(path, headers=None, method="GET"):
    r = {"method": method, "path": path}
    if headers:
        r["headers"] = headers
    return r


def model(**changes):
    """The base model with top-level or "a/b" path changes (None deletes)."""
    m = copy.deepcopy(MODEL)
    for k, v in changes.items():
        parts = k.split("__")
        o = m
        for p in parts[:-1]:
            o = o[p]
        if v is None:
            o.pop(parts[-1], None)
        else:
            o[parts[-1]] = v
    return m


def run(**changes):
    r = copy.deepcopy(RUN)
    for k, v in changes.items():
        parts = k.split("__")
        o = r
        for p in parts[:-1]:
            o = o.setdefault(p, {})
        if v is None:
            o.pop(parts[-1], None)
        else:
            o[parts[-1]] = v
    return r


def binary(values, shape, dtype="float64"):
    fmt = "<%d%s" % (len(values), "d" if dtype == "float64" else "f")
    return {"dtype": dtype, "shape": shape,
            "base64": base64.b64encode(struct.pack(fmt, *values)).decode()}


W = MODEL["recurrent"]["W"]
FLAT_W = [x for row in W for x in row]
P = MODEL["input"]["P"]
FLAT_P = [x for row in P for x in row]
MALFORMED = "malformed-json"
BP = "bad-parameter"
INVALID = "invalid-document"
M, R = "/v1/models", "/v1/runs"

# ---- malformed and truncated JSON ------------------------------------------------------------
model_text = json.dumps(MODEL)
run_text = json.dumps(RUN)
add("json_empty_body", "POST without a body", post(M), 400, ptype=MALFORMED)
add("json_whitespace_only", "a body of blanks", post(M, body="   \n\t "), 400, ptype=MALFORMED)
add("json_open_brace", "a lone '{'", post(M, body="{"), 400, ptype=MALFORMED)
add("json_truncated_key", "cut after a key", post(M, body='{"name": '), 400, ptype=MALFORMED)
add("json_truncated_model", "the model cut at 200 bytes", post(M, body=model_text[:200]), 400,
    ptype=MALFORMED)
add("json_truncated_model_last_byte", "the model without its closing brace",
    post(M, body=model_text[:-1]), 400, ptype=MALFORMED)
add("json_truncated_run", "a run cut in the middle", post(R, body=run_text[:30]), 400,
    ptype=MALFORMED)
add("json_truncated_string", "cut inside a string", post(M, body='{"name": "abc'), 400,
    ptype=MALFORMED)
add("json_truncated_escape", "cut inside a \\u escape", post(M, body='{"name": "\\u00'), 400,
    ptype=MALFORMED)
add("json_trailing_comma", "trailing comma in an object", post(M, body='{"leak": 1.0,}'), 400,
    ptype=MALFORMED)
add("json_single_quotes", "single-quoted strings", post(M, body="{'leak': 1.0}"), 400,
    ptype=MALFORMED)
add("json_bare_nan", "NaN literal", post(M, body='{"leak": NaN}'), 400, ptype=MALFORMED)
add("json_bare_infinity", "Infinity literal", post(M, body='{"leak": Infinity}'), 400,
    ptype=MALFORMED)
add("json_comment", "a // comment", post(M, body='{"leak": 1.0 // one\n}'), 400, ptype=MALFORMED)
add("json_two_documents", "two objects in one body", post(M, body="{} {}"), 400, ptype=MALFORMED)
add("json_trailing_garbage", "garbage after the object", post(R, body=run_text + "xyz"), 400,
    ptype=MALFORMED)
add("json_invalid_utf8", "invalid UTF-8 in a string",
    post(M, body_b64=base64.b64encode(b'{"name": "\xff\xfe"}').decode()), 400, ptype=MALFORMED)
add("json_nul_byte", "a raw NUL byte inside the body",
    post(M, body_b64=base64.b64encode(b'{"name": "a\x00b"}').decode()), 400, ptype=MALFORMED)
add("json_escaped_nul", "\\u0000 inside a string", post(M, body='{"name": "a\\u0000b"}'), 400,
    ptype=MALFORMED)
add("json_lone_surrogate", "a lone UTF-16 surrogate", post(M, body='{"name": "\\ud800"}'), 400,
    ptype=MALFORMED)
add("json_control_char", "an unescaped control character in a string",
    post(M, body='{"name": "a\x01b"}'), 400, ptype=MALFORMED)
add("json_bad_escape", "an unknown escape", post(M, body='{"name": "\\x41"}'), 400,
    ptype=MALFORMED)
add("json_bom", "a UTF-8 byte order mark first",
    post(M, body_b64=base64.b64encode(b"\xef\xbb\xbf" + model_text.encode()).decode()), 400,
    ptype=MALFORMED)
add("json_utf16", "the model in UTF-16",
    post(M, body_b64=base64.b64encode(model_text.encode("utf-16")).decode()), 400,
    ptype=MALFORMED)
add("json_top_string", "a JSON string, not an object", post(M, body='"model"'), 422, field="",
    ptype=INVALID)
add("json_top_array", "a JSON array", post(M, body="[]"), 422, field="", ptype=INVALID)
add("json_top_null", "JSON null", post(R, body="null"), 422, field="", ptype=INVALID)
add("json_top_number", "a number", post(R, body="42"), 422, field="", ptype=INVALID)
add("json_empty_object_model", "an empty model", post(M, body="{}"), 422, field="/populations",
    ptype=INVALID)
add("json_empty_object_run", "an empty run", post(R, body="{}"), 422, field="/model_id",
    ptype=INVALID)

# ---- duplicate keys --------------------------------------------------------------------------
add("dup_top_level", "leak twice", post(M, body='{"leak": 1.0, "leak": 2.0}'), 400,
    ptype=MALFORMED)
add("dup_nested", "a duplicate key inside recurrent",
    post(M, body=model_text.replace('"dale": "reject"', '"dale": "reject", "dale": "project"')),
    400, ptype=MALFORMED)
add("dup_run_dt", "dt twice in a run", post(R, body=run_text.replace('"dt": 0.1', '"dt": 0.1, "dt": 0.2')),
    400, ptype=MALFORMED)
add("dup_escaped_key", "the same key once escaped", post(M, body='{"leak": 1, "l\\u0065ak": 1}'),
    400, ptype=MALFORMED)

# ---- wrong types -----------------------------------------------------------------------------
add("type_leak_string", "leak as a string", post(M, body_json=model(leak="1.0")), 422, "/leak",
    INVALID)
add("type_leak_bool", "leak true", post(M, body_json=model(leak=True)), 422, "/leak", INVALID)
add("type_populations_array", "populations as an array",
    post(M, body_json=model(populations=[4, 2])), 422, "/populations", INVALID)
add("type_population_fraction", "E = 4.5", post(M, body_json=model(populations={"E": 4.5, "I": 2})),
    422, "/populations/E", INVALID)
add("type_population_string", "E = \"4\"",
    post(M, body_json=model(populations={"E": "4", "I": 2})), 422, "/populations/E", INVALID)
add("type_name_number", "name 42", post(M, body_json=model(name=42)), 422, "/name", INVALID)
add("type_n_inputs_negative", "n_inputs -1", post(M, body_json=model(n_inputs=-1)), 422,
    "/n_inputs", INVALID)
add("type_W_string", "W as a string", post(M, body_json=model(recurrent__W="matrix")), 422,
    "/recurrent/W", INVALID)
w = copy.deepcopy(W); w[0][1] = "x"
add("type_W_element_string", "a string inside W", post(M, body_json=model(recurrent__W=w)), 422,
    "/recurrent/W/0/1", INVALID)
w = copy.deepcopy(W); w[2][3] = None
add("type_W_element_null", "null inside W", post(M, body_json=model(recurrent__W=w)), 422,
    "/recurrent/W/2/3", INVALID)
w = copy.deepcopy(W); w[5][0] = True
add("type_W_element_bool", "true inside W", post(M, body_json=model(recurrent__W=w)), 422,
    "/recurrent/W/5/0", INVALID)
add("type_activation_number", "activation 3", post(M, body_json=model(activation=3)), 422,
    "/activation", INVALID)
add("type_class_number", "class 1", post(M, body_json=model(**{"class": 1})), 422, "/class",
    INVALID)
add("type_run_dt_string", "dt \"0.1\"", post(R, body_json=run(dt="0.1")), 422, "/dt", INVALID)
add("type_run_steps_string", "steps \"10\"", post(R, body_json=run(inputs__steps="10")), 422,
    "/inputs/steps", INVALID)
add("type_run_seed_fraction", "seed 1.5", post(R, body_json=run(seed=1.5)), 422, "/seed", INVALID)
add("type_run_record_string", "record \"V\"", post(R, body_json=run(record="V")), 422, "/record",
    INVALID)
add("type_run_vars_string", "record.vars \"V\"", post(R, body_json=run(record={"vars": "V"})), 422,
    "/record/vars", INVALID)
add("type_run_model_id_number", "model_id 42", post(R, body_json=run(model_id=42)), 422,
    "/model_id", INVALID)
add("type_run_model_string", "model as a string",
    post(R, body_json=run(model_id=None, model="gated")), 422, "/model", INVALID)
add("type_run_integrator_number", "integrator 3", post(R, body_json=run(integrator=3)), 422,
    "/integrator", INVALID)
add("type_run_V0_string", "V0 \"zero\"", post(R, body_json=run(V0="zero")), 422, "/V0", INVALID)
add("type_run_time_limit_string", "time_limit \"1h\"", post(R, body_json=run(time_limit="1h")),
    422, "/time_limit", INVALID)

# ---- deep nesting ----------------------------------------------------------------------------
def nested(depth, inner="0"):
    return "[" * depth + inner + "]" * depth


add("deep_W_100", "W nested 100 deep",
    post(M, body=model_text.replace(json.dumps(W), nested(100))), 422, "/recurrent/W", INVALID,
    field_prefix=True)
add("deep_name_objects_100", "name as 100 nested objects",
    post(M, body='{"name": ' + '{"a": ' * 100 + "1" + "}" * 100 + "}"), 422, "/name", INVALID,
    field_prefix=True)
add("deep_inputs_100", "run inputs nested 100 deep",
    post(R, body=json.dumps(run(inputs=None))[:-1] + ', "inputs": ' + nested(100) + "}"), 422,
    "/inputs", INVALID, field_prefix=True)
add("deep_arrays_5000", "5000 nested arrays (over the JSON parser's depth)",
    post(M, body=parts([["[", 5000], ["]", 5000]])), 400, ptype=MALFORMED)
add("deep_objects_100000", "100000 nested objects",
    post(M, body=parts([['{"a":', 100000], ["1", 1], ["}", 100000]])), 400, ptype=MALFORMED)
add("deep_open_only_200000", "200000 '[' and nothing else",
    post(M, body=parts([["[", 200000]])), 400, ptype=MALFORMED)

# ---- huge numbers and strings ----------------------------------------------------------------
add("num_real_overflow", "leak 1e400", post(M, body='{"leak": 1e400}'), 400, ptype=MALFORMED)
add("num_integer_overflow", "E 99999999999999999999999 (beyond 64 bits: read as a real)",
    post(M, body='{"populations": {"E": 99999999999999999999999, "I": 1}}'), 422,
    "/populations/E", INVALID)
add("num_seed_2_64", "seed 2^64", post(R, body=run_text[:-1] + ', "seed": 18446744073709551616}'),
    422, "/seed", INVALID)
add("num_population_1e30", "E 1e30 (a real)", post(M, body_json=model(populations={"E": 1e30, "I": 2})),
    422, "/populations/E", INVALID)
add("num_million_digit_integer", "steps with 600000 digits",
    post(R, body=parts([['{"model_id": "' + MODEL_REF + '", "dt": 0.1, "inputs": {"trials": 1, "steps": 1', 1],
                        ["0", 600000], ["}}", 1]])), 400, ptype=MALFORMED)
add("num_long_fraction", "E = 0.000...1000... (300000 digits)",
    post(M, body=parts([['{"populations": {"E": 0.', 1], ["0", 300], ["1", 1], ["0", 300000], [", \"I\": 1}, \"leak\": 1}", 1]])), 422,
    "/populations/E", INVALID)
add("num_negative_zero_steps", "steps -0", post(R, body_json=run(inputs__steps=-0.0)), 422,
    "/inputs/steps", INVALID)
add("num_dt_subnormal_negative", "dt -5e-324", post(R, body_json=run(dt=-5e-324)), 422, "/dt", INVALID)
add("str_name_900k", "a 900 kB name",
    post(M, body=parts([['{"name": "', 1], ["n", 900000], ['", "populations": {"E": 1, "I": 1}, "leak": 1}', 1]])),
    422, "/name", INVALID)
add("str_key_200k", "a 200 kB unknown key",
    post(M, body=parts([['{"', 1], ["k", 200000], ['": 1, "populations": {"E": 1, "I": 1}, "leak": 1}', 1]])),
    422, None, INVALID, field_any=True)
add("str_model_id_100k", "a 100 kB model_id",
    post(R, body=parts([['{"model_id": "', 1], ["m", 100000], ['", "dt": 0.1, "inputs": {"steps": 1, "trials": 1}}', 1]])),
    422, "/model_id", INVALID)
add("str_many_keys", "60000 unknown keys",
    post(M, body=parts([["{", 1], ['"k{i}": 1, ', 60000, True], ['"leak": 1}', 1]])), 422, None,
    INVALID, field_any=True)
add("body_over_limit", "a 2 MiB body (limit 1 MiB)",
    post(M, body=parts([['{"name": "', 1], ["x", 2 << 20], ['"}', 1]])), 413, None, "body-too-large")
add("body_claimed_10G", "Content-Length 10 GB and no body",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n"}, 413, None,
    "body-too-large")
add("body_expect_continue_too_large", "Expect: 100-continue with 2 MiB claimed",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2097152\r\n\r\n"},
    413, None, "body-too-large")
add("body_chunked_over_limit", "a 1.5 MiB chunked body",
    post(M, body=parts([['{"name": "', 1], ["x", 1536 * 1024], ['"}', 1]]), chunked=True), 413, None,
    "body-too-large")

# ---- NaN and Inf inside binary arrays --------------------------------------------------------
def with_bad(values, idx, bad):
    v = list(values); v[idx] = bad; return v


nan, inf = float("nan"), float("inf")
add("bin_W_nan", "W float64 with a NaN",
    post(M, body_json=model(recurrent__W=binary(with_bad(FLAT_W, 7, nan), [6, 6]))), 422,
    "/recurrent/W", INVALID)
add("bin_W_inf", "W float64 with +Inf",
    post(M, body_json=model(recurrent__W=binary(with_bad(FLAT_W, 0, inf), [6, 6]))), 422,
    "/recurrent/W", INVALID)
add("bin_W_f32_minus_inf", "W float32 with -Inf",
    post(M, body_json=model(recurrent__W=binary(with_bad(FLAT_W, 35, -inf), [6, 6], "float32"))),
    422, "/recurrent/W", INVALID)
add("bin_P_nan", "P float64 with a NaN",
    post(M, body_json=model(input={"P": binary(with_bad(FLAT_P, 3, nan), [6, 2])})), 422,
    "/input/P", INVALID)
add("bin_leak_nan", "per-cell leak with a NaN",
    post(M, body_json=model(leak=binary([1, 1, nan, 1, 1, 1], [6]))), 422, "/leak", INVALID)
add("bin_bias_inf", "bias with +Inf", post(M, body_json=model(bias=binary([inf] * 6, [6]))), 422,
    "/bias", INVALID)
add("bin_W_out_nan", "W_out with a NaN",
    post(M, body_json=model(readout={"W_out": binary([0.25, nan, 0.25, 0.25], [1, 4]), "from": "E"})),
    422, "/readout/W_out", INVALID)
add("bin_inputs_f32_nan", "run inputs float32 with a NaN",
    post(R, body_json=run(inputs=binary(with_bad([0.5] * 20, 11, nan), [10, 2], "float32"))), 422,
    "/inputs", INVALID)
add("bin_inputs_inf", "run inputs float64 with -Inf",
    post(R, body_json=run(inputs=binary(with_bad([0.5] * 20, 0, -inf), [10, 2]))), 422, "/inputs",
    INVALID)
add("bin_V0_inf", "V0 with +Inf", post(R, body_json=run(V0=binary([0, 0, inf, 0, 0, 0], [6]))), 422,
    "/V0", INVALID)

# ---- shapes that disagree --------------------------------------------------------------------
b = binary(FLAT_W, [6, 6]); b["base64"] = binary(FLAT_W[:30], [5, 6])["base64"]
add("shape_bytes_short", "shape [6,6] with 30 values", post(M, body_json=model(recurrent__W=b)), 422,
    "/recurrent/W/base64", INVALID)
add("shape_W_5x6", "W binary of shape [5,6]",
    post(M, body_json=model(recurrent__W=binary(FLAT_W[:30], [5, 6]))), 422, "/recurrent/W", INVALID,
    field_prefix=True)
add("shape_W_3d", "W binary of shape [6,6,1]",
    post(M, body_json=model(recurrent__W=binary(FLAT_W, [6, 6, 1]))), 422, "/recurrent/W", INVALID,
    field_prefix=True)
add("shape_negative", "shape [-6,-6]",
    post(M, body_json=model(recurrent__W=dict(binary(FLAT_W, [6, 6]), shape=[-6, -6]))), 422,
    "/recurrent/W", INVALID, field_prefix=True)
add("shape_empty", "shape []",
    post(M, body_json=model(recurrent__W=dict(binary(FLAT_W, [6, 6]), shape=[]))), 422,
    "/recurrent/W", INVALID, field_prefix=True)
add("shape_huge_claim", "shape [1e9, 1e9] with 36 values",
    post(M, body_json=model(recurrent__W=dict(binary(FLAT_W, [6, 6]), shape=[1000000000, 1000000000]))),
    422, "/recurrent/W", INVALID, field_prefix=True)
add("shape_overflow_claim", "shape [2^62, 4] (the product overflows)",
    post(M, body_json=model(recurrent__W=dict(binary(FLAT_W, [6, 6]), shape=[1 << 62, 4]))), 422,
    "/recurrent/W", INVALID, field_prefix=True)
add("shape_fraction", "shape [6.5, 6]",
    post(M, body_json=model(recurrent__W=dict(binary(FLAT_W, [6, 6]), shape=[6.5, 6]))), 422,
    "/recurrent/W", INVALID, field_prefix=True)
add("shape_ragged_lists", "W rows of 6 and 5", post(M, body_json=model(recurrent__W=W[:5] + [W[5][:5]])),
    422, "/recurrent/W/5", INVALID)
add("shape_P_3_wide", "P with 3 columns for 2 inputs",
    post(M, body_json=model(input={"P": [row + [0.0] for row in P]})), 422, "/input/P", INVALID)
add("shape_W_out_wide", "W_out wider than E",
    post(M, body_json=model(readout={"W_out": [[0.2] * 6], "from": "E"})), 422, "/readout/W_out",
    INVALID)
add("shape_inputs_3_wide", "run inputs of width 3",
    post(R, body_json=run(inputs=[[0.0, 0.0, 0.0]] * 4)), 422, "/inputs", INVALID)
add("shape_inputs_4d", "run inputs with 4 dimensions",
    post(R, body_json=run(inputs=[[[[0.0, 0.0]]]])), 422, "/inputs", INVALID, field_prefix=True)
add("shape_V0_length_5", "V0 of 5 values", post(R, body_json=run(V0=[0.0] * 5)), 422, "/V0", INVALID)
add("shape_V0_batch_mismatch", "V0 for 3 trials in a 1-trial run",
    post(R, body_json=run(V0=[[0.0] * 6] * 3)), 422, "/V0", INVALID)
add("shape_inputs_claim_huge", "inputs binary claiming [1e9, 1e9, 2]",
    post(R, body_json=run(inputs=dict(binary([0.0] * 4, [2, 2]), shape=[1000000000, 1000000000, 2]))),
    422, "/inputs", INVALID, field_prefix=True)

# ---- N = 0, huge N ---------------------------------------------------------------------------
tiny = {"populations": {"E": 1, "I": 1}, "leak": 1.0, "recurrent": {"W": [[0, 0], [0, 0]], "A": 1}}
add("n_zero", "E = 0 and I = 0",
    post(M, body_json=dict(tiny, populations={"E": 0, "I": 0}, recurrent={"W": [], "A": 1})), 422,
    "/populations", INVALID, field_prefix=True)
add("n_negative", "E = -4", post(M, body_json=model(populations={"E": -4, "I": 2})), 422,
    "/populations/E", INVALID)
add("n_over_limit", "N = 65 (limit 64)",
    post(M, body_json=dict(tiny, populations={"E": 60, "I": 5}, recurrent={"generate": {"seed": 1, "p": 0.1, "dist": "constant", "mean": 0.1}, "A": 1})),
    422, "/populations", INVALID)
add("n_int_max", "E = 2^31-1, I = 1 (the sum overflows an int)",
    post(M, body_json=dict(tiny, populations={"E": 2147483647, "I": 1})), 422, "/populations",
    INVALID, field_prefix=True)
add("n_both_int_max", "E = I = 2^31-1",
    post(M, body_json=dict(tiny, populations={"E": 2147483647, "I": 2147483647})), 422,
    "/populations", INVALID, field_prefix=True)
add("n_generated_million", "a generated recipe for N = 10^6",
    post(M, body_json=dict(tiny, populations={"E": 800000, "I": 200000}, recurrent={"generate": {"seed": 1, "p": 0.1, "dist": "constant", "mean": 0.1}, "A": 1})),
    422, "/populations", INVALID, field_prefix=True)
add("n_inline_run_huge", "a run with an inline model of N = 10^6",
    post(R, body_json=run(model_id=None, model=dict(tiny, populations={"E": 800000, "I": 200000}))),
    422, "/model/populations", INVALID, field_prefix=True)
add("n_inputs_huge", "n_inputs 10^9", post(M, body_json=model(n_inputs=1000000000)), 422,
    "/n_inputs", INVALID)

# ---- T or B beyond the limits ----------------------------------------------------------------
add("T_over_limit", "steps 1001 (limit 1000)", post(R, body_json=run(inputs__steps=1001)), 422,
    "/inputs/steps", INVALID)
add("T_huge", "steps 10^15", post(R, body_json=run(inputs__steps=10 ** 15)), 422, "/inputs/steps",
    INVALID)
add("T_int64_max", "steps 2^63-1", post(R, body_json=run(inputs__steps=(1 << 63) - 1)), 422,
    "/inputs/steps", INVALID)
add("B_over_limit", "trials 9 (limit 8)", post(R, body_json=run(inputs__trials=9)), 422,
    "/inputs/trials", INVALID)
add("B_huge", "trials 2^31", post(R, body_json=run(inputs__trials=1 << 31)), 422, "/inputs/trials",
    INVALID)
add("T_nested_rows_over", "1001 rows of nested inputs", post(R, body_json=run(inputs=[[0.0, 0.0]] * 1001)),
    422, "/inputs", INVALID, field_prefix=True)
add("recorded_over_limit", "record V r z y every step for 8 x 1000 (limit 100000 values)",
    post(R, body_json=run(inputs={"steps": 1000, "trials": 8}, record={"vars": ["V", "r", "z", "y"], "every": 1})),
    422, "/record", INVALID, field_prefix=True)
add("time_limit_negative", "time_limit -5", post(R, body_json=run(time_limit=-5)), 422, "/time_limit",
    INVALID)

# ---- negative or zero leak and dt ------------------------------------------------------------
add("leak_zero", "leak 0", post(M, body_json=model(leak=0)), 422, "/leak", INVALID)
add("leak_negative", "leak -1", post(M, body_json=model(leak=-1.0)), 422, "/leak", INVALID)
add("leak_one_cell_zero", "per-cell leak with a 0", post(M, body_json=model(leak=[1, 1, 1, 1, 1, 0])),
    422, "/leak/5", INVALID)
add("leak_tiny_negative", "leak -1e-300", post(M, body_json=model(leak=-1e-300)), 422, "/leak",
    INVALID)
add("dt_zero", "dt 0", post(R, body_json=run(dt=0)), 422, "/dt", INVALID)
add("dt_negative", "dt -0.1", post(R, body_json=run(dt=-0.1)), 422, "/dt", INVALID)
add("dt_tiny_negative", "dt -1e-300", post(R, body_json=run(dt=-1e-300)), 422, "/dt", INVALID)
add("dt_string_nan", "dt \"NaN\"", post(R, body_json=run(dt="NaN")), 422, "/dt", INVALID)

# ---- Dale's law, gated with linear -----------------------------------------------------------
w = copy.deepcopy(W); w[1][0] = -0.3
add("dale_E_negative", "a negative weight from an E cell", post(M, body_json=model(recurrent__W=w)),
    422, "/recurrent/W", INVALID)
w = copy.deepcopy(W); w[0][5] = 0.4
add("dale_I_positive", "a positive weight from an I cell", post(M, body_json=model(recurrent__W=w)),
    422, "/recurrent/W", INVALID)
w = copy.deepcopy(W); w[0][4] = 0.4
add("dale_binary", "a Dale violation in a binary W",
    post(M, body_json=model(recurrent__W=binary([x for r in w for x in r], [6, 6]))), 422,
    "/recurrent/W", INVALID)
add("dale_unknown_policy", "dale \"ignore\"", post(M, body_json=model(recurrent__dale="ignore")), 422,
    "/recurrent/dale", INVALID)
add("gated_linear", "class gated with a linear activation",
    post(M, body_json=model(activation={"name": "linear"})), 422, "/activation", INVALID)
add("gated_tanh", "class gated with tanh", post(M, body_json=model(activation={"name": "tanh"})), 422,
    "/activation", INVALID)
add("gated_linear_inline", "an inline gated model with linear in a run",
    post(R, body_json=run(model_id=None, model=model(activation={"name": "linear"}))), 422,
    "/model/activation", INVALID)

# ---- unknown fields --------------------------------------------------------------------------
add("unknown_model_top", "model field \"foo\"", post(M, body_json=model(foo=1)), 422, "/foo", INVALID)
add("unknown_recurrent", "recurrent.foo", post(M, body_json=model(recurrent__foo=1)), 422,
    "/recurrent/foo", INVALID)
add("unknown_run_top", "run field \"foo\"", post(R, body_json=run(foo=1)), 422, "/foo", INVALID)
add("unknown_run_record", "record.foo", post(R, body_json=run(record={"vars": ["V"], "foo": 1})), 422,
    "/record/foo", INVALID)
add("unknown_inline_model", "an unknown field in an inline model",
    post(R, body_json=run(model_id=None, model=model(foo=1))), 422, "/model/foo", INVALID)
add("unknown_empty_key", "an empty key", post(M, body_json=model(**{"": 1})), 422, "/", INVALID)
add("unknown_key_escaping", "a key with / and ~ (RFC 6901 escaping)",
    post(M, body_json=model(**{"a/b~c": 1})), 422, "/a~1b~0c", INVALID)
add("unknown_key_unicode", "a key in Cyrillic", post(M, body_json=model(**{"лик": 1})), 422,
    "/лик", INVALID)

# ---- bad base64 ------------------------------------------------------------------------------
good = binary(FLAT_W, [6, 6])
add("b64_bad_chars", "base64 of '@' characters",
    post(M, body_json=model(recurrent__W=dict(good, base64="@" * len(good["base64"])))), 422,
    "/recurrent/W/base64", INVALID)
add("b64_no_padding", "base64 without '='",
    post(M, body_json=model(readout={"W_out": dict(binary([0.25] * 4, [1, 4], "float32"), base64=binary([0.25] * 4, [1, 4], "float32")["base64"].rstrip("=") + "A"), "from": "E"})),
    422, "/readout/W_out/base64", INVALID, field_prefix=True)
add("b64_whitespace", "base64 with a newline inside",
    post(M, body_json=model(recurrent__W=dict(good, base64=good["base64"][:40] + "\n" + good["base64"][40:]))),
    422, "/recurrent/W/base64", INVALID)
add("b64_urlsafe", "the URL-safe alphabet",
    post(M, body_json=model(recurrent__W=dict(good, base64=good["base64"].replace("A", "-", 1)))), 422,
    "/recurrent/W/base64", INVALID)
add("b64_empty", "an empty base64 for shape [6,6]", post(M, body_json=model(recurrent__W=dict(good, base64=""))),
    422, "/recurrent/W/base64", INVALID)
add("b64_number", "base64 as a number", post(M, body_json=model(recurrent__W=dict(good, base64=12))),
    422, "/recurrent/W/base64", INVALID)
add("b64_padding_middle", "'=' in the middle",
    post(M, body_json=model(recurrent__W=dict(good, base64="AA==" + good["base64"][4:]))), 422,
    "/recurrent/W/base64", INVALID)
add("b64_dtype_int32", "dtype int32", post(M, body_json=model(recurrent__W=dict(good, dtype="int32"))),
    422, "/recurrent/W/dtype", INVALID)
add("b64_dtype_missing", "no dtype",
    post(M, body_json=model(recurrent__W={"shape": [6, 6], "base64": good["base64"]})), 422,
    "/recurrent/W", INVALID, field_prefix=True)
add("b64_extra_key", "a binary array with \"order\"",
    post(M, body_json=model(recurrent__W=dict(good, order="F"))), 422, "/recurrent/W/order", INVALID)
add("b64_run_inputs_bad", "run inputs with bad base64",
    post(R, body_json=run(inputs={"dtype": "float64", "shape": [10, 2], "base64": "!!!!"})), 422,
    "/inputs/base64", INVALID)

# ---- lying Content-Length and broken framing (raw) -------------------------------------------
short_body = '{"dt": 0.1, "inputs": {"steps": 10}}'
add("cl_too_short", "Content-Length 10 for a 36-byte body: the daemon parses 10 bytes",
    {"raw": "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n" + short_body},
    400, None, MALFORMED)
add("cl_too_long_half_close", "Content-Length 1000 for 36 bytes, then the client shuts its side",
    {"raw": "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + short_body,
     "after_send": "shutdown"}, None, problem=False,
    note="the daemon cannot answer a request whose body never ends: it closes the connection")
add("cl_too_long_hold", "Content-Length 1000 for 36 bytes, connection kept open",
    {"raw": "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + short_body,
     "after_send": "hold"}, None, problem=False,
    note="closed by the connection timeout (--connection-timeout) without an answer")
add("cl_zero_with_body", "Content-Length 0 followed by a body",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + model_text},
    400, None, MALFORMED)
add("cl_not_a_number", "Content-Length abc",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}"}, 400, problem=False,
    note="rejected by libmicrohttpd before the daemon sees the request")
add("cl_negative", "Content-Length -1",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}"}, 400, problem=False,
    note="rejected by libmicrohttpd")
add("cl_overflow", "Content-Length 2^64+",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}"},
    413, problem=False, status_any=[400, 413], note="refused by libmicrohttpd")
add("cl_two_values", "two Content-Length headers that disagree",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"},
    400, None, "bad-parameter", parameter="Content-Length",
    note="an ambiguous body end (request smuggling): refused before the body is read")
add("cl_two_same_values", "two equal Content-Length headers",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"},
    422, "/populations", INVALID, note="the same length twice is unambiguous (RFC 9112 6.3)")
add("cl_and_chunked", "Content-Length and Transfer-Encoding: chunked",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
    400, None, "bad-parameter", parameter="Transfer-Encoding",
    note="an ambiguous body end (request smuggling, RFC 9112 6.3): refused, connection closed")
add("chunked_bad_size", "a chunk size that is not hex",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
    400, problem=False, note="rejected by libmicrohttpd")
add("chunked_size_lies", "a chunk longer than its size, then garbage",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xxxx\r\n0\r\n\r\n"},
    400, problem=False, note="rejected by libmicrohttpd")
add("chunked_huge_size", "a chunk size of 2^64",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n"},
    413, problem=False, status_any=[400, 413], note="refused by libmicrohttpd")
add("te_unknown", "Transfer-Encoding: gzip",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n{}"},
    400, None, "bad-parameter", parameter="Transfer-Encoding",
    note="only exactly 'chunked' is accepted; refused and the connection closed")

# ---- paths, ids ------------------------------------------------------------------------------
NF = "not-found"
add("id_dotdot_encoded", "/v1/models/%2e%2e", get("/v1/models/%2e%2e"), 404, None, NF)
add("id_dotdot_raw", "/v1/models/../../etc/passwd", get("/v1/models/../../etc/passwd"), 404, None, NF)
add("id_traversal_encoded_slashes", "..%2f..%2fetc%2fpasswd as a run id",
    get("/v1/runs/..%2f..%2fetc%2fpasswd/results"), 404, None, NF)
add("id_traversal_results_var", "a results variable ..%2f..%2fdb",
    get("/v1/runs/$RUN:done/results/..%2f..%2feirnn.db"), 404, None, NF)
add("id_nul_encoded", "a run id followed by %00 and junk", get("/v1/runs/$RUN:done%00junk"), 404,
    None, NF)
add("id_nul_only", "/v1/models/%00", get("/v1/models/%00"), 404, None, NF)
add("id_var_nul", "a results variable V%00x", get("/v1/runs/$RUN:done/results/V%00x"), 404, None, NF)
add("id_unicode_encoded", "an id with é", get("/v1/models/m_%C3%A9"), 404, None, NF)
add("id_unicode_raw", "raw UTF-8 bytes in the path", get("/v1/models/m_\u00e9\u2603"), 404, None, NF)
add("id_rtl_override", "a right-to-left override in an id", get("/v1/runs/r_%E2%80%AEabc"), 404, None, NF)
add("id_invalid_utf8", "%FF%FE in an id", get("/v1/runs/%FF%FE"), 404, None, NF)
add("id_long_unicode_cut", "600 bytes of 'é' (the kept path is cut inside a character)",
    get(parts([["/v1/models/", 1], ["%C3%A9", 300]])), 404, None, NF)
add("q_wait_invalid_utf8", "?wait=%FF%FE", get("/v1/runs/$RUN:done?wait=%FF%FE"), 400, None, BP,
    parameter="wait")
add("q_status_invalid_utf8", "?status=%C3 (a cut character)", get("/v1/runs?status=%C3"), 400, None,
    BP, parameter="status")
add("q_limit_nul", "?limit=5%00junk", get("/v1/runs?limit=5%00junk"), 400, None, BP, parameter="limit")
add("unknown_key_long_unicode", "an unknown key of 300 'é' (the pointer is cut)",
    post(M, body_json=model(**{"é" * 300: 1})), 422, "/" + "é" * 10, INVALID, field_startswith=True)
add("id_long_5000", "a 5000-character id", get(parts([["/v1/models/", 1], ["a", 5000]])), 404, None, NF)
add("id_sql", "an id with SQL", get("/v1/runs/r_'%20OR%201=1%20--"), 404, None, NF)
add("id_sql_delete", "DELETE with an SQL id", get("/v1/models/%27%3B%20DROP%20TABLE%20runs%3B--", method="DELETE"),
    404, None, NF)
add("id_percent_garbage", "a lone % and %zz", get("/v1/models/%zz%"), 404, None, NF)
add("id_like_wildcards", "an id of SQL LIKE wildcards", get("/v1/runs/r_%25%25%25_"), 404, None, NF)
add("path_double_slash", "//v1//models", get("//v1//models"), 404, None, NF)
add("path_upper", "/V1/MODELS", get("/V1/MODELS"), 404, None, NF)
add("path_trailing_slash", "/v1/models/", get("/v1/models/"), 404, None, NF)
add("path_backslash", "\\v1\\models", get("/v1\\models"), 404, None, NF)
add("path_absolute_uri", "an absolute URI as the target", get("http://evil.example/v1/models"), None,
    problem=False, status_any=[200, 400, 404])
add("path_url_100k", "a 100 kB URL", get(parts([["/v1/models/", 1], ["a", 100000]])), 414, problem=False,
    status_any=[414, 431, 400], note="libmicrohttpd answers itself")
add("path_query_nul", "?wait=%00", get("/v1/runs/$RUN:done?wait=%00"), 400, None, "bad-parameter",
    parameter="wait")

# ---- methods ---------------------------------------------------------------------------------
MNA = "method-not-allowed"
add("method_brew", "BREW /v1/models", get("/v1/models", method="BREW"), 405, None, MNA)
add("method_patch", "PATCH /v1/runs", get("/v1/runs", method="PATCH"), 405, None, MNA)
add("method_put", "PUT /v1/models/x", get("/v1/models/m_000000000000000000000000", method="PUT"), 405,
    None, MNA)
add("method_trace", "TRACE /v1/runs", get("/v1/runs", method="TRACE"), 405, None, MNA)
add("method_options", "OPTIONS /v1/models", get("/v1/models", method="OPTIONS"), 405, None, MNA)
add("method_lowercase", "get /healthz", get("/healthz", method="get"), 405, None, MNA)
add("method_get_cancel", "GET /v1/runs/{id}/cancel", get("/v1/runs/$RUN:done/cancel"), 405, None, MNA)
add("method_post_healthz", "POST /healthz with a body", post("/healthz", body="{}"), 405, None, MNA)
add("method_long", "a 64-character method", get("/v1/models", method="X" * 64), 405, problem=False,
    status_any=[405, 400, 501])
add("method_connect", "CONNECT", get("127.0.0.1:80", method="CONNECT"), None, problem=False,
    status_any=[400, 404, 405, 501])

# ---- query parameters ------------------------------------------------------------------------
add("q_wait_nan", "?wait=nan", get("/v1/runs/$RUN:done?wait=nan"), 400, None, BP, parameter="wait")
add("q_wait_negative", "?wait=-1", get("/v1/runs/$RUN:done?wait=-1"), 400, None, BP, parameter="wait")
add("q_wait_inf", "?wait=1e999", get("/v1/runs/$RUN:done?wait=1e999"), 400, None, BP, parameter="wait")
add("q_limit_zero", "?limit=0", get("/v1/runs?limit=0"), 400, None, BP, parameter="limit")
add("q_limit_huge", "?limit=99999999999999999999", get("/v1/models?limit=99999999999999999999"), 400,
    None, BP, parameter="limit")
add("q_limit_text", "?limit=ten", get("/v1/models?limit=ten"), 400, None, BP, parameter="limit")
add("q_cursor_garbage", "?cursor=garbage", get("/v1/runs?cursor=garbage"), 400, None, BP,
    parameter="cursor")
add("q_cursor_sql", "a cursor with SQL", get("/v1/models?cursor=c_1%27%20OR%201%3D1--"), 400, None,
    BP, parameter="cursor")
add("q_status_unknown", "?status=done", get("/v1/runs?status=done"), 400, None, BP, parameter="status")
add("q_model_id_long", "a 10 kB model_id filter", get(parts([["/v1/runs?model_id=", 1], ["m", 10000]])), 400, None,
    BP, parameter="model_id")
add("q_format_xml", "?format=xml", get("/v1/runs/$RUN:done/results/V?format=xml"), 400, None, BP,
    parameter="format")
add("q_accept_html", "Accept: text/html", get("/v1/runs/$RUN:done/results/V", headers={"Accept": "text/html"}),
    406, None, "not-acceptable")
add("q_trials_reversed", "?trials=5:1", get("/v1/runs/$RUN:done/results/V?trials=5:1"), 400, None, BP,
    parameter="trials")
add("q_neurons_out_of_range", "?neurons=99", get("/v1/runs/$RUN:done/results/V?neurons=99"), 400, None,
    BP, parameter="neurons")
add("q_neurons_negative", "?neurons=-1", get("/v1/runs/$RUN:done/results/V?neurons=-1"), 400, None, BP,
    parameter="neurons")
add("q_steps_text", "?steps=a:b", get("/v1/runs/$RUN:done/results/V?steps=a:b"), 400, None, BP,
    parameter="steps")
add("q_steps_overflow", "?steps=0:99999999999999999999999",
    get("/v1/runs/$RUN:done/results/V?steps=0:99999999999999999999999"), 400, None, BP, parameter="steps")
add("q_neurons_many", "?neurons= with 20000 indices",
    get(parts([["/v1/runs/$RUN:done/results/V?neurons=0", 1], [",0", 19999]])), None, problem=False,
    status_any=[400, 414, 431],
    note="20000 columns of a narrower result: 400 naming neurons (at most the result's width may be "
    "selected, repeats counted), or the query refused for its length")
add("accept_q_garbage", "Accept with q=abc and q=nan",
    get("/v1/runs/$RUN:done/results/V", headers={"Accept": "application/json;q=abc, text/csv;q=nan"}),
    406, problem=False, status_any=[200, 406], any_problem=True)
add("accept_q_huge", "Accept with q=1e999", get("/v1/runs/$RUN:done/results/V",
    headers={"Accept": "text/csv;q=1e999"}), 200, problem=False, status_any=[200, 406])
add("accept_many_ranges", "Accept with 1000 unknown media ranges",
    get("/v1/runs/$RUN:done/results/V", headers={"Accept": parts([["x/y{i};q=0.5, ", 1000, True]])}),
    406, None, "not-acceptable")
add("accept_only_separators", "Accept of commas and semicolons",
    get("/v1/runs/$RUN:done/results/V", headers={"Accept": ",,;;,;q=,"}), 406, problem=False,
    status_any=[200, 406], any_problem=True)
add("if_none_match_huge", "a 20 kB If-None-Match", get("/v1/runs/$RUN:done/results/V?format=json",
    headers={"If-None-Match": parts([['"x", ', 4000]])}), 200, problem=False)
add("idem_key_long", "a 300-character Idempotency-Key",
    post(R, body_json=run(), headers={"Idempotency-Key": "k" * 300}), 400, None, BP,
    parameter="Idempotency-Key")
add("idem_key_reused", "an Idempotency-Key reused with another body",
    post(R, body_json=run(dt=0.2), headers={"Idempotency-Key": "$IDEM_KEY"}), 422, None,
    "idempotency-key-reused")

# ---- header abuse ----------------------------------------------------------------------------
add("hdr_huge_value", "a 100 kB header value", get("/healthz", headers={"X-Big": parts([["v", 100000]])}), 431,
    problem=False, status_any=[431, 413, 400], note="libmicrohttpd answers itself")
add("hdr_many", "5000 headers",
    {"raw": parts([["GET /healthz HTTP/1.1\r\nHost: x\r\n", 1], ["X-A{i}: b\r\n", 5000, True], ["Connection: close\r\n\r\n", 1]])},
    431, problem=False, status_any=[431, 413, 400], note="libmicrohttpd answers itself")
add("hdr_no_colon", "a header line without a colon",
    {"raw": "GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\nConnection: close\r\n\r\n"}, 400,
    problem=False, status_any=[400, 200], note="libmicrohttpd answers itself (or ignores the line)")
add("hdr_space_in_name", "a space before the colon",
    {"raw": "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad : y\r\nConnection: close\r\n\r\n"}, 400,
    problem=False, status_any=[400, 200], note="libmicrohttpd answers itself (or ignores the line)")
add("hdr_obs_fold", "an obsolete folded header",
    {"raw": "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  continued\r\nConnection: close\r\n\r\n"}, 200,
    problem=False, status_any=[200, 400], note="libmicrohttpd joins or refuses folded lines")
add("hdr_no_host", "HTTP/1.1 without Host",
    {"raw": "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"}, 200, problem=False,
    status_any=[200, 400], note="libmicrohttpd 0.9.75 does not require Host")
add("hdr_version_9", "HTTP/9.9", {"raw": "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n"}, 505,
    problem=False, status_any=[505, 400], allow_5xx=True,
    note="libmicrohttpd answers 505 HTTP Version Not Supported itself: the one 5xx of the catalogue")
add("hdr_garbage_line", "a request line of garbage", {"raw": "\x01\x02\x03 garbage\r\n\r\n"}, 400,
    problem=False, status_any=[400, None], note="libmicrohttpd answers itself or hangs up")
add("hdr_http09", "an HTTP/0.9 request", {"raw": "GET /healthz\r\n\r\n"}, None, problem=False,
    status_any=[400, 505, None, 200], note="libmicrohttpd")
add("hdr_bare_lf", "lines ended by LF only",
    {"raw": "GET /v1/models/%2e%2e HTTP/1.1\nHost: x\nConnection: close\n\n"}, 404, None, NF)
add("hdr_auth_huge", "a 20 kB Authorization header",
    get("/v1/models", headers={"Authorization": parts([["Bearer ", 1], ["t", 20000]])}), 200, problem=False,
    status_any=[200, 401, 431], note="no token configured: ignored (or refused by size)")

# ---- unknown query parameters: refused, naming them (docs/API.md, "Query parameters") -------
add("q_unknown_include", "?include=W on a model", get("/v1/models/$MODEL:model_gated_explicit?include=W"),
    400, None, BP, parameter="include")
add("q_unknown_foo", "?foo=1 on a run", get("/v1/runs/$RUN:done?foo=1"), 400, None, BP, parameter="foo")
add("q_unknown_typo", "?wiat=30 (a typo of wait)", get("/v1/runs/$RUN:done?wiat=30"), 400, None, BP,
    parameter="wiat")
add("q_unknown_other_route", "?limit= on a result (a parameter of the lists)",
    get("/v1/runs/$RUN:done/results/V?limit=1"), 400, None, BP, parameter="limit")
add("q_unknown_healthz", "?verbose on /healthz", get("/healthz?verbose"), 400, None, BP,
    parameter="verbose")
add("q_unknown_post", "?dry_run=1 on POST /v1/runs", post(R + "?dry_run=1", body_json=run()), 400, None,
    BP, parameter="dry_run")

# ---- ambiguous framing (request smuggling, RFC 9112 6.3): 400 naming the header, then close --
# (appended here so that the earlier cases keep their numbers; tests/security/smuggling.py
# checks that the connection is closed and what follows is not answered)
add("te_twice", "two Transfer-Encoding: chunked headers",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
    400, None, "bad-parameter", parameter="Transfer-Encoding",
    note="request smuggling: refused, connection closed")
add("te_with_two_cl", "two disagreeing Content-Lengths next to Transfer-Encoding: chunked",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
    400, None, "bad-parameter", parameter="Transfer-Encoding",
    note="request smuggling: refused, connection closed")
add("te_gzip_chunked", "Transfer-Encoding: gzip, chunked",
    {"raw": "POST /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
    400, None, "bad-parameter", parameter="Transfer-Encoding",
    note="only exactly 'chunked' is accepted")

# ---------------------------------------------------------------------------------------------
def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    # the invalid documents of the JSON contract, sent over HTTP
    with open(os.path.join(EXAMPLES, "manifest.json")) as f:
        manifest = json.load(f)
    n = 0
    for e in manifest["invalid"]:
        with open(os.path.join(EXAMPLES, e["file"])) as f:
            doc = json.load(f)
        name = "contract_" + os.path.basename(e["file"])[:-5]
        if e["kind"] == "model":
            req = post(M, body_json=doc)
        else:
            if doc.get("model_id") and e.get("model"):
                doc["model_id"] = "$MODEL:" + os.path.basename(e["model"])[:-5]
            path = {"sweep": "/v1/sweeps", "training": "/v1/trainings"}.get(e["kind"], R)
            req = post(path, body_json=doc)
        add(name, "schema/examples/" + e["file"] + ": " + e.get("about", ""), req, 422, e["field"],
            INVALID)
    names = set()
    for i, (name, case) in enumerate(cases):
        assert name not in names, name
        names.add(name)
        with open(os.path.join(OUT, "%03d_%s.json" % (i + 1, name)), "w") as f:
            json.dump(case, f, indent=1, ensure_ascii=False, allow_nan=False)
            f.write("\n")
    print("%d cases written to %s" % (len(cases), os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    main()
