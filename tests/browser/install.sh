#!/usr/bin/env bash
# Install the browser tests' one npm package, playwright-core at the exact version that
# tests/browser/package-lock.json pins (with its integrity hash), into DIR/node_modules:
#   tests/browser/install.sh DIR        (ctest's fixture browser/install uses <build>/browser-tools)
# `npm ci` installs exactly the lock file, so a second machine gets the same bytes (from npm's
# cache when it is offline). playwright-core never downloads a browser: the tests and
# bench/web drive Debian's chromium (/usr/bin/chromium, scripts/deps.sh test installs it).
# Reinstalls only when the lock file changed (DIR/.eirnn-lock holds the one installed).
# Exit status: 0 installed, 1 node/npm/chromium missing or npm failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: tests/browser/install.sh DIR}
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "FAILED: the browser tests need $tool; scripts/deps.sh test installs it" >&2; exit 1; }
done
[ -x /usr/bin/chromium ] ||
  { echo "FAILED: the browser tests need Debian's chromium (/usr/bin/chromium); scripts/deps.sh test installs it" >&2; exit 1; }
mkdir -p "$dir"
if [ -f "$dir/node_modules/playwright-core/package.json" ] &&
   cmp -s "$here/package-lock.json" "$dir/.eirnn-lock"; then
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dir/"
printf '*\n' >"$dir/.gitignore"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 NO_UPDATE_NOTIFIER=1
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
cp "$here/package-lock.json" "$dir/.eirnn-lock"
echo "browser: playwright-core $(node -p "require('$dir/node_modules/playwright-core/package.json').version") installed in $dir"
