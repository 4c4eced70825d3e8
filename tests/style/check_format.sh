#!/usr/bin/env bash
# Every C source and header of the project formatted as the root .clang-format says:
# `clang-format --dry-run -Werror` over the tracked *.c / *.h files (git ls-files in a git
# checkout, else every *.c / *.h under the root outside build directories). Fails naming each
# file that differs, with the command that fixes it; fails when clang-format is missing
# (scripts/deps.sh test installs Debian's clang-format).
#
# usage: tests/style/check_format.sh [ROOT]     (ROOT: the source tree, default this checkout)
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || { echo "check_format: cannot enter $root" >&2; exit 2; }
fmt=${CLANG_FORMAT:-clang-format}
if ! command -v "$fmt" >/dev/null 2>&1; then
    echo "check_format: $fmt not found: install Debian's clang-format (scripts/deps.sh test)" >&2
    exit 2
fi
if [ ! -f .clang-format ]; then
    echo "check_format: no .clang-format in $root" >&2
    exit 2
fi

files=()
if command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' f; do
        [ -f "$f" ] && files+=("$f")
    done < <(git ls-files -z -- '*.c' '*.h')
else
    while IFS= read -r -d '' f; do
        files+=("${f#./}")
    done < <(find . -type d \( -name 'build*' -o -name '.git' -o -name 'node_modules' \) -prune -o \
                  -type f \( -name '*.c' -o -name '*.h' \) -print0)
fi
if [ ${#files[@]} -eq 0 ]; then
    echo "check_format: no C files found under $root" >&2
    exit 2
fi

bad=()
for f in "${files[@]}"; do
    if ! "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1; then
        bad+=("$f")
    fi
done
if [ ${#bad[@]} -ne 0 ]; then
    echo "check_format: ${#bad[@]} of ${#files[@]} C files are not clang-formatted:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    echo "fix: clang-format -i ${bad[*]}" >&2
    exit 1
fi
echo "check_format: ${#files[@]} C files formatted ($("$fmt" --version))"
