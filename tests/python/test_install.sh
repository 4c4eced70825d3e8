#!/usr/bin/env bash
# python/install: the Python client installs as clients/python/README.md documents it, with
# Debian's packages only and no package index. The commands are taken from the README's
# install block (the one with `python3 -m venv`) and run verbatim, in order, in a temporary
# copy of the checkout, with Debian's python3 first on PATH; then the installed package is
# imported from the venv (not from the source tree) and used: its version, a Client, and one
# call against an address where nothing listens (EirnnConnectionError). The `apt-get install`
# line is not run (it needs root): every package it names must be installed already
# (scripts/deps.sh test installs them), else the test fails naming the missing ones. The
# main README.md must give the same apt-get, venv and pip lines.
#
# usage: tests/python/test_install.sh [ROOT]      (ROOT: the source tree, default this checkout)
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
readme=$root/clients/python/README.md
fail() { echo "python/install: $*" >&2; exit 1; }
[ -f "$readme" ] || fail "no $readme"

# The fenced block of the README that creates the venv.
block=$(awk '/^```/ { if (inb) { if (hit) { print body; exit } inb = 0; body = ""; hit = 0; next }
                      inb = 1; next }
             inb { body = body $0 "\n"; if ($0 ~ /python3 -m venv/) hit = 1 }' "$readme")
[ -n "$block" ] || fail "$readme has no install block with 'python3 -m venv'"

# Packages of its apt-get line: installed, or the test fails naming them.
apt_line=$(grep -E '^(sudo )?apt-get install' <<<"$block" || true)
[ -n "$apt_line" ] || fail "the install block names no Debian packages (no apt-get install line)"
missing=()
for p in $(sed -E 's/#.*//; s/^(sudo )?apt-get install( -y)?//' <<<"$apt_line"); do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] ||
    fail "Debian packages the README names are not installed: ${missing[*]} (scripts/deps.sh test)"

# The main README gives the same apt-get, venv and pip lines (its Python section).
while IFS= read -r line; do
    [[ "$line" =~ apt-get\ install|python3\ -m\ venv|/pip\ install ]] || continue
    grep -qxF -- "$line" "$root/README.md" ||
        fail "README.md's Python section lacks the line of $readme: $line"
done <<<"$block"

tmp=$(mktemp -d /tmp/eirnn_py_install_XXXXXX) || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/repo/clients" && cp -r "$root/clients/python" "$tmp/repo/clients/" ||
    fail "cannot copy clients/python"
rm -rf "$tmp/repo/clients/python/build" "$tmp/repo/clients/python/"*.egg-info
cd "$tmp/repo" || fail "cannot enter $tmp/repo"

# Debian's python3, no index (also via pip's environment), no user site, no PYTHONPATH.
export PATH=/usr/bin:/bin:$PATH PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONNOUSERSITE=1
unset PYTHONPATH PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS VIRTUAL_ENV http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
n=0
while IFS= read -r line; do
    cmd=$(sed -E 's/[[:space:]]+#.*$//' <<<"$line")
    [[ -z "${cmd// /}" || "$cmd" =~ ^(sudo\ )?apt-get ]] && continue
    n=$((n + 1))
    echo "+ $cmd"
    bash -c "$cmd" || fail "the documented command failed: $cmd"
done <<<"$block"
[ $n -ge 2 ] || fail "the install block has $n commands besides apt-get (expected the venv and pip)"
[ -x .venv/bin/python ] || fail "the documented commands made no .venv"

cd "$tmp" || exit 1
out=$("$tmp/repo/.venv/bin/python" - <<'PY' 2>&1
import os, sys
import eirnn
where = os.path.realpath(eirnn.__file__)
assert "/site-packages/" in where, "eirnn imported from %s, not the venv" % where
assert eirnn.__version__, "no __version__"
c = eirnn.Client("http://127.0.0.1:9")   # the discard port: nothing listens
try:
    c.health()
except eirnn.EirnnConnectionError as e:
    print("ok: eirnn %s from %s; unreachable server: %s" % (eirnn.__version__, where, e))
else:
    sys.exit("health() against a closed port did not raise EirnnConnectionError")
PY
) || fail "the installed client does not work: $out"
echo "python/install: $out"
