//! A JPEG decoder for the 1/8 scale only: each 8×8 block becomes one pixel, its DC coefficient.
//!
//! libjpeg-turbo's 1/8 decode still runs its general machinery: it decodes every AC coefficient
//! of every block (and keeps the whole coefficient image of a progressive file in memory), then
//! runs a 2×2 IDCT on chroma and a full upsampling and colour-conversion pass. A thumbnail bound
//! for 256 px from a 12–48 MP photo only needs the block averages, so this decoder:
//!
//! - in sequential files, walks the AC codes of each block with a fused table (one lookup gives
//!   the code length plus the length of the value bits that follow, so a coefficient is skipped
//!   in one step) and keeps only the DC values;
//! - in progressive files, decodes the DC scans (first pass and refinements) and never touches the
//!   AC scans at all: 2 bytes per block instead of 128, and a fraction of the entropy data;
//! - upsamples chroma bilinearly (centred samples, as libjpeg's "fancy" upsampling) and converts
//!   YCbCr to RGB in fixed point.
//!
//! It handles 8-bit Huffman JPEGs with 1 (grey) or 3 (YCbCr) components and integer sampling
//! ratios, and is strict: anything else, and any inconsistency in the data (an invalid code, a
//! run past the end of a block, a scan that ends early, a missing table), returns
//! [`Unsupported`] and the caller decodes with libjpeg instead, so odd or damaged files get exactly
//! the treatment they got before.

use super::Pixels;

/// Why this decoder declined the file (the caller falls back to libjpeg).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

type Result<T> = std::result::Result<T, Unsupported>;

/// Bits of lookahead of the fast Huffman tables.
const LOOKAHEAD: u32 = 11;

// A fast AC entry describes the one or two complete symbols that start in the next `LOOKAHEAD`
// bits (codes inside the lookahead; their value bits may run past it), for walking past them:
// bits 0–4 the bits they take, 5–9 the bits the first one takes, 10–15 how far they move the
// coefficient index, 16–20 how far the first one moves it, then the flags. 0: decode slowly.
const AC_TWO: u32 = 1 << 21;
const AC_EOB: u32 = 1 << 22;

#[derive(Clone)]
struct Huffman {
    /// Indexed by the next `LOOKAHEAD` bits. DC tables: `code length << 8 | symbol`; AC tables:
    /// the fused entry above. 0: the code is longer than `LOOKAHEAD` bits (or invalid).
    fast: Box<[u32; 1 << LOOKAHEAD]>,
    /// Largest code of each length (index 1–16), -1 if none.
    maxcode: [i32; 18],
    /// `values` index of the first code of each length, minus that code.
    offset: [i32; 17],
    values: Vec<u8>,
}

impl std::fmt::Debug for Huffman {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Huffman")
    }
}

