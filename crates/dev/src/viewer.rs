//! The distribution's viewer-request function (`cloudfront/viewer-request.js`) for the local
//! edge: the same rewrite of the viewer's URI, written in Rust and checked against every test
//! object of `cloudfront/tests/` (the JavaScript's own tests), so the two cannot drift apart.
//!
//! - `/thumbs/{id}/{px}` without an extension becomes the first of the negotiated formats
//!   ([`thumbforge_core::config::Thumbnails::negotiated_formats`]) whose media type the `Accept`
//!   header lists with `q` > 0 (`image/*` and `*/*` do not count), `.jpg` otherwise.
//! - A path ending in `/` (not under `/api/` or `/thumbs/`) gets `index.html` appended.
//! - Anything else is left as it is.

use serde::Serialize;
use thumbforge_core::OutputFormat;

/// The line of `cloudfront/viewer-request.js` that lists the negotiated formats. Terraform
/// (`terraform/cdn.tf`) replaces it with the configured list; as committed it holds the
/// default configuration's.
pub const NEGOTIATED_LINE_PREFIX: &str = "const NEGOTIATED = ";

/// One item of the function's `NEGOTIATED` list: what Terraform's `negotiated_formats` variable
/// holds and `jsonencode` writes into the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NegotiatedFormat {
    /// The key's extension (`webp`).
    pub extension: &'static str,
    /// The media type `Accept` must name (`image/webp`).
    pub media_type: &'static str,
}

/// The `NEGOTIATED` items of `formats`, best first.
pub fn negotiated(formats: &[OutputFormat]) -> Vec<NegotiatedFormat> {
    formats
        .iter()
        .map(|f| NegotiatedFormat { extension: f.extension(), media_type: f.content_type() })
        .collect()
}

/// The JSON the function's `NEGOTIATED` constant holds for `formats`, exactly as Terraform's
/// `jsonencode` writes it (keys sorted, no spaces).
pub fn negotiated_json(formats: &[OutputFormat]) -> String {
    serde_json::json!(negotiated(formats)).to_string()
}

/// `source` (the function's code) with its `NEGOTIATED` line listing `formats`, as Terraform
/// deploys it; `None` when the code has no such line, or more than one.
pub fn deployed_code(source: &str, formats: &[OutputFormat]) -> Option<String> {
    let mut lines = source.split_inclusive('\n').filter(|l| l.starts_with(NEGOTIATED_LINE_PREFIX));
    let line = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    let newline = if line.ends_with('\n') { "\n" } else { "" };
    let replaced = format!("{NEGOTIATED_LINE_PREFIX}{};{newline}", negotiated_json(formats));
    Some(source.replacen(line, &replaced, 1))
}

/// The URI the function sends to the origin for a viewer's `uri` with these `Accept` header
/// values, when the thumbnails are negotiated among `negotiated` (best first).
pub fn rewrite_uri(uri: &str, accept: &[&str], negotiated: &[OutputFormat]) -> String {
    if let Some((id, px)) = extensionless_thumbnail(uri) {
        let extension = negotiated
            .iter()
            .find(|f| accepts(accept, f.content_type()))
            .map_or(OutputFormat::Jpeg.extension(), |f| f.extension());
        return format!("/thumbs/{id}/{px}.{extension}");
    }
    if uri.ends_with('/') && !uri.starts_with("/api/") && !uri.starts_with("/thumbs/") {
        return format!("{uri}index.html");
    }
    uri.to_owned()
}

/// `{id}` and `{px}` of `/thumbs/{id}/{px}`: a canonical lower-case UUID and 1 to 5 digits
/// without a leading zero.
fn extensionless_thumbnail(uri: &str) -> Option<(&str, &str)> {
    let (id, px) = uri.strip_prefix("/thumbs/")?.split_once('/')?;
    let canonical_uuid = id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    let width = (1..=5).contains(&px.len()) && px.bytes().all(|b| b.is_ascii_digit()) && !px.starts_with('0');
    (canonical_uuid && width).then_some((id, px))
}

