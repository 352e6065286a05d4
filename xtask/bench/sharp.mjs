// The sharp (libvips) peer of `cargo xtask bench`: the same jobs as thumbforge's.
//
//   node sharp.mjs --size N [--repeat K] [--out DIR] FILE...
//   node sharp.mjs --full --sizes L,S,... --formats jpeg[,webp] --jpeg-quality Q --webp-quality Q
//                  --webp-effort E [--repeat K] [--out DIR] FILE...
//
// Per file and repetition: read the file, apply its EXIF orientation, fit inside N×N (never
// enlarged), JPEG quality 80, no metadata (sharp strips it unless told otherwise), write it.
// With --full, the whole configured job, as thumbforge does it: one decode (shrink-on-load to the
// largest size, orientation, sRGB) into raw pixels, then cloned pipelines from those pixels, one
// per size (each fit inside its box) and format: JPEG 4:2:0 at the JPEG quality and, when
// --formats lists it, WebP at the WebP quality and effort, both without metadata.
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
let size = 256, repeat = 1, out = null, full = false, sizes = [], formats = ['jpeg', 'webp'];
let jpegQuality = 80, webpQuality = 80, webpEffort = 4;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--size') size = Number(args[++i]);
  else if (args[i] === '--full') full = true;
  else if (args[i] === '--sizes') sizes = args[++i].split(',').map(Number).sort((a, b) => b - a);
  else if (args[i] === '--formats') formats = args[++i].split(',');
  else if (args[i] === '--jpeg-quality') jpegQuality = Number(args[++i]);
  else if (args[i] === '--webp-quality') webpQuality = Number(args[++i]);
  else if (args[i] === '--webp-effort') webpEffort = Number(args[++i]);
  else if (args[i] === '--repeat') repeat = Number(args[++i]);
  else if (args[i] === '--out') out = args[++i];
  else files.push(args[i]);
}
if (out) mkdirSync(out, { recursive: true });
if (full && sizes.length === 0) throw new Error('--full needs --sizes');

// The whole job: one decode, then every size and format from its pixels. Returns the outputs'
// total bytes and the largest one's size.
async function fullJob(input, stem) {
  const largest = sizes[0];
  const { data, info } = await sharp(input)
    .rotate()
    .resize(largest, largest, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const decoded = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  let bytes = 0;
  for (const px of sizes) {
    const sized = decoded.clone().resize(px, px, { fit: 'inside', withoutEnlargement: true });
    const outputs = [];
    if (formats.includes('jpeg')) outputs.push(['jpg', sized.clone().jpeg({ quality: jpegQuality, chromaSubsampling: '4:2:0' })]);
    if (formats.includes('webp')) outputs.push(['webp', sized.clone().webp({ quality: webpQuality, effort: webpEffort })]);
    for (const [ext, pipeline] of outputs) {
      const buffer = await pipeline.toBuffer();
      bytes += buffer.length;
      if (out) writeFileSync(join(out, `${stem}-${px}.${ext}`), buffer);
    }
  }
  return { width: info.width, height: info.height, bytes };
}

for (const file of files) {
  const wall = [];
  let info = null;
  for (let r = 0; r < repeat; r++) {
    const started = process.hrtime.bigint();
    const input = readFileSync(file);
    const stem = basename(file, extname(file));
    if (full) {
      info = await fullJob(input, stem);
    } else {
      const { data, info: i } = await sharp(input)
        .rotate()
        .resize(size, size, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: 80 })
        .toBuffer({ resolveWithObject: true });
      if (out) writeFileSync(join(out, `${stem}.jpg`), data);
      info = { width: i.width, height: i.height, bytes: data.length };
    }
    wall.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  console.log(JSON.stringify({ file, tool: full ? 'sharp-full' : 'sharp', version: sharp.versions.sharp, vips: sharp.versions.vips, wall_ms: wall, output: info }));
}