impl Huffman {
    /// Builds a table from a DHT definition (`counts[l]`: codes of length `l + 1`).
    fn new(counts: &[u8; 16], values: &[u8], ac: bool) -> Result<Self> {
        // First the plain lookup: `code length << 8 | symbol` for codes within the lookahead.
        let mut fast = Box::new([0u32; 1 << LOOKAHEAD]);
        let mut maxcode = [-1i32; 18];
        let mut offset = [0i32; 17];
        let mut code: u32 = 0;
        let mut index = 0usize;
        for length in 1..=16u32 {
            let count = u32::from(counts[length as usize - 1]);
            if count > 0 {
                offset[length as usize] = i32::try_from(index).unwrap_or(i32::MAX) - code as i32;
            }
            for _ in 0..count {
                let symbol = *values.get(index).ok_or(Unsupported("Huffman table too short"))?;
                if length <= LOOKAHEAD {
                    let shift = LOOKAHEAD - length;
                    let first = (code << shift) as usize;
                    for slot in
                        fast.get_mut(first..first + (1 << shift)).ok_or(Unsupported("bad Huffman table"))?
                    {
                        *slot = length << 8 | u32::from(symbol);
                    }
                }
                code += 1;
                index += 1;
            }
            if count > 0 {
                maxcode[length as usize] = code as i32 - 1;
            }
            // libjpeg's rule: no code may be all ones.
            if code >= 1 << length {
                return Err(Unsupported("bad Huffman table"));
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        if ac {
            let plain = fast.clone();
            for (bits, slot) in fast.iter_mut().enumerate() {
                *slot = ac_entry(&plain, bits as u32);
            }
        }
        Ok(Self { fast, maxcode, offset, values: values.to_vec() })
    }

    /// Decodes the symbol at the top of `buf` (at least 16 valid bits) the slow way (codes
    /// longer than the lookahead); returns it with its code length.
    #[inline(never)]
    fn decode_slow(&self, buf: u64) -> Result<(u8, u32)> {
        for length in 1..=16u32 {
            let code = (buf >> (64 - length)) as i32;
            if code <= self.maxcode[length as usize] {
                let at = code + self.offset[length as usize];
                return usize::try_from(at)
                    .ok()
                    .and_then(|i| self.values.get(i).copied())
                    .map(|symbol| (symbol, length))
                    .ok_or(Unsupported("invalid Huffman code"));
            }
        }
        Err(Unsupported("invalid Huffman code"))
    }
}

/// The fused AC entry for the lookahead bits `bits`, from the plain lookup `plain`.
fn ac_entry(plain: &[u32; 1 << LOOKAHEAD], bits: u32) -> u32 {
    const MASK: u32 = (1 << LOOKAHEAD) - 1;
    // (bits taken, index advance, end of block) of the symbol whose code starts the lookahead
    // bits `at`, if its code lies within the first `known` of them.
    let symbol = |at: u32, known: u32| -> Option<(u32, u32, bool)> {
        let entry = plain[(at & MASK) as usize];
        let length = entry >> 8;
        if entry == 0 || length > known {
            return None;
        }
        let (run, size) = ((entry >> 4) & 15, entry & 15);
        match (run, size) {
            (0, 0) => Some((length, 0, true)),
            (15, 0) => Some((length, 16, false)),
            // Other zero-size symbols are invalid in sequential scans: the slow path reports them.
            (_, 0) => None,
            _ => Some((length + size, run + 1, false)),
        }
    };
    let Some((taken, advance, eob)) = symbol(bits, LOOKAHEAD) else { return 0 };
    let single = taken | taken << 5 | advance << 10 | advance << 16;
    if eob {
        return single | AC_EOB;
    }
    if taken >= LOOKAHEAD {
        return single;
    }
    match symbol(bits << taken, LOOKAHEAD - taken) {
        Some((taken2, advance2, eob2)) => {
            let eob = if eob2 { AC_EOB } else { 0 };
            (taken + taken2) | taken << 5 | (advance + advance2) << 10 | advance << 16 | AC_TWO | eob
        }
        None => single,
    }
}

/// Zero bytes after a scan's data, so that the reader may always load 8 bytes.
const PADDING: usize = 16;

/// The entropy-coded data of one scan with its stuffed zero bytes removed, split at its restart
/// markers: `segments` holds where each restart interval starts in `data`.
#[derive(Debug, Default)]
struct Entropy {
    data: Vec<u8>,
    segments: Vec<usize>,
}

impl Entropy {
    /// Reads the scan data starting at `pos` up to the marker that ends it; returns that
    /// marker's position.
    fn read(&mut self, file: &[u8], mut pos: usize) -> Result<usize> {
        self.data.clear();
        self.segments.clear();
        self.segments.push(0);
        loop {
            let rest = file.get(pos..).unwrap_or_default();
            let ff = memchr::memchr(0xFF, rest).ok_or(Unsupported("no end of scan"))?;
            self.data.extend_from_slice(&rest[..ff]);
            pos += ff;
            match file.get(pos + 1) {
                Some(0x00) => {
                    self.data.push(0xFF);
                    pos += 2;
                }
                Some(0xD0..=0xD7) => {
                    self.segments.push(self.data.len());
                    pos += 2;
                }
                // A fill byte before a marker.
                Some(0xFF) => pos += 1,
                Some(_) => {
                    self.data.extend_from_slice(&[0; PADDING]);
                    return Ok(pos);
                }
                None => return Err(Unsupported("no end of scan")),
            }
        }
    }

    /// Where restart interval `i` ends.
    fn segment_end(&self, i: usize) -> usize {
        self.segments.get(i + 1).copied().unwrap_or(self.data.len() - PADDING)
    }
}

/// An MSB-first bit reader over unstuffed data (F. Giesen's branch-free refill): `buf` holds at
/// least `count` valid bits at its top; the bits below them are the stream's next bits or zeros.
#[derive(Debug, Clone, Copy)]
struct Reader<'a> {
    data: &'a [u8],
    /// The next byte not yet (fully) in `buf`.
    pos: usize,
    buf: u64,
    count: u32,
}

impl<'a> Reader<'a> {
    fn at(data: &'a [u8], pos: usize) -> Self {
        let mut reader = Self { data, pos, buf: 0, count: 0 };
        reader.refill();
        reader
    }

    /// Tops the buffer up to at least 56 valid bits.
    #[inline(always)]
    fn refill(&mut self) {
        let word = match self.data.get(self.pos..self.pos + 8) {
            Some(bytes) => u64::from_be_bytes(bytes.try_into().unwrap_or([0; 8])),
            None => 0,
        };
        self.buf |= word >> self.count;
        self.pos += ((63 - self.count) >> 3) as usize;
        self.count |= 56;
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.count -= n;
    }

    /// Reads `n` (0–16) bits as a signed JPEG value.
    #[inline(always)]
    fn value(&mut self, n: u32) -> i32 {
        if n == 0 {
            return 0;
        }
        let v = (self.buf >> (64 - n)) as i32;
        self.consume(n);
        if v < 1 << (n - 1) { v - (1 << n) + 1 } else { v }
    }

    /// Bits consumed since the start of the data.
    fn consumed(&self) -> usize {
        self.pos * 8 - self.count as usize
    }
}

#[derive(Debug, Clone)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// The DC quantiser, latched when the component's first scan starts.
    q0: Option<i32>,
    /// Blocks per row and rows of blocks of the MCU-padded plane.
    width: usize,
    height: usize,
    /// Blocks that hold image data (what a non-interleaved scan codes).
    real_width: usize,
    real_height: usize,
    dc: Vec<i16>,
    /// Whether a first DC scan has covered it.
    seen: bool,
}

