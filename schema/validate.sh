#!/usr/bin/env bash
# Check schema/ with real validators from the npm registry:
#   1. the JSON Schemas (2020-12) compile in ajv's strict mode;
#   2. every document listed in examples/manifest.json gets the verdict listed there: requests/
#      are valid, invalid/ ones with "schema": "reject" are invalid (those with "accept" break
#      only what the parser alone can see, and must pass the schema), and the manifest lists
#      exactly the files that exist;
#   3. openapi.json embeds the current schemas (components.schemas generated from json/, marked
#      with a "$comment") and the request examples (components.examples): run with --sync to
#      regenerate them after editing json/ or examples/;
#   4. `redocly lint` passes on openapi.json (config: redocly.yaml), which also validates the
#      embedded examples against the embedded schemas.
#
# Usage: schema/validate.sh [--sync] [TOOLS_DIR]
#   TOOLS_DIR (or $EIRNN_SCHEMA_TOOLS) is where the pinned tools are installed with
#   `npm install --prefix`; default schema/.tools (ignored by git through its own .gitignore).
# Exit status: 0 all good, 1 a check failed or node/npm is missing (scripts/deps.sh test installs them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
sync=0
if [ "${1:-}" = "--sync" ]; then
  sync=1
  shift
fi
tools=${1:-${EIRNN_SCHEMA_TOOLS:-$here/.tools}}

# Pinned versions. @redocly/cli 1.34.x still runs on Node 18 (Debian bookworm's nodejs);
# 2.x needs Node >= 20.19.
pins=(ajv-cli@5.0.0 ajv@8.17.1 ajv-formats@3.0.1 @redocly/cli@1.34.20)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "FAILED: schema/validate.sh needs node (>= 18.17) and npm to install ajv-cli and @redocly/cli;" \
       "scripts/deps.sh test installs them (Debian: nodejs npm)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "FAILED: schema/validate.sh needs node >= 18.17, found $(node --version)" >&2
  exit 1
fi

# ---- tools ------------------------------------------------------------------------------------
stamp="$tools/.eirnn-pins"
if [ ! -x "$tools/node_modules/.bin/ajv" ] || [ ! -x "$tools/node_modules/.bin/redocly" ] ||
   [ "$(cat "$stamp" 2>/dev/null || true)" != "${pins[*]}" ]; then
  echo "validate: installing ${pins[*]} into $tools" >&2
  mkdir -p "$tools"
  printf '*\n' >"$tools/.gitignore"
  npm install --prefix "$tools" --no-audit --no-fund --no-save --loglevel=error "${pins[@]}" >&2
  printf '%s' "${pins[*]}" >"$stamp"
fi
ajv="$tools/node_modules/.bin/ajv"
redocly="$tools/node_modules/.bin/redocly"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

cd "$here"
fail=0
ajv_opts=(--spec=draft2020 --strict=true --strict-required=false -c ajv-formats)
# strictRequired is off: the schemas say "if A then B is required" with `required` in
# conditional subschemas whose properties are declared elsewhere, which ajv's strictRequired
# flags although it is standard JSON Schema.
refs_model=(-r json/array.schema.json)
refs_run=(-r json/model.schema.json -r json/array.schema.json)
refs_sweep=(-r json/run.schema.json -r json/model.schema.json -r json/array.schema.json)
refs_training=(-r json/model.schema.json -r json/array.schema.json)

# ---- 1. the schemas compile ---------------------------------------------------------------------
"$ajv" compile "${ajv_opts[@]}" -s json/array.schema.json || fail=1
"$ajv" compile "${ajv_opts[@]}" -s json/model.schema.json "${refs_model[@]}" || fail=1
"$ajv" compile "${ajv_opts[@]}" -s json/run.schema.json "${refs_run[@]}" || fail=1
"$ajv" compile "${ajv_opts[@]}" -s json/sweep.schema.json "${refs_sweep[@]}" || fail=1
"$ajv" compile "${ajv_opts[@]}" -s json/training.schema.json "${refs_training[@]}" || fail=1

