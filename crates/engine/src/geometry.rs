//! Pure size arithmetic: fitting into a box and choosing the JPEG DCT scale.

/// The size of `width × height` scaled to fit inside a `size × size` box, never upscaled, the
/// aspect ratio kept within one pixel. `None` when a side would round to 0 px.
pub fn fit(width: u32, height: u32, size: u32) -> Option<(u32, u32)> {
    let long = width.max(height);
    if long <= size {
        return (width > 0 && height > 0).then_some((width, height));
    }
    let scale = |side: u32| -> u32 {
        // Round half up in integers: side * size / long.
        let scaled = (u64::from(side) * u64::from(size) * 2 + u64::from(long)) / (2 * u64::from(long));
        u32::try_from(scaled).unwrap_or(u32::MAX)
    };
    let (w, h) = if width >= height { (size, scale(height)) } else { (scale(width), size) };
    (w > 0 && h > 0).then_some((w, h))
}

/// The size libjpeg produces at `numerator / 8`.
pub fn dct_scaled(width: u32, height: u32, numerator: u8) -> (u32, u32) {
    let scaled = |side: u32| (u64::from(side) * u64::from(numerator)).div_ceil(8);
    (u32::try_from(scaled(width)).unwrap_or(u32::MAX), u32::try_from(scaled(height)).unwrap_or(u32::MAX))
}

/// The smallest DCT scale (1/8, 2/8, … 7/8 or 1: libjpeg scales by any eighth) whose output
/// still covers `target`, so the final resize only ever shrinks, from as few pixels as possible.
pub fn dct_numerator(width: u32, height: u32, target: (u32, u32)) -> u8 {
    (1..8)
        .find(|&n| {
            let (w, h) = dct_scaled(width, height, n);
            w >= target.0 && h >= target.1
        })
        .unwrap_or(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_inside_the_box_without_upscaling() {
        assert_eq!(fit(6000, 4000, 1024), Some((1024, 683)));
        assert_eq!(fit(4000, 6000, 1024), Some((683, 1024)));
        assert_eq!(fit(1024, 1024, 256), Some((256, 256)));
        assert_eq!(fit(100, 50, 256), Some((100, 50)));
        assert_eq!(fit(256, 10, 256), Some((256, 10)));
        assert_eq!(fit(1, 1, 256), Some((1, 1)));
        assert_eq!(fit(0, 10, 256), None);
    }

    #[test]
    fn aspect_ratio_is_kept_within_one_pixel() {
        for (w, h) in
            [(6000, 4000), (4608, 1976), (1488, 2240), (8485, 5657), (3, 16384), (16384, 100), (999, 1001)]
        {
            for size in [64, 256, 1024] {
                let Some((tw, th)) = fit(w, h, size) else {
                    continue;
                };
                assert!(tw.max(th) <= size);
                let exact_h = f64::from(tw) * f64::from(h) / f64::from(w);
                let exact_w = f64::from(th) * f64::from(w) / f64::from(h);
                assert!(
                    (exact_h - f64::from(th)).abs() <= 1.0 || (exact_w - f64::from(tw)).abs() <= 1.0,
                    "{w}x{h} -> {tw}x{th}"
                );
            }
        }
    }

    #[test]
    fn extreme_aspect_ratios_give_none() {
        assert_eq!(fit(16384, 1, 256), None);
        assert_eq!(fit(1, 60000, 1024), None);
        assert_eq!(fit(600, 1, 256), None);
        assert_eq!(fit(300, 1, 256), Some((256, 1)));
    }

    #[test]
    fn dct_scale_is_the_smallest_that_covers_the_target() {
        assert_eq!(dct_numerator(8485, 5657, (1024, 683)), 1);
        assert_eq!(dct_numerator(6000, 4000, (1024, 683)), 2);
        assert_eq!(dct_numerator(4032, 3024, (1024, 768)), 3);
        assert_eq!(dct_numerator(3264, 2448, (1024, 768)), 3);
        assert_eq!(dct_numerator(2048, 1536, (1024, 768)), 4);
        assert_eq!(dct_numerator(1800, 1200, (1024, 683)), 5);
        assert_eq!(dct_numerator(1800, 1200, (256, 171)), 2);
        assert_eq!(dct_numerator(800, 600, (800, 600)), 8);
        assert_eq!(dct_scaled(8485, 5657, 1), (1061, 708));
        assert_eq!(dct_scaled(4032, 3024, 3), (1512, 1134));
    }
}