#[derive(Debug)]
struct Frame {
    width: usize,
    height: usize,
    progressive: bool,
    hmax: usize,
    vmax: usize,
    mcus_x: usize,
    mcus_y: usize,
    components: Vec<Component>,
}

#[derive(Debug, Default)]
struct Tables {
    quant: [Option<u16>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: usize,
    jfif: bool,
    adobe_transform: Option<u8>,
}

fn be16(data: &[u8], at: usize) -> Result<usize> {
    data.get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or(Unsupported("truncated segment"))
}

/// Decodes at 1/8 scale into 8-bit RGB of `ceil(width / 8) × ceil(height / 8)`, the size
/// libjpeg gives at that scale.
pub fn decode(data: &[u8]) -> Result<Pixels> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(Unsupported("not a JPEG"));
    }
    let mut tables = Tables::default();
    let mut frame: Option<Frame> = None;
    let mut entropy = Entropy::default();
    let mut pos = 2;
    loop {
        let ff = memchr::memchr(0xFF, data.get(pos..).unwrap_or_default())
            .ok_or(Unsupported("no end of image"))?;
        pos += ff;
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *data.get(pos).ok_or(Unsupported("no end of image"))?;
        pos += 1;
        match marker {
            0xD9 => break,
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = be16(data, pos)?;
        let body = data.get(pos + 2..pos + len).ok_or(Unsupported("truncated segment"))?;
        if len < 2 {
            return Err(Unsupported("bad segment length"));
        }
        pos += len;
        match marker {
            0xC0..=0xC2 => {
                if frame.is_some() {
                    return Err(Unsupported("two frames"));
                }
                frame = Some(parse_frame(body, marker == 0xC2)?);
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return Err(Unsupported("JPEG process")),
            0xC4 => parse_huffman(body, &mut tables)?,
            0xDB => parse_quant(body, &mut tables)?,
            0xDD => tables.restart_interval = be16(body, 0)?,
            0xE0 if body.starts_with(b"JFIF\0") => tables.jfif = true,
            0xEE if body.starts_with(b"Adobe") && body.len() >= 12 => tables.adobe_transform = Some(body[11]),
            0xDA => {
                let frame = frame.as_mut().ok_or(Unsupported("scan before frame"))?;
                pos = scan(data, pos, body, frame, &tables, &mut entropy)?;
            }
            _ => {}
        }
    }
    let frame = frame.ok_or(Unsupported("no frame"))?;
    to_rgb(&frame, &tables)
}

fn parse_frame(body: &[u8], progressive: bool) -> Result<Frame> {
    if body.len() < 6 || body[0] != 8 {
        return Err(Unsupported("not an 8-bit frame"));
    }
    let height = be16(body, 1)?;
    let width = be16(body, 3)?;
    let count = usize::from(body[5]);
    if width == 0 || height == 0 || !matches!(count, 1 | 3) || body.len() < 6 + 3 * count {
        return Err(Unsupported("frame layout"));
    }
    let mut components = Vec::with_capacity(count);
    for c in body[6..6 + 3 * count].chunks_exact(3) {
        let (h, v, tq) = (usize::from(c[1] >> 4), usize::from(c[1] & 15), usize::from(c[2]));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || tq > 3 {
            return Err(Unsupported("sampling factors"));
        }
        components.push(Component {
            id: c[0],
            h,
            v,
            tq,
            q0: None,
            width: 0,
            height: 0,
            real_width: 0,
            real_height: 0,
            dc: Vec::new(),
            seen: false,
        });
    }
    let hmax = components.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = components.iter().map(|c| c.v).max().unwrap_or(1);
    let mcus_x = width.div_ceil(8 * hmax);
    let mcus_y = height.div_ceil(8 * vmax);
    for c in &mut components {
        if hmax % c.h != 0 || vmax % c.v != 0 {
            return Err(Unsupported("non-integer sampling ratio"));
        }
        c.width = mcus_x * c.h;
        c.height = mcus_y * c.v;
        c.real_width = (width * c.h).div_ceil(hmax).div_ceil(8);
        c.real_height = (height * c.v).div_ceil(vmax).div_ceil(8);
        c.dc = vec![0; c.width * c.height];
    }
    Ok(Frame { width, height, progressive, hmax, vmax, mcus_x, mcus_y, components })
}

fn parse_huffman(mut body: &[u8], tables: &mut Tables) -> Result<()> {
    while !body.is_empty() {
        if body.len() < 17 {
            return Err(Unsupported("truncated Huffman table"));
        }
        let (class, slot) = (body[0] >> 4, usize::from(body[0] & 15));
        let mut counts = [0u8; 16];
        counts.copy_from_slice(&body[1..17]);
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = body.get(17..17 + total).ok_or(Unsupported("truncated Huffman table"))?;
        if slot > 3 || class > 1 || total > 256 {
            return Err(Unsupported("bad Huffman table"));
        }
        let table = Huffman::new(&counts, values, class == 1)?;
        if class == 0 {
            tables.dc[slot] = Some(table);
        } else {
            tables.ac[slot] = Some(table);
        }
        body = &body[17 + total..];
    }
    Ok(())
}

fn parse_quant(mut body: &[u8], tables: &mut Tables) -> Result<()> {
    while !body.is_empty() {
        let (precision, slot) = (body[0] >> 4, usize::from(body[0] & 15));
        let size = if precision == 0 { 64 } else { 128 };
        let values = body.get(1..1 + size).ok_or(Unsupported("truncated quantisation table"))?;
        if slot > 3 || precision > 1 {
            return Err(Unsupported("bad quantisation table"));
        }
        tables.quant[slot] = Some(if precision == 0 {
            u16::from(values[0])
        } else {
            u16::from_be_bytes([values[0], values[1]])
        });
        body = &body[1 + size..];
    }
    Ok(())
}

/// What one scan does with one of its components.
#[derive(Debug)]
struct ScanComponent<'t> {
    index: usize,
    /// The DC table of a first DC pass; `None` in a refinement pass.
    dc: Option<&'t Huffman>,
    /// The AC table of a sequential scan, whose AC codes are walked past.
    ac: Option<&'t Huffman>,
    /// Sampling factors and the plane's width in blocks.
    h: usize,
    v: usize,
    width: usize,
}