# ---- 2. examples ------------------------------------------------------------------------------
# The manifest as lines "kind expect file" (expect: valid | invalid), after checking that it
# lists exactly the files under examples/requests and examples/invalid.
listing=$(node - "$here/examples" <<'EOF'
const fs = require("fs"), path = require("path");
const dir = process.argv[2];
const m = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
let bad = 0;
const listed = new Set();
const out = [];
const add = (e, section) => {
  if (!e.file || !["model", "run", "sweep", "training"].includes(e.kind)) {
    console.error(`manifest: bad entry in ${section}: ${JSON.stringify(e)}`);
    bad = 1;
    return;
  }
  if (listed.has(e.file)) { console.error(`manifest: ${e.file} listed twice`); bad = 1; }
  listed.add(e.file);
  if (!fs.existsSync(path.join(dir, e.file))) { console.error(`manifest: ${e.file} does not exist`); bad = 1; }
  for (const k of ["model", "same_as"])
    if (e[k] && !fs.existsSync(path.join(dir, e[k]))) {
      console.error(`manifest: ${e.file}: ${k} ${e[k]} does not exist`); bad = 1;
    }
  let expect = "valid";
  if (section === "invalid") {
    if (!["reject", "accept"].includes(e.schema) || typeof e.field !== "string") {
      console.error(`manifest: ${e.file}: invalid entries need "schema" (reject|accept) and "field"`);
      bad = 1;
    }
    expect = e.schema === "reject" ? "invalid" : "valid";
  }
  out.push(`${e.kind} ${expect} examples/${e.file}`);
};
for (const e of m.requests || []) add(e, "requests");
for (const e of m.invalid || []) add(e, "invalid");
for (const sub of ["requests", "invalid"])
  for (const f of fs.readdirSync(path.join(dir, sub)))
    if (f.endsWith(".json") && !listed.has(`${sub}/${f}`)) {
      console.error(`manifest: examples/${sub}/${f} is not listed in manifest.json`);
      bad = 1;
    }
console.log(out.join("\n"));
process.exit(bad);
EOF
) || fail=1

checked=0
for kind in model run sweep training; do
  for expect in valid invalid; do
    files=$(awk -v k="$kind" -v e="$expect" '$1 == k && $2 == e { print $3 }' <<<"$listing")
    [ -n "$files" ] || continue
    data=()
    for f in $files; do data+=(-d "$f"); done
    case $kind in
      model) refs=("${refs_model[@]}") ;;
      run) refs=("${refs_run[@]}") ;;
      training) refs=("${refs_training[@]}") ;;
      *) refs=("${refs_sweep[@]}") ;;
    esac
    out=$("$ajv" validate "${ajv_opts[@]}" --errors=text -s "json/$kind.schema.json" "${refs[@]}" "${data[@]}" \
          2>"$tools/.ajv-stderr") || true
    for f in $files; do
      checked=$((checked + 1))
      if grep -qxF "$f valid" <<<"$out"; then got=valid; else got=invalid; fi
      if [ "$got" != "$expect" ]; then
        fail=1
        echo "FAIL: $f: expected $expect against json/$kind.schema.json, got $got" >&2
        if [ "$got" = invalid ]; then
          awk -v f="$f invalid" 'p && / invalid$/ { p = 0 } $0 == f { p = 1 } p' \
            "$tools/.ajv-stderr" >&2
        fi
      fi
    done
  done
done
echo "validate: $checked example documents checked against the JSON Schemas" >&2

# ---- 3. openapi.json embeds the schemas and examples ------------------------------------------
node - "$here" "$sync" <<'EOF' || fail=1
const fs = require("fs"), path = require("path");
const [dir, sync] = [process.argv[2], process.argv[3] === "1"];
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
const GEN = "generated from schema/";
const roots = { "array.schema.json": null, "model.schema.json": "Model", "run.schema.json": "Run",
                "sweep.schema.json": "SweepRequest", "training.schema.json": "TrainingRequest" };
const gen = {};
let bad = 0;

