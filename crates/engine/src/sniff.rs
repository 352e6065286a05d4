//! Format detection from magic bytes. Names, extensions and declared types are never consulted.

use thumbforge_core::InputFormat;

/// What the first bytes of an upload say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// No bytes at all.
    Empty,
    /// One of the formats thumbforge can decode.
    Supported(InputFormat),
    /// An image format thumbforge does not decode (named for the message).
    OtherImage(&'static str),
    /// Not an image format we recognise.
    Unknown,
}

/// Detects the format of `data` from its signature.
pub fn sniff(data: &[u8]) -> Sniffed {
    if data.is_empty() {
        return Sniffed::Empty;
    }
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Supported(InputFormat::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Supported(InputFormat::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Sniffed::Supported(InputFormat::Gif);
    }
    if data.len() >= 12 && starts(b"RIFF") && &data[8..12] == b"WEBP" {
        return Sniffed::Supported(InputFormat::Webp);
    }
    if let Some(name) = other_image(data) {
        return Sniffed::OtherImage(name);
    }
    Sniffed::Unknown
}

fn other_image(data: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(b"BM") && data.len() >= 26 {
        return Some("BMP");
    }
    if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        return Some("TIFF");
    }
    if starts(&[0, 0, 1, 0]) || starts(&[0, 0, 2, 0]) {
        return Some("ICO");
    }
    if starts(b"8BPS") {
        return Some("PSD");
    }
    if starts(b"qoif") {
        return Some("QOI");
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Some("JPEG XL");
    }
    if starts(b"\0\0\0\x0cjP  \r\n\x87\n") || starts(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Some("JPEG 2000");
    }
    if starts(b"#?RADIANCE") || starts(b"#?RGBE") {
        return Some("HDR");
    }
    if starts(&[0x76, 0x2F, 0x31, 0x01]) {
        return Some("OpenEXR");
    }
    if data.len() >= 12 && &data[4..8] == b"ftyp" {
        return match &data[8..12] {
            b"avif" | b"avis" => Some("AVIF"),
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => Some("HEIF"),
            _ => None,
        };
    }
    if looks_like_svg(data) {
        return Some("SVG");
    }
    None
}

/// SVG is text: look for an `<svg` element near the start, after an optional BOM, XML prolog,
/// comments or doctype. Nothing is parsed.
fn looks_like_svg(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let trimmed = head.iter().position(|b| !b.is_ascii_whitespace()).map_or(&[][..], |i| &head[i..]);
    if !trimmed.starts_with(b"<") {
        return false;
    }
    head.windows(4).any(|w| w.eq_ignore_ascii_case(b"<svg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_formats_by_signature() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Sniffed::Supported(InputFormat::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Sniffed::Supported(InputFormat::Png));
        assert_eq!(sniff(b"GIF89a...."), Sniffed::Supported(InputFormat::Gif));
        assert_eq!(sniff(b"GIF87a...."), Sniffed::Supported(InputFormat::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Sniffed::Supported(InputFormat::Webp));
    }

    #[test]
    fn other_images_are_named() {
        assert_eq!(
            sniff(b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x10\0\0\0\x10\0\0\0"),
            Sniffed::OtherImage("BMP")
        );
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Sniffed::OtherImage("TIFF"));
        assert_eq!(sniff(b"\0\0\0\x1cftypheic\0\0\0\0"), Sniffed::OtherImage("HEIF"));
        assert_eq!(sniff(b"\0\0\0\x1cftypavif\0\0\0\0"), Sniffed::OtherImage("AVIF"));
        assert_eq!(sniff(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"), Sniffed::OtherImage("SVG"));
        assert_eq!(sniff(b"\xEF\xBB\xBF  <SVG></SVG>"), Sniffed::OtherImage("SVG"));
    }

    #[test]
    fn everything_else_is_unknown() {
        assert_eq!(sniff(b""), Sniffed::Empty);
        assert_eq!(sniff(b"hello, this is text"), Sniffed::Unknown);
        assert_eq!(sniff(b"<!doctype html><html><body>hi</body></html>"), Sniffed::Unknown);
        assert_eq!(sniff(b"PK\x03\x04zip"), Sniffed::Unknown);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), Sniffed::Unknown);
        assert_eq!(sniff(b"\xFF\xD8"), Sniffed::Unknown);
        assert_eq!(sniff(b"text mentioning <svg but not starting with a tag"), Sniffed::Unknown);
    }
}