/// Decodes (or skips) the scan whose header is `header` and whose data starts at `pos`; returns
/// the position of the marker that ends it.
fn scan(
    data: &[u8],
    pos: usize,
    header: &[u8],
    frame: &mut Frame,
    tables: &Tables,
    entropy: &mut Entropy,
) -> Result<usize> {
    let count = usize::from(*header.first().ok_or(Unsupported("bad scan header"))?);
    if !(1..=4).contains(&count) || header.len() < 1 + 2 * count + 3 {
        return Err(Unsupported("bad scan header"));
    }
    let ss = header[1 + 2 * count];
    let se = header[2 + 2 * count];
    let ah = u32::from(header[3 + 2 * count] >> 4);
    let al = u32::from(header[3 + 2 * count] & 15);
    if frame.progressive && ss > 0 {
        // An AC scan: not needed at 1/8.
        return skip_entropy_data(data, pos);
    }
    if ss != 0 || (!frame.progressive && (se != 63 || ah != 0 || al != 0)) || (frame.progressive && se != 0) {
        return Err(Unsupported("scan parameters"));
    }
    let mut components = Vec::with_capacity(count);
    for c in header[1..1 + 2 * count].chunks_exact(2) {
        let index = frame
            .components
            .iter()
            .position(|comp| comp.id == c[0])
            .ok_or(Unsupported("scan names an unknown component"))?;
        if components.iter().any(|sc: &ScanComponent<'_>| sc.index == index) {
            return Err(Unsupported("a component twice in a scan"));
        }
        let (td, ta) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        let dc = if ah == 0 {
            Some(tables.dc.get(td).and_then(Option::as_ref).ok_or(Unsupported("missing DC table"))?)
        } else {
            None
        };
        let ac = if frame.progressive {
            None
        } else {
            Some(tables.ac.get(ta).and_then(Option::as_ref).ok_or(Unsupported("missing AC table"))?)
        };
        let comp = &mut frame.components[index];
        if comp.q0.is_none() {
            comp.q0 =
                Some(i32::from(tables.quant[comp.tq].ok_or(Unsupported("missing quantisation table"))?));
        }
        if ah == 0 {
            comp.seen = true;
        } else if !comp.seen {
            return Err(Unsupported("refinement before the first DC scan"));
        }
        components.push(ScanComponent { index, dc, ac, h: comp.h, v: comp.v, width: comp.width });
    }
    let end = entropy.read(data, pos)?;
    let (real_width, real_height) = {
        let c = &frame.components[components[0].index];
        (c.real_width, c.real_height)
    };
    // Each of the scan's planes, taken out of the frame while the scan fills it.
    let mut planes: Vec<Vec<i16>> =
        components.iter().map(|sc| std::mem::take(&mut frame.components[sc.index].dc)).collect();
    let outcome = decode_scan(
        entropy,
        &components,
        &mut planes,
        tables.restart_interval,
        al,
        frame,
        (real_width, real_height),
    );
    for (sc, plane) in components.iter().zip(planes) {
        frame.components[sc.index].dc = plane;
    }
    outcome.map(|()| end)
}

