"""The libvips peer of `cargo xtask bench` for the whole configured job (pyvips).

    python vips_full.py --sizes L,S,... --formats jpeg[,webp] --jpeg-quality Q --webp-quality Q
                        --webp-effort E [--repeat K] [--out DIR] FILE...

Per file and repetition, as thumbforge does it: one load (`thumbnail`: shrink-on-load to the
largest size, EXIF orientation, sRGB), kept in memory, then every size from those pixels (each
smaller one resized from the largest, fit inside its box, never enlarged) and, for each size, a
JPEG (4:2:0, the JPEG quality) and, when --formats lists it, a WebP (the WebP quality and effort),
both without metadata.
libvips' operation cache is off: a service sees each image once. Prints one JSON line per file
with the wall time of each repetition.
"""

import json
import os
import sys
import time

import pyvips


def main(argv):
    sizes, formats, repeat, out, files = [], ["jpeg", "webp"], 1, None, []
    jpeg_quality, webp_quality, webp_effort = 80, 80, 4
    it = iter(argv)
    for arg in it:
        if arg == "--sizes":
            sizes = sorted((int(s) for s in next(it).split(",")), reverse=True)
        elif arg == "--formats":
            formats = next(it).split(",")
        elif arg == "--jpeg-quality":
            jpeg_quality = int(next(it))
        elif arg == "--webp-quality":
            webp_quality = int(next(it))
        elif arg == "--webp-effort":
            webp_effort = int(next(it))
        elif arg == "--repeat":
            repeat = int(next(it))
        elif arg == "--out":
            out = next(it)
        else:
            files.append(arg)
    if not sizes:
        sys.exit("--sizes is required")
    if out:
        os.makedirs(out, exist_ok=True)
    pyvips.cache_set_max(0)
    for file in files:
        wall, info = [], None
        stem = os.path.splitext(os.path.basename(file))[0]
        for _ in range(repeat):
            started = time.perf_counter()
            largest = sizes[0]
            decoded = pyvips.Image.thumbnail(file, largest, height=largest, size="down").copy_memory()
            # libvips 8.14's webpsave keeps EXIF despite strip: drop every metadata field once.
            for name in decoded.get_fields():
                if name.endswith("-data") or name.startswith(("exif-", "xmp-", "iptc-")):
                    decoded.remove(name)
            total = 0
            for px in sizes:
                scale = min(1.0, px / max(decoded.width, decoded.height))
                sized = decoded if scale >= 1.0 else decoded.resize(scale, kernel="lanczos3")
                outputs = []
                if "jpeg" in formats:
                    outputs.append(("jpg", sized.jpegsave_buffer(Q=jpeg_quality, subsample_mode="on", strip=True)))
                if "webp" in formats:
                    outputs.append(("webp", sized.webpsave_buffer(Q=webp_quality, effort=webp_effort, strip=True)))
                for ext, data in outputs:
                    total += len(data)
                    if out:
                        with open(os.path.join(out, f"{stem}-{px}.{ext}"), "wb") as f:
                            f.write(data)
            wall.append((time.perf_counter() - started) * 1e3)
            info = {"width": decoded.width, "height": decoded.height, "bytes": total}
        print(json.dumps({
            "file": file,
            "tool": "libvips-full",
            "version": pyvips.__version__,
            "vips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
            "wall_ms": wall,
            "output": info,
        }))


if __name__ == "__main__":
    main(sys.argv[1:])
