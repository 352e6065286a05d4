"""The Pillow peer of `cargo xtask bench`: the same job as thumbforge's `--size N` job.

    python pillow.py --size N [--draft] [--repeat K] [--out DIR] FILE...

Per file and repetition: open the file, with --draft ask the JPEG decoder for a reduced DCT scale
first (Pillow's shrink-on-load, `Image.draft`), apply the EXIF orientation, fit inside N×N
(`thumbnail`, never enlarged), save JPEG quality 80 without metadata (Pillow writes none unless
given `exif=`/`icc_profile=`). Prints one JSON line per file with the wall time of each repetition.
"""

import json
import os
import sys
import time

from PIL import Image, ImageOps, __version__


def main(argv):
    size, repeat, out, draft, files = 256, 1, None, False, []
    it = iter(argv)
    for arg in it:
        if arg == "--size":
            size = int(next(it))
        elif arg == "--repeat":
            repeat = int(next(it))
        elif arg == "--out":
            out = next(it)
        elif arg == "--draft":
            draft = True
        else:
            files.append(arg)
    if out:
        os.makedirs(out, exist_ok=True)
    for file in files:
        wall, info = [], None
        for _ in range(repeat):
            started = time.perf_counter()
            with Image.open(file) as im:
                if draft:
                    im.draft("RGB", (size, size))
                im = ImageOps.exif_transpose(im)
                im.thumbnail((size, size))
                if im.mode != "RGB":
                    im = im.convert("RGB")
                target = os.path.join(out, os.path.splitext(os.path.basename(file))[0] + ".jpg") if out else os.devnull
                with open(target, "wb") as f:
                    im.save(f, "JPEG", quality=80)
                info = {"width": im.width, "height": im.height}
            wall.append((time.perf_counter() - started) * 1e3)
        tool = "pillow-draft" if draft else "pillow"
        print(json.dumps({"file": file, "tool": tool, "version": __version__, "wall_ms": wall, "output": info}))


if __name__ == "__main__":
    main(sys.argv[1:])