fn decode_scan<'a>(
    entropy: &'a Entropy,
    components: &[ScanComponent<'_>],
    planes: &mut [Vec<i16>],
    interval: usize,
    al: u32,
    frame: &Frame,
    (real_width, real_height): (usize, usize),
) -> Result<()> {
    let mut reader = Reader::at(&entropy.data, 0);
    let mut segment = 0;
    let mut predictors = [0i32; 4];
    let mut left = interval;
    let mut restart = |reader: &mut Reader<'a>, predictors: &mut [i32; 4]| -> Result<()> {
        if interval > 0 {
            if left == 0 {
                if reader.consumed() > 8 * entropy.segment_end(segment) {
                    return Err(Unsupported("a restart interval ends early"));
                }
                segment += 1;
                let start = *entropy.segments.get(segment).ok_or(Unsupported("missing restart marker"))?;
                *reader = Reader::at(&entropy.data, start);
                *predictors = [0; 4];
                left = interval;
            }
            left -= 1;
        }
        Ok(())
    };
    if let ([sc], [plane]) = (components, &mut *planes) {
        // Non-interleaved: the component's own blocks, row by row, no MCU padding.
        for by in 0..real_height {
            for bx in 0..real_width {
                restart(&mut reader, &mut predictors)?;
                block(&mut reader, plane, by * sc.width + bx, &mut predictors[0], sc, al)?;
            }
        }
    } else {
        for my in 0..frame.mcus_y {
            for mx in 0..frame.mcus_x {
                restart(&mut reader, &mut predictors)?;
                for ((sc, plane), predictor) in components.iter().zip(planes.iter_mut()).zip(&mut predictors)
                {
                    for by in 0..sc.v {
                        let row = (my * sc.v + by) * sc.width + mx * sc.h;
                        for bx in 0..sc.h {
                            block(&mut reader, plane, row + bx, predictor, sc, al)?;
                        }
                    }
                }
            }
        }
    }
    if reader.consumed() > 8 * entropy.segment_end(segment) {
        return Err(Unsupported("the scan's data ends early"));
    }
    Ok(())
}

/// One block: its DC value (first pass), or one more bit of it (refinement), then its AC codes
/// walked past (sequential scans).
#[inline(always)]
fn block(
    reader: &mut Reader<'_>,
    plane: &mut [i16],
    slot: usize,
    predictor: &mut i32,
    sc: &ScanComponent<'_>,
    al: u32,
) -> Result<()> {
    let value = plane.get_mut(slot).ok_or(Unsupported("block outside the plane"))?;
    if reader.count < 32 {
        reader.refill();
    }
    let Some(dc) = sc.dc else {
        let bit = (reader.buf >> 63) as i16;
        reader.consume(1);
        *value |= bit << al;
        return Ok(());
    };
    let entry = dc.fast[(reader.buf >> (64 - LOOKAHEAD)) as usize];
    let (size, length) = if entry != 0 {
        (entry & 0xFF, entry >> 8)
    } else {
        let (symbol, length) = dc.decode_slow(reader.buf)?;
        (u32::from(symbol), length)
    };
    if size > 15 {
        return Err(Unsupported("bad DC difference"));
    }
    reader.consume(length);
    *predictor += reader.value(size);
    *value = i16::try_from(*predictor << al).map_err(|_| Unsupported("DC out of range"))?;
    if let Some(ac) = sc.ac {
        skip_ac(reader, ac)?;
    }
    Ok(())
}

/// Walks past the AC codes of one block of a sequential scan.
#[inline(always)]
fn skip_ac(reader: &mut Reader<'_>, ac: &Huffman) -> Result<()> {
    let mut k = 1u32;
    while k < 64 {
        // A fast entry takes at most LOOKAHEAD + 15 bits, a slow symbol 16 + 15.
        if reader.count < 32 {
            reader.refill();
        }
        let entry = ac.fast[(reader.buf >> (64 - LOOKAHEAD)) as usize];
        if entry != 0 {
            if entry & AC_TWO != 0 && k + ((entry >> 16) & 31) >= 64 {
                // The block ends with the first symbol; the second belongs to the next block.
                reader.consume((entry >> 5) & 31);
                k += (entry >> 16) & 31;
                break;
            }
            reader.consume(entry & 31);
            k += (entry >> 10) & 63;
            if entry & AC_EOB != 0 {
                break;
            }
            continue;
        }
        let (symbol, length) = ac.decode_slow(reader.buf)?;
        let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
        match (run, size) {
            (0, 0) => {
                reader.consume(length);
                break;
            }
            (15, 0) => k += 16,
            (_, 0) => return Err(Unsupported("invalid AC symbol")),
            _ => k += run + 1,
        }
        reader.consume(length + size);
    }
    if k > 64 { Err(Unsupported("AC run past the end of a block")) } else { Ok(()) }
}

/// The position of the marker that ends the entropy-coded data starting at `pos`.
fn skip_entropy_data(data: &[u8], mut pos: usize) -> Result<usize> {
    loop {
        pos +=
            memchr::memchr(0xFF, data.get(pos..).unwrap_or_default()).ok_or(Unsupported("no end of scan"))?;
        match data.get(pos + 1) {
            Some(0x00 | 0xD0..=0xD7) => pos += 2,
            Some(0xFF) => pos += 1,
            Some(_) => return Ok(pos),
            None => return Err(Unsupported("no end of scan")),
        }
    }
}

