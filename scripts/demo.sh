#!/usr/bin/env bash
# The README's demo, against a running eirnnd (scripts/serve.sh in another terminal).
#
#   scripts/demo.sh [--url URL] [--token TOKEN]
#
# With the eirnn command-line client built by scripts/serve.sh (build/clients/cli/eirnn):
#   1. stores a conductance-gated E/I model of 100 cells (80 E, 20 I) whose connectivity is
#      drawn from a `generate` recipe (lognormal weights, rescaled to spectral radius 0.9);
#   2. submits a run of 1000 steps (dt = 0.1) driven by a step input: 0, then 1 from t = 20
#      to t = 60, then 0 again, and waits for it (a progress bar on a terminal);
#   3. downloads the firing rates r (trials x steps x cells) as CSV and prints the mean E and
#      I rates before, during and after the step (with NumPy installed, the same again from
#      the .npy download);
#   4. asks the service about the network (docs/ANALYSIS.md): the eigenvalues of the generated
#      W (its spectral radius is the recipe's 0.9), and the fixed points under the step's input
#      x = 1, whose E and I rates are those the run had settled to at the end of the step;
#   5. sweeps (docs/SWEEPS.md) the gate of the excitatory synapses (A.E = 0.25, 0.5, 1) against
#      the strength of the step (0.5, 1), described by its segment instead of spelled out, as
#      one request: six ordinary runs, with the mean rates over the step's last 20 time units
#      computed by the workers, read back as one table.
# The files are kept in out-demo/ (in the clone). The daemon's address is --url, else
# $EIRNN_URL, else http://127.0.0.1:8080; a token is --token or $EIRNN_TOKEN. Needs no
# Python: the table is computed with awk. Exit status: 0 when the run succeeded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
eirnn=${EIRNN_BIN:-$root/build/clients/cli/eirnn}
case $eirnn in /*) ;; *) eirnn=$PWD/$eirnn ;; esac
out=$root/out-demo
opts=()
while [ $# -gt 0 ]; do
    case $1 in
        --url | --token)
            [ $# -ge 2 ] || { echo "demo.sh: $1 needs a value" >&2; exit 2; }
            opts+=("$1" "$2"); shift 2 ;;
        --url=* | --token=*) opts+=("$1"); shift ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "demo.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
if [ ! -x "$eirnn" ]; then
    echo "demo.sh: $eirnn is missing: run scripts/serve.sh first (it builds build/)" >&2
    exit 1
fi
cli() { "$eirnn" "${opts[@]}" "$@"; }
show() { printf '\n$ eirnn %s\n' "$*"; } # the command, as a reader would type it

# scripts/serve.sh may still be building or starting the daemon: wait up to a minute.
for i in $(seq 60); do
    cli health >/dev/null 2>&1 && break
    if [ "$i" -eq 1 ]; then echo "demo.sh: waiting for eirnnd (scripts/serve.sh) ..." >&2; fi
    if [ "$i" -eq 60 ]; then
        cli health || true
        echo "demo.sh: eirnnd does not answer; start it with scripts/serve.sh" >&2
        exit 1
    fi
    sleep 1
done

mkdir -p "$out"
cd "$out"
# The model (docs/MODEL.md): N = 100 cells, the first 80 excitatory. The recipe gives the
# connection probability and mean weight per pathway (EI: onto E cells from I cells) and
# rescales W to spectral radius 0.9; A scales the conductance each synapse adds (M = A |W|).
cat >model.json <<'EOF'
{
  "name": "demo-gated-100",
  "description": "Gated E/I RNN, 80 E + 20 I cells, generated connectivity, one input.",
  "class": "gated",
  "populations": {"E": 80, "I": 20},
  "n_inputs": 1,
  "activation": {"name": "relu"},
  "leak": 1.0,
  "bias": 0.1,
  "recurrent": {
    "generate": {"seed": 1, "p": {"EE": 0.1, "EI": 0.4, "IE": 0.4, "II": 0.4},
                 "dist": "lognormal", "cv": 0.5, "spectral_radius": 0.9,
                 "mean": {"EE": 0.0625, "EI": 0.125, "IE": 0.03125, "II": 0.1}},
    "A": {"E": 0.5, "I": 1.0}
  },
  "input": {"generate": {"seed": 2, "mean": 1.0}}
}
EOF
# The step input: one row per step (T x n_inputs), 200 rows of 0, 400 of 1, 400 of 0.
phases=(before 0 200 during 200 600 after 600 1000)
awk 'BEGIN { for (k = 0; k < 1000; k++) print (k >= 200 && k < 600) ? 1 : 0 }' >step.csv


show "models create --wait model.json"
created=$(cli models create --wait model.json)
echo "$created"
model=$(awk '$1 == "id" { print $2 }' <<<"$created")

show "runs submit --model $model --inputs step.csv --dt 0.1 --seed 1 --wait"
rc=0
submitted=$(cli runs submit --model "$model" --inputs step.csv --dt 0.1 --seed 1 --wait) || rc=$?
echo "$submitted"
run=$(awk '$1 == "id" { print $2 }' <<<"$submitted")
if [ "$rc" -ne 0 ]; then
    echo "demo.sh: the run did not succeed (eirnn exit code $rc)" >&2
    exit 1
fi

show "results get $run r -o r.csv"
cli results get "$run" r -o r.csv

# r.csv: a header "trial,step,r0,...,r99", then one line per recorded step; columns 3-82 are
# the E cells, 83-102 the I cells.
echo
echo "mean rates of run $run by phase (steps of dt = 0.1; the input is 1 during the step):"
awk -F, -v ph="${phases[*]}" '
    BEGIN { np = split(ph, p, " ") / 3 }
    NR == 1 { next }
    { e = 0; for (c = 3; c <= 82; c++) e += $c
      i = 0; for (c = 83; c <= NF; c++) i += $c
      for (k = 0; k < np; k++)
          if ($2 >= p[3 * k + 2] && $2 < p[3 * k + 3]) { se[k] += e / 80; si[k] += i / 20; n[k]++ } }
    END { printf "  %-7s %-10s %12s %12s\n", "phase", "steps", "mean E rate", "mean I rate"
          for (k = 0; k < np; k++)
              printf "  %-7s %4d-%-5d %12.4f %12.4f\n", p[3 * k + 1], p[3 * k + 2], p[3 * k + 3],
                     se[k] / n[k], si[k] / n[k] }' r.csv

# With NumPy, the same numbers from the .npy download (the bytes `eirnn simulate` writes).
py=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import numpy' 2>/dev/null; then py=$p; break; fi
done
if [ -n "$py" ]; then
    show "results get $run r -o r.npy"
    cli results get "$run" r -o r.npy
    "$py" - "${phases[@]}" <<'PY'
import sys
import numpy as np

r = np.load("r.npy")  # shape (trials, steps, cells)
print(f"NumPy: r.npy holds {r.dtype} {r.shape}; mean rates by phase:")
args = sys.argv[1:]
for k in range(0, len(args), 3):
    name, a, b = args[k], int(args[k + 1]), int(args[k + 2])
    print(f"  {name:<7} {a:4d}-{b:<5d} {r[0, a:b, :80].mean():12.4f} {r[0, a:b, 80:].mean():12.4f}")
PY
fi

# The network, analysed by the service: eigenvalues of W, then fixed points for x = 1.
show "analyze spectrum --model $model --of W --wait"
cli analyze spectrum --model "$model" --of W --wait

show "analyze fixed_points --model $model --x 1 --starts 20 --seed 1 --wait -q"
fp=$(cli analyze fixed_points --model "$model" --x 1 --starts 20 --seed 1 --wait -q)
echo "$fp"
show "analyses results $fp r -o fixed_point --format csv"
cli analyses results "$fp" r -o fixed_point --format csv
# fixed_point/r.csv: a header "i,r0,...,r99", then one line per point (here one: every start
# ends at the same stable point); the run's r.csv at step 599 is the last step of the input.
echo
echo "rates at the fixed point for x = 1, and the run's at the end of the step (step 599):"
awk -F, 'FNR == 1 { next }
    FILENAME ~ /fixed_point/ { c0 = 2; what = "fixed point " $1 }
    FILENAME !~ /fixed_point/ { if ($2 != 599) next; c0 = 3; what = "run, step 599" }
    { e = 0; for (c = c0; c < c0 + 80; c++) e += $c
      i = 0; for (c = c0 + 80; c <= NF; c++) i += $c
      printf "  %-15s mean E rate %.6f   mean I rate %.6f\n", what, e / 80, i / 20 }' \
    fixed_point/r.csv r.csv

# A sweep: the model's A.E against the step's height. The input is described (a segment of
# height 1 over steps 200-599, swept), not spelled out; every point's run is checked before any
# is queued, and the workers compute each run's metrics from every step.
cat >sweep.json <<EOF
{"model_id": "$model", "labels": {"demo": "sweep"},
 "run": {"dt": 0.1, "seed": 1, "record": {"vars": ["r"], "every": 1000},
         "inputs": {"steps": 1000, "trials": 1,
                    "segments": [{"from": 200, "to": 600, "value": 1}]}},
 "axes": [{"path": "/model/recurrent/A/E", "values": [0.25, 0.5, 1.0]},
          {"path": "/run/inputs/segments/0/value", "values": [0.5, 1]}],
 "metrics": {"windows": [{"name": "step_end", "var": "r", "from": 400, "to": 600}],
             "settle": {"steps": 100, "tol": 1e-6}}}
EOF
show "sweeps submit sweep.json --wait --table sweep.csv -q"
sweep=$(cli sweeps submit sweep.json --wait --table sweep.csv -q)
echo "$sweep"
# sweep.csv: index, the two axes, run_id, status, then the metrics columns by name.
echo
echo "the sweep's table: mean rates over steps 400-599 (the end of the step), per point:"
awk -F, 'NR == 1 { for (c = 1; c <= NF; c++) col[$c] = c
                   printf "  %-6s %-8s %-10s %12s %12s\n", "point", "A.E", "step", "mean E rate",
                          "mean I rate"; next }
    { printf "  %-6s %-8s %-10s %12.6f %12.6f\n", $1, $2, $3, $col["step_end.mean.E"],
             $col["step_end.mean.I"] }' sweep.csv
echo "(point 3, the model's own A.E = 0.5 under the step of 1, is the run above: its rates at the"
echo " step's end are the fixed point's; stronger excitatory gating lowers the I rate most)"

echo
echo "the same on the page eirnnd serves (docs/WEB.md): the run's rates and heat map, the model's W,"
echo "its eigenvalues and fixed point, the sweep's metric over its two axes:"
for kind_id in "runs $run" "models $model" "sweeps $sweep"; do
  set -- $kind_id
  cli "$1" show "$2" | sed -n "s|^page: |  $1: |p"
done

echo
echo "files in $out: model.json step.csv r.csv$([ -f r.npy ] && echo ' r.npy') fixed_point/r.csv sweep.json sweep.csv"
echo "next: the curl tour of the README, 'eirnn --help', docs/ANALYSIS.md, clients/python/examples/gated_step.py"
