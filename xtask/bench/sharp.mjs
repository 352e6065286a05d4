// The sharp (libvips) peer of `cargo xtask bench`: the same job as thumbforge's `--size N` job.
//
//   node sharp.mjs --size N [--repeat K] [--out DIR] FILE...
//
// Per file and repetition: read the file, apply its EXIF orientation, fit inside N×N (never
// enlarged), JPEG quality 80, no metadata (sharp strips it unless told otherwise), write it.
// Prints one JSON line per file with the wall time of each repetition. sharp is resolved from
// the folder in BENCH_NODE_MODULES (xtask installs it into target/tools/bench-node).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { createRequire } from 'node:module';

const modules = process.env.BENCH_NODE_MODULES ?? process.cwd();
const sharp = createRequire(join(modules, 'package.json'))('sharp');
// A real service sees each image once: libvips' operation cache would only flatter repeats.
sharp.cache(false);

const args = process.argv.slice(2);
let size = 256, repeat = 1, out = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--size') size = Number(args[++i]);
  else if (args[i] === '--repeat') repeat = Number(args[++i]);
  else if (args[i] === '--out') out = args[++i];
  else files.push(args[i]);
}
if (out) mkdirSync(out, { recursive: true });

for (const file of files) {
  const wall = [];
  let info = null;
  for (let r = 0; r < repeat; r++) {
    const started = process.hrtime.bigint();
    const input = readFileSync(file);
    const { data, info: i } = await sharp(input)
      .rotate()
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 80 })
      .toBuffer({ resolveWithObject: true });
    if (out) writeFileSync(join(out, `${basename(file, extname(file))}.jpg`), data);
    wall.push(Number(process.hrtime.bigint() - started) / 1e6);
    info = { width: i.width, height: i.height, bytes: data.length };
  }
  console.log(JSON.stringify({ file, tool: 'sharp', version: sharp.versions.sharp, vips: sharp.versions.vips, wall_ms: wall, output: info }));
}