/// Turns the DC planes into RGB pixels.
fn to_rgb(frame: &Frame, tables: &Tables) -> Result<Pixels> {
    let out_w = frame.width.div_ceil(8);
    let out_h = frame.height.div_ceil(8);
    if frame.components.iter().any(|c| !c.seen) {
        return Err(Unsupported("a component has no DC scan"));
    }
    let planes: Vec<Vec<u8>> = frame
        .components
        .iter()
        .map(|c| {
            let q0 = c.q0.unwrap_or(1);
            let samples: Vec<u8> =
                c.dc.iter()
                    .map(|&dc| {
                        u8::try_from((((i32::from(dc) * q0) + 4) >> 3) + 128).unwrap_or(if dc < 0 {
                            0
                        } else {
                            255
                        })
                    })
                    .collect();
            upsample(&samples, c, frame, out_w, out_h)
        })
        .collect();
    let width = u32::try_from(out_w).map_err(|_| Unsupported("size"))?;
    let height = u32::try_from(out_h).map_err(|_| Unsupported("size"))?;
    let data = match planes.as_slice() {
        [grey] => grey.iter().flat_map(|&g| [g, g, g]).collect(),
        [y, cb, cr] => {
            let ids: Vec<u8> = frame.components.iter().map(|c| c.id).collect();
            // libjpeg's guess: JFIF means YCbCr, then the Adobe transform flag, then the ids.
            let rgb = if tables.jfif {
                false
            } else if let Some(transform) = tables.adobe_transform {
                transform == 0
            } else {
                ids == [b'R', b'G', b'B']
            };
            if rgb {
                return Err(Unsupported("RGB JPEG"));
            }
            ycc_to_rgb(y, cb, cr)
        }
        _ => return Err(Unsupported("component count")),
    };
    Ok(Pixels { width, height, channels: 3, data })
}

/// Resamples one component's block plane to `out_w × out_h` (centred bilinear; a copy for full
/// resolution components).
fn upsample(samples: &[u8], c: &Component, frame: &Frame, out_w: usize, out_h: usize) -> Vec<u8> {
    let (fx, fy) = (frame.hmax / c.h, frame.vmax / c.v);
    let (src_w, src_h) = (c.real_width.max(1), c.real_height.max(1));
    if fx == 1 && fy == 1 {
        let mut out = Vec::with_capacity(out_w * out_h);
        for y in 0..out_h {
            out.extend_from_slice(&samples[y * c.width..y * c.width + out_w]);
        }
        return out;
    }
    // Source position of output sample x: (x + 0.5) / f − 0.5, in units of 1 / (2f).
    let taps = |out: usize, f: usize, src: usize| -> Vec<(usize, usize, u32)> {
        (0..out)
            .map(|x| {
                let num = (2 * x + 1) as isize - f as isize;
                let den = 2 * f as isize;
                let i0 = num.div_euclid(den);
                let frac = num.rem_euclid(den) as u32;
                let clamp = |i: isize| i.clamp(0, src as isize - 1) as usize;
                (clamp(i0), clamp(i0 + 1), frac)
            })
            .collect()
    };
    let xs = taps(out_w, fx, src_w);
    let ys = taps(out_h, fy, src_h);
    let (dx, dy) = (2 * fx as u32, 2 * fy as u32);
    let scale = dx * dy;
    let mut out = Vec::with_capacity(out_w * out_h);
    for &(y0, y1, wy) in &ys {
        let row0 = &samples[y0 * c.width..y0 * c.width + src_w];
        let row1 = &samples[y1 * c.width..y1 * c.width + src_w];
        for &(x0, x1, wx) in &xs {
            let top = u32::from(row0[x0]) * (dx - wx) + u32::from(row0[x1]) * wx;
            let bottom = u32::from(row1[x0]) * (dx - wx) + u32::from(row1[x1]) * wx;
            let value = (top * (dy - wy) + bottom * wy + scale / 2) / scale;
            out.push(u8::try_from(value).unwrap_or(u8::MAX));
        }
    }
    out
}

