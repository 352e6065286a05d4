//! TEMPORARY development check (removed before hand-off): DC path vs libjpeg at 1/8.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]
use std::time::Instant;
use thumbnail::engine::jpeg;
fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).unwrap();
        let Ok(info) = jpeg::scan(&data) else { continue };
        let mut best = [f64::MAX; 2];
        let (mut a, mut b) = (None, None);
        for _ in 0..5 {
            let t = Instant::now();
            a = Some(jpeg::decode(&data, &info, 1));
            best[0] = best[0].min(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            b = Some(jpeg::decode_libjpeg(&data, &info, 1));
            best[1] = best[1].min(t.elapsed().as_secs_f64() * 1e3);
        }
        let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
        let same = (a.width, a.height) == (b.width, b.height);
        let mean = if same {
            a.data.iter().zip(&b.data).map(|(&x, &y)| f64::from(x.abs_diff(y))).sum::<f64>()
                / a.data.len() as f64
        } else {
            f64::NAN
        };
        let max =
            if same { a.data.iter().zip(&b.data).map(|(&x, &y)| x.abs_diff(y)).max().unwrap() } else { 0 };
        println!(
            "{:45} {}x{} vs {}x{} mean {mean:.3} max {max}  dc {:.1} ms libjpeg {:.1} ms",
            path.rsplit('/').next().unwrap(),
            a.width,
            a.height,
            b.width,
            b.height,
            best[0],
            best[1]
        );
    }
}