// $refs of the schema files -> components.
function rewrite(node) {
  if (Array.isArray(node)) return node.map(rewrite);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string") {
      let m;
      if ((m = v.match(/^#\/\$defs\/([A-Za-z0-9_]+)$/))) out[k] = `#/components/schemas/${m[1]}`;
      else if ((m = v.match(/^(array|model|run|sweep|training)\.schema\.json#\/\$defs\/([A-Za-z0-9_]+)$/)))
        out[k] = `#/components/schemas/${m[2]}`;
      else if ((m = v.match(/^(model|run|sweep|training)\.schema\.json$/))) out[k] = `#/components/schemas/${roots[m[1] + ".schema.json"]}`;
      else { console.error(`openapi sync: cannot map $ref ${v}`); bad = 1; out[k] = v; }
    } else out[k] = rewrite(v);
  }
  return out;
}
for (const [file, rootName] of Object.entries(roots)) {
  const s = read(`json/${file}`);
  if (rootName) {
    const { $schema, $id, $defs, ...root } = s;
    gen[rootName] = { $comment: `${GEN}json/${file}`, ...rewrite(root) };
  }
  for (const [name, def] of Object.entries(s.$defs || {})) {
    if (gen[name]) { console.error(`openapi sync: $defs name ${name} is used twice`); bad = 1; }
    gen[name] = { $comment: `${GEN}json/${file}#/$defs/${name}`, ...rewrite(def) };
  }
}
// Keep what Model and Run reach.
const reach = new Set();
const walk = (n) => {
  if (Array.isArray(n)) return n.forEach(walk);
  if (n === null || typeof n !== "object") return;
  for (const [k, v] of Object.entries(n)) {
    if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")) {
      const name = v.slice(21);
      if (gen[name] && !reach.has(name)) { reach.add(name); walk(gen[name]); }
    } else walk(v);
  }
};
const cur = read("openapi.json");
// The sweep request schema and examples go in once openapi.json describes POST /v1/sweeps
// with a JSON body (until then they would be unused components, which the lint refuses).
const sweepsJson = (doc) => {
  const post = doc.paths["/v1/sweeps"] && doc.paths["/v1/sweeps"].post;
  return post && post.requestBody && post.requestBody.content &&
         post.requestBody.content["application/json"];
};
const hasSweeps = !!sweepsJson(cur);
// The same for the training document and POST /v1/trainings.
const trainingsJson = (doc) => {
  const post = doc.paths["/v1/trainings"] && doc.paths["/v1/trainings"].post;
  return post && post.requestBody && post.requestBody.content &&
         post.requestBody.content["application/json"];
};
const hasTrainings = !!trainingsJson(cur);
const rootNames = ["Model", "Run"];
if (hasSweeps) rootNames.push("SweepRequest");
if (hasTrainings) rootNames.push("TrainingRequest");
for (const r of rootNames) {
  reach.add(r);
  walk(gen[r]);
}

const want = JSON.parse(JSON.stringify(cur));
const schemas = {};
for (const [k, v] of Object.entries(want.components.schemas || {}))
  if (!(typeof v.$comment === "string" && v.$comment.startsWith(GEN))) {
    if (gen[k]) { console.error(`openapi sync: components.schemas.${k} is hand-written but json/ defines it too`); bad = 1; }
    schemas[k] = v;
  }
for (const k of Object.keys(gen)) if (reach.has(k)) schemas[k] = gen[k];
want.components.schemas = schemas;

const manifest = read("examples/manifest.json");
const examples = {};
for (const [k, v] of Object.entries(want.components.examples || {}))
  if (!v["x-generated-from"]) examples[k] = v;
const byKind = { model: {}, run: {}, sweep: {}, training: {} };
for (const e of manifest.requests) {
  if (e.kind === "sweep" && !hasSweeps) continue;
  if (e.kind === "training" && !hasTrainings) continue;
  const name = path.basename(e.file, ".json");
  examples[name] = { summary: e.about, value: read(`examples/${e.file}`), "x-generated-from": `schema/examples/${e.file}` };
  byKind[e.kind][name.replace(/^(model|run|sweep|training)_/, "")] = { $ref: `#/components/examples/${name}` };
}
want.components.examples = examples;
want.paths["/v1/models"].post.requestBody.content["application/json"].examples = byKind.model;
want.paths["/v1/runs"].post.requestBody.content["application/json"].examples = byKind.run;
if (hasSweeps) sweepsJson(want).examples = byKind.sweep;
if (hasTrainings) trainingsJson(want).examples = byKind.training;

const text = JSON.stringify(want, null, 2) + "\n";
if (sync) {
  fs.writeFileSync(path.join(dir, "openapi.json"), text);
  console.error("validate: openapi.json regenerated from json/ and examples/");
} else if (text !== fs.readFileSync(path.join(dir, "openapi.json"), "utf8")) {
  console.error("FAIL: openapi.json is out of date with json/*.schema.json or examples/ " +
                "(or not formatted as JSON.stringify(doc, null, 2)): run schema/validate.sh --sync");
  bad = 1;
}
process.exit(bad);
EOF

# ---- 4. lint the OpenAPI document ------------------------------------------------------------
"$redocly" lint openapi.json --config redocly.yaml --format=stylish || fail=1

if [ "$fail" -ne 0 ]; then
  echo "validate: FAILED" >&2
  exit 1
fi
echo "validate: OK (schemas, $checked examples, openapi.json in sync and lint-clean)" >&2