/// JFIF YCbCr → RGB, 16-bit fixed point (libjpeg's constants).
fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8]) -> Vec<u8> {
    const ONE_HALF: i32 = 1 << 15;
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    let mut out = Vec::with_capacity(y.len() * 3);
    for ((&y, &cb), &cr) in y.iter().zip(cb).zip(cr) {
        let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
        out.push(clamp(y + ((91_881 * cr + ONE_HALF) >> 16)));
        out.push(clamp(y + ((-22_554 * cb - 46_802 * cr + ONE_HALF) >> 16)));
        out.push(clamp(y + ((116_130 * cb + ONE_HALF) >> 16)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/photos").join(name),
        )
        .unwrap()
    }

    fn mean_difference(a: &Pixels, b: &Pixels) -> f64 {
        assert_eq!((a.width, a.height, a.channels), (b.width, b.height, b.channels));
        let sum: u64 = a.data.iter().zip(&b.data).map(|(&x, &y)| u64::from(x.abs_diff(y))).sum();
        sum as f64 / a.data.len() as f64
    }

    #[test]
    fn matches_libjpeg_at_one_eighth_on_real_photos() {
        for name in ["orient_1.jpg", "orient_6.jpg"] {
            let data = photo(name);
            let info = super::super::jpeg::scan(&data).unwrap();
            let ours = decode(&data).unwrap();
            let libjpeg = super::super::jpeg::decode_libjpeg(&data, &info, 1).unwrap();
            let mean = mean_difference(&ours, &libjpeg);
            assert!(mean < 2.0, "{name}: mean difference {mean}");
        }
    }

    #[test]
    fn progressive_files_decode_from_their_dc_scans() {
        // mozjpeg's defaults write progressive files (with DC refinement scans), in colour and grey.
        let data = photo("orient_1.jpg");
        let info = super::super::jpeg::scan(&data).unwrap();
        let full = super::super::jpeg::decode_libjpeg(&data, &info, 8).unwrap();
        for space in [mozjpeg::ColorSpace::JCS_YCbCr, mozjpeg::ColorSpace::JCS_GRAYSCALE] {
            let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
            compress.set_color_space(space);
            compress.set_size(full.width as usize, full.height as usize);
            compress.set_quality(85.0);
            compress.set_progressive_mode();
            let mut started = compress.start_compress(Vec::new()).unwrap();
            started.write_scanlines(&full.data).unwrap();
            let encoded = started.finish().unwrap();
            let info = super::super::jpeg::scan(&encoded).unwrap();
            assert!(info.progressive);
            let ours = decode(&encoded).unwrap();
            let libjpeg = super::super::jpeg::decode_libjpeg(&encoded, &info, 1).unwrap();
            let mean = mean_difference(&ours, &libjpeg);
            assert!(mean < 2.0, "{space:?}: mean difference {mean}");
        }
    }

    /// A minimal baseline JPEG writer: every block is a DC value plus a few AC codes, with a
    /// restart interval, interleaved or one scan per component.
    struct Writer {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }

    impl Writer {
        fn bits(&mut self, value: u32, len: u32) {
            for i in (0..len).rev() {
                self.acc = self.acc << 1 | u64::from(value >> i & 1);
                self.n += 1;
                if self.n == 8 {
                    let byte = self.acc as u8;
                    self.out.push(byte);
                    if byte == 0xFF {
                        self.out.push(0);
                    }
                    self.acc = 0;
                    self.n = 0;
                }
            }
        }

        fn flush(&mut self) {
            while self.n != 0 {
                self.bits(1, 1);
            }
        }
    }

    fn codes(counts: &[u8; 16], values: &[u8]) -> std::collections::HashMap<u8, (u32, u32)> {
        let mut map = std::collections::HashMap::new();
        let (mut code, mut k) = (0u32, 0usize);
        for length in 1..=16u32 {
            for _ in 0..counts[length as usize - 1] {
                map.insert(values[k], (code, length));
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        map
    }

    const DC_COUNTS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    const DC_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    // EOB, (0,1), (1,1), ZRL, (0,2) and a 12-bit-long code for (2,3) to take the slow path.
    const AC_COUNTS: [u8; 16] = [0, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    const AC_VALUES: [u8; 5] = [0x00, 0x01, 0x11, 0xF0, 0x23];

    fn category(v: i32) -> (u32, u32) {
        let size = 32 - v.unsigned_abs().leading_zeros();
        let bits = if v >= 0 { v as u32 } else { (v + (1 << size) - 1) as u32 };
        (size, bits)
    }

    /// `samples[c]` is component `c`'s plane of block averages (`(h, v)` sampling each).
    fn write_jpeg(
        width: u16,
        height: u16,
        sampling: &[(u8, u8)],
        interleaved: bool,
        restart: u16,
    ) -> Vec<u8> {
        let dc_codes = codes(&DC_COUNTS, &DC_VALUES);
        let ac_codes = codes(&AC_COUNTS, &AC_VALUES);
        let mut out = vec![0xFF, 0xD8];
        out.extend_from_slice(b"\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00");
        let mut dqt = vec![0xFF, 0xDB, 0, 67, 0, 8];
        dqt.extend_from_slice(&[1; 63]);
        out.extend_from_slice(&dqt);
        let count = sampling.len();
        out.extend_from_slice(&[0xFF, 0xC0]);
        out.extend_from_slice(&(8 + 3 * count as u16).to_be_bytes());
        out.push(8);
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.push(count as u8);
        for (i, (h, v)) in sampling.iter().enumerate() {
            out.extend_from_slice(&[i as u8 + 1, h << 4 | v, 0]);
        }
        for (class, counts, values) in
            [(0u8, &DC_COUNTS[..], &DC_VALUES[..]), (0x10, &AC_COUNTS[..], &AC_VALUES[..])]
        {
            out.extend_from_slice(&[0xFF, 0xC4]);
            out.extend_from_slice(&(3 + 16 + values.len() as u16).to_be_bytes());
            out.push(class);
            out.extend_from_slice(counts);
            out.extend_from_slice(values);
        }
        if restart > 0 {
            out.extend_from_slice(&[0xFF, 0xDD, 0, 4]);
            out.extend_from_slice(&restart.to_be_bytes());
        }
        let hmax = sampling.iter().map(|s| usize::from(s.0)).max().unwrap();
        let vmax = sampling.iter().map(|s| usize::from(s.1)).max().unwrap();
        let (iw, ih) = (usize::from(width), usize::from(height));
        let (mcus_x, mcus_y) = (iw.div_ceil(8 * hmax), ih.div_ceil(8 * vmax));
        // Block averages: a busy luma pattern (exact at 1/8 in both decoders) and gentle chroma
        // ramps (libjpeg replicates chroma blocks at 1/8, this decoder interpolates them), plus
        // some AC codes in every block.
        let average = |c: usize, bx: usize, by: usize| -> i32 {
            let (bx, by) = (bx as i32, by as i32);
            match c {
                0 => (10 + (bx * 7 + by * 5) % 60) * 8,
                1 => (-20 + bx + by) * 8,
                _ => (10 - bx + by / 2) * 8,
            }
        };
        let scan = |out: &mut Vec<u8>, comps: &[usize]| {
            out.extend_from_slice(&[0xFF, 0xDA]);
            out.extend_from_slice(&(6 + 2 * comps.len() as u16).to_be_bytes());
            out.push(comps.len() as u8);
            for &c in comps {
                out.extend_from_slice(&[c as u8 + 1, 0x00]);
            }
            out.extend_from_slice(&[0, 63, 0]);
            let mut w = Writer { out: Vec::new(), acc: 0, n: 0 };
            let mut preds = [0i32; 3];
            let mut units = 0usize;
            let mut rst = 0u8;
            let block = |w: &mut Writer, c: usize, bx: usize, by: usize, preds: &mut [i32; 3]| {
                let dc = average(c, bx, by) / 8;
                let (size, bits) = category(dc - preds[c]);
                preds[c] = dc;
                let (code, len) = dc_codes[&(size as u8)];
                w.bits(code, len);
                w.bits(bits, size);
                // (0,1) +1, ZRL, (1,1) -1, (2,3) 5, EOB
                for (symbol, value) in [(0x01u8, 1), (0xF0, 0), (0x11, -1), (0x23, 5), (0x00, 0)] {
                    let (code, len) = ac_codes[&symbol];
                    w.bits(code, len);
                    let size = u32::from(symbol & 15);
                    if size > 0 {
                        w.bits(category(value).1, size);
                    }
                }
            };
            let mut restart_point = |w: &mut Writer, preds: &mut [i32; 3], units: &mut usize| {
                if restart > 0 && *units > 0 && (*units).is_multiple_of(usize::from(restart)) {
                    w.flush();
                    w.out.extend_from_slice(&[0xFF, 0xD0 + rst]);
                    rst = (rst + 1) % 8;
                    *preds = [0; 3];
                }
                *units += 1;
            };
            if comps.len() == 1 {
                let c = comps[0];
                let (sh, sv) = (usize::from(sampling[c].0), usize::from(sampling[c].1));
                let bw = (iw * sh).div_ceil(hmax).div_ceil(8);
                let bh = (ih * sv).div_ceil(vmax).div_ceil(8);
                for by in 0..bh {
                    for bx in 0..bw {
                        restart_point(&mut w, &mut preds, &mut units);
                        block(&mut w, c, bx, by, &mut preds);
                    }
                }
            } else {
                for my in 0..mcus_y {
                    for mx in 0..mcus_x {
                        restart_point(&mut w, &mut preds, &mut units);
                        for &c in comps {
                            let (sh, sv) = (usize::from(sampling[c].0), usize::from(sampling[c].1));
                            for by in 0..sv {
                                for bx in 0..sh {
                                    block(&mut w, c, mx * sh + bx, my * sv + by, &mut preds);
                                }
                            }
                        }
                    }
                }
            }
            w.flush();
            out.extend_from_slice(&w.out);
        };
        if interleaved {
            scan(&mut out, &(0..count).collect::<Vec<_>>());
        } else {
            for c in 0..count {
                scan(&mut out, &[c]);
            }
        }
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    #[test]
    fn restart_intervals_sampling_and_scan_layouts_match_libjpeg() {
        for (sampling, interleaved, restart, width, height, tolerance) in [
            (&[(1u8, 1u8)][..], false, 2u16, 44u16, 27u16, 0.0),
            (&[(1, 1)][..], false, 0, 17, 90, 0.0),
            (&[(2, 2), (1, 1), (1, 1)][..], true, 3, 70, 45, 1.0),
            (&[(2, 1), (1, 1), (1, 1)][..], true, 1, 64, 40, 1.0),
            (&[(1, 2), (1, 1), (1, 1)][..], true, 0, 33, 65, 1.0),
            (&[(1, 1), (1, 1), (1, 1)][..], false, 5, 50, 30, 0.5),
            (&[(2, 2), (1, 1), (1, 1)][..], false, 4, 70, 45, 1.0),
        ] {
            let data = write_jpeg(width, height, sampling, interleaved, restart);
            let what = format!("{sampling:?} interleaved={interleaved} restart={restart} {width}x{height}");
            let info = super::super::jpeg::scan(&data).unwrap_or_else(|e| panic!("{what}: {e:?}"));
            let ours = decode(&data).unwrap_or_else(|e| panic!("{what}: {e:?}"));
            let libjpeg = super::super::jpeg::decode_libjpeg(&data, &info, 1).unwrap();
            let mean = mean_difference(&ours, &libjpeg);
            assert!(mean <= tolerance, "{what}: mean difference {mean}");
        }
    }

    #[test]
    fn damaged_data_is_declined_never_guessed() {
        let data = photo("orient_1.jpg");
        let sos = data.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        // Cut the entropy data short: the scan ends early.
        let mut cut = data[..sos + 2000].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        assert!(decode(&cut).is_err());
        // Every byte flip in the first part of the data either decodes or is declined, never panics.
        for i in (sos + 20..sos + 600).step_by(7) {
            let mut flipped = data.clone();
            flipped[i] ^= 0x5A;
            let _ = decode(&flipped);
        }
    }

    #[test]
    fn huffman_tables_reject_overfull_code_spaces() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes cannot exist
        assert!(Huffman::new(&counts, &[0, 1, 2], false).is_err());
    }
}
