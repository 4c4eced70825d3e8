#!/usr/bin/env python3
"""Check that the documentation the code cites exists, and that the docs' links resolve.

1. Citations. Every mention of FORMAT.md or MODEL.md followed by a section, in any tracked
   file, must name a heading of docs/FORMAT.md or docs/MODEL.md:
       FORMAT.md "Model"          quoted title (also \\"Model\\" inside JSON strings)
       FORMAT.md `generate`       title in backticks (after a space)
       FORMAT.md §4.4             section number
   A title matches a heading whose text, without its leading number ("4.4 ", "3. ") and
   backticks, is the same (case and spacing ignored); a number matches that leading number.
   A bare mention (`FORMAT.md`, "FORMAT.md's model") needs only the page to exist.
2. Links. Every relative link of README.md and docs/*.md ([text](path#anchor) and reference
   definitions [id]: path) must point to an existing file or directory, and an anchor into a
   Markdown file to one of its headings (GitHub's anchors: lower case, punctuation dropped,
   spaces to hyphens, -1, -2 ... for repeats).

Mentions of a docs/<name>.md path that does not exist (e.g. the former docs/model.md) are
printed as warnings: they are comments in code this check does not own.

Exit status: 0 when everything resolves, 1 with one line per failure (file:line: what).
Standard library only. Usage: check_citations.py [--root DIR]
"""

import argparse
import os
import re
import subprocess
import sys

PAGES = {"FORMAT.md": "docs/FORMAT.md", "MODEL.md": "docs/MODEL.md"}

# FORMAT.md or MODEL.md, then a section: §number, "title" (optionally JSON-escaped quotes), or
# `title` after at least one space (so that "`FORMAT.md` (the ..." is not read as a title).
CITATION = re.compile(
    r'\b(FORMAT\.md|MODEL\.md)'
    r'(?:[ \t]*§[ \t]*(?P<num>\d+(?:\.\d+)*)'
    r'|[ \t]*\\?"(?P<quoted>[^"\\\n]+)\\?"'
    r'|[ \t]+`(?P<code>[^`\n]+)`)')
HEADING = re.compile(r'^(#{1,6})[ \t]+(.*?)[ \t#]*$')
NUMBER = re.compile(r'^§?(\d+(?:\.\d+)*)\.?[ \t]+')
INLINE_LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:[ \t]+"[^"]*")?\)')
REF_DEF = re.compile(r'^[ \t]{0,3}\[[^\]]+\]:[ \t]*(\S+)')
DOC_PATH = re.compile(r'\bdocs/([A-Za-z0-9_.-]+\.md)\b')
SKIP_DIRS = {".git", "build", "node_modules", "__pycache__"}
SELF = "tests/docs/"  # this checker's own examples and patterns are not citations


def tracked_files(root):
    """Paths (relative to root) of the files git tracks, or of every file when root is no
    git checkout (e.g. an exported tree)."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True,
                             check=True).stdout
        files = [f for f in out.decode("utf-8", "replace").split("\0") if f]
        if files:
            return files
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for top, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("build")]
        for n in names:
            files.append(os.path.relpath(os.path.join(top, n), root))
    return files


def read_text(path):
    """The file's text, or None for a binary or unreadable file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", "replace")


def markdown_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for no, line in enumerate(text.splitlines(), 1):
        m = re.match(r'^[ \t]{0,3}(`{3,}|~{3,})', line)
        if m:
            if fence is None:
                fence = m.group(1)[0]
            elif m.group(1)[0] == fence:
                fence = None
            continue
        if fence is None:
            yield no, line


def normalise(title):
    t = title.replace("`", "")
    return re.sub(r"\s+", " ", t).strip().lower()


def headings(text):
    """[(raw heading text)] of a Markdown text, in order."""
    out = []
    for _, line in markdown_lines(text):
        m = HEADING.match(line)
        if m:
            out.append(m.group(2))
    return out