/// Whether the `Accept` values list `media_type` with a non-zero quality.
fn accepts(accept: &[&str], media_type: &str) -> bool {
    accept.iter().flat_map(|value| value.split(',')).any(|range| {
        let mut parts = range.split(';');
        if !parts.next().is_some_and(|t| t.trim().eq_ignore_ascii_case(media_type)) {
            return false;
        }
        let mut quality = 1.0_f64;
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=')
                && !value.contains('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                // As JavaScript's parseFloat: a value that is not a number is no quality.
                quality = value.trim().parse().unwrap_or(f64::NAN);
            }
        }
        quality > 0.0
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;

    fn cloudfront_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../cloudfront")
    }

    /// The negotiated formats a test object is written for: its `negotiated` list of
    /// `{extension, media_type}`, or the default configuration's.
    fn negotiated_of(case: &Value) -> Vec<OutputFormat> {
        match case.get("negotiated") {
            None => thumbforge_core::Config::default().thumbnails.negotiated_formats(),
            Some(list) => list
                .as_array()
                .expect("negotiated is a list")
                .iter()
                .map(|item| {
                    let media_type = item["media_type"].as_str().expect("a media_type");
                    let format = OutputFormat::ALL
                        .into_iter()
                        .find(|f| f.content_type() == media_type)
                        .expect("a known media type");
                    assert_eq!(item["extension"], format.extension());
                    format
                })
                .collect(),
        }
    }

    fn header_values(request: &Value, name: &str) -> Vec<String> {
        let header = &request["headers"][name];
        if let Some(values) = header["multiValue"].as_array().filter(|v| !v.is_empty()) {
            return values.iter().filter_map(|v| v["value"].as_str().map(str::to_owned)).collect();
        }
        header["value"].as_str().map(str::to_owned).into_iter().collect()
    }

    #[test]
    fn every_test_object_of_the_cloudfront_function_rewrites_alike() {
        let mut checked = 0;
        let mut negotiated_cases = 0;
        let mut entries: Vec<_> = std::fs::read_dir(cloudfront_dir().join("tests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        entries.sort();
        for path in entries {
            let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let request = &case["event"]["request"];
            let accept = header_values(request, "accept");
            let accept: Vec<&str> = accept.iter().map(String::as_str).collect();
            let negotiated = negotiated_of(&case);
            negotiated_cases += usize::from(case.get("negotiated").is_some());
            let uri = request["uri"].as_str().unwrap();
            let expected = case["expected"]["request"]["uri"].as_str().expect("the case forwards a request");
            assert_eq!(rewrite_uri(uri, &accept, &negotiated), expected, "{}", path.display());
            checked += 1;
        }
        assert!(checked >= 15, "{checked} test objects");
        assert!(negotiated_cases >= 2, "{negotiated_cases} cases with their own formats");
    }

    #[test]
    fn the_committed_function_lists_the_default_formats_and_is_deployed_with_the_configured_ones() {
        let source = std::fs::read_to_string(cloudfront_dir().join("viewer-request.js")).unwrap();
        let defaults = thumbforge_core::Config::default().thumbnails.negotiated_formats();
        assert_eq!(deployed_code(&source, &defaults).as_deref(), Some(source.as_str()));
        let jpeg_only = deployed_code(&source, &[]).unwrap();
        assert!(jpeg_only.contains("\nconst NEGOTIATED = [];\n"), "{jpeg_only}");
        assert_eq!(jpeg_only.lines().count(), source.lines().count());
        assert_eq!(deployed_code("const x = 1;\n", &[]), None);
        let twice = format!("{source}{NEGOTIATED_LINE_PREFIX}[];\n");
        assert_eq!(deployed_code(&twice, &[]), None);
    }

    #[test]
    fn accept_ranges_are_read_as_the_function_reads_them() {
        let webp = "image/webp";
        assert!(accepts(&["image/avif,image/webp,*/*;q=0.8"], webp));
        assert!(accepts(&["text/html", "IMAGE/WEBP ; q=0.5"], webp));
        assert!(!accepts(&["image/webp;q=0"], webp));
        assert!(!accepts(&["image/webp;q=abc"], webp));
        assert!(!accepts(&["image/*,*/*"], webp));
        assert!(!accepts(&[], webp));
    }
}
