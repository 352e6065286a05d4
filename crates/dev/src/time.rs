//! Timestamps in the shapes AWS events carry them.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// `2026-11-22T08:00:00.123Z`: RFC 3339 in UTC with milliseconds, as in S3 event records.
pub fn rfc3339_millis(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = DateTime::from_secs(i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
    let text = seconds.fmt(Format::DateTime).unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned());
    format!("{}.{:03}Z", text.trim_end_matches('Z'), since.subsec_millis())
}

/// `22/Nov/2026:08:00:00 +0000`, as in API Gateway's `requestContext.time`.
pub fn apigw_time(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = DateTime::from_secs(i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
    // HTTP date: `Sun, 22 Nov 2026 08:00:00 GMT`.
    let http = seconds.fmt(Format::HttpDate).unwrap_or_default();
    let parts: Vec<&str> = http.split_whitespace().collect();
    match parts.as_slice() {
        [_, day, month, year, clock, _] => format!("{day:0>2}/{month}/{year}:{clock} +0000"),
        _ => "01/Jan/1970:00:00:00 +0000".to_owned(),
    }
}

/// Milliseconds since the Unix epoch.
pub fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::from_millis(1_741_788_191_007);
        assert_eq!(rfc3339_millis(t), "2025-03-12T14:03:11.007Z");
        assert_eq!(apigw_time(t), "12/Mar/2025:14:03:11 +0000");
        assert_eq!(epoch_millis(t), 1_741_788_191_007);
        let t = UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 5 * 86_400);
        assert_eq!(apigw_time(t), "06/Jan/2026:00:00:00 +0000");
        assert_eq!(rfc3339_millis(t), "2026-01-06T00:00:00.000Z");
    }
}