def sections(text):
    """(titles, numbers) of the headings: normalised titles without their leading number,
    and the leading numbers ("4.4")."""
    titles, numbers = set(), set()
    for h in headings(text):
        m = NUMBER.match(h)
        if m:
            numbers.add(m.group(1))
            h = h[m.end():]
        titles.add(normalise(h))
    return titles, numbers


def github_slug(heading):
    """GitHub's anchor for a heading (before de-duplication)."""
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    t = t.replace("`", "").strip().lower()
    t = re.sub(r"[^\w\- ]", "", t)
    return t.replace(" ", "-")


def anchors(text):
    seen, out = {}, set()
    for h in headings(text):
        s = github_slug(h)
        n = seen.get(s, 0)
        out.add(s if n == 0 else "%s-%d" % (s, n))
        seen[s] = n + 1
    return out


def check_citations(root, files, pages, failures, warnings):
    count = 0
    for rel in files:
        text = read_text(os.path.join(root, rel))
        if text is None or rel.replace(os.sep, "/").startswith(SELF):
            continue
        for no, line in enumerate(text.splitlines(), 1):
            for m in CITATION.finditer(line):
                page = m.group(1)
                count += 1
                if page not in pages:
                    failures.append("%s:%d: cites %s, but %s does not exist"
                                    % (rel, no, page, PAGES[page]))
                    continue
                titles, numbers = pages[page]
                if m.group("num"):
                    if m.group("num") not in numbers:
                        failures.append("%s:%d: %s: %s has no section %s"
                                        % (rel, no, m.group(0), PAGES[page], m.group("num")))
                    continue
                title = m.group("quoted") or m.group("code")
                if normalise(title) not in titles:
                    failures.append("%s:%d: %s: %s has no heading with that title"
                                    % (rel, no, m.group(0), PAGES[page]))
            for m in DOC_PATH.finditer(line):
                if not os.path.exists(os.path.join(root, "docs", m.group(1))):
                    warnings.append("%s:%d: mentions docs/%s, which does not exist"
                                    % (rel, no, m.group(1)))
    return count


def check_links(root, files, failures):
    docs = [f for f in files if f == "README.md" or re.fullmatch(r"docs/[^/]+\.md", f)]
    cache = {}

    def anchors_of(path):
        if path not in cache:
            text = read_text(path)
            cache[path] = anchors(text) if text is not None else set()
        return cache[path]

    count = 0
    for rel in docs:
        src = os.path.join(root, rel)
        text = read_text(src)
        if text is None:
            continue
        for no, line in markdown_lines(text):
            line_wo_code = re.sub(r"`[^`]*`", "", line)
            targets = [m.group(1) for m in INLINE_LINK.finditer(line_wo_code)]
            m = REF_DEF.match(line)
            if m:
                targets.append(m.group(1).strip("<>"))
            for target in targets:
                if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                    continue  # http:, https:, mailto: ...
                count += 1
                path, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(src), path)) if path else src
                if not os.path.exists(dest):
                    failures.append("%s:%d: link %s: no such file %s"
                                    % (rel, no, target, os.path.relpath(dest, root)))
                    continue
                if anchor and dest.endswith(".md") and anchor not in anchors_of(dest):
                    failures.append("%s:%d: link %s: %s has no heading with anchor #%s"
                                    % (rel, no, target, os.path.relpath(dest, root), anchor))
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--root", default=os.path.normpath(os.path.join(here, "..", "..")),
                    help="the repository (default: the one holding this script)")
    args = ap.parse_args()
    root = os.path.abspath(args.root)

    pages = {}
    for name, rel in PAGES.items():
        text = read_text(os.path.join(root, rel))
        if text is not None:
            pages[name] = sections(text)
    files = tracked_files(root)
    failures, warnings = [], []
    n_cite = check_citations(root, files, pages, failures, warnings)
    n_link = check_links(root, files, failures)
    for w in warnings:
        print("warning: " + w)
    for f in failures:
        print(f)
    print("%d citations of FORMAT.md/MODEL.md, %d relative links: %s"
          % (n_cite, n_link, "%d do not resolve" % len(failures) if failures else "all resolve"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
