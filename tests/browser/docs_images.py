#!/usr/bin/python3
"""Copy the browser tests' screenshots that docs/WEB.md shows into docs/img/, made small: the
top of each page (at most MAX_H pixels high) reduced to a 256-colour palette. Debian's
python3-pil (not needed by the tests themselves).

Usage: tests/browser/docs_images.py [SCREENSHOTS_DIR] [DOCS_IMG_DIR]
       (defaults: build/artefacts/screenshots, docs/img; run `ctest -R browser/` first)
"""
import os
import sys

from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# name -> the most pixels of height kept (the rest of a long page is cut)
CURATED = {
    "runs": 420, "run": 1500, "submit": 900, "submit-error": 900, "models": 420,
    "model": 1500, "sweep": 1300, "analysis": 1300, "token": 420,
}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "artefacts", "screenshots")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "img")
    os.makedirs(dst, exist_ok=True)
    for name, max_h in CURATED.items():
        path = os.path.join(src, name + ".png")
        img = Image.open(path).convert("RGB")
        if img.height > max_h:
            img = img.crop((0, 0, img.width, max_h))
        img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out = os.path.join(dst, "web-" + name + ".png")
        img.save(out, optimize=True)
        print("%s: %dx%d, %d bytes" % (out, img.width, img.height, os.path.getsize(out)))


if __name__ == "__main__":
    main()
