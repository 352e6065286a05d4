//! CloudWatch Embedded Metric Format: metrics written as one JSON log line each, which
//! CloudWatch Logs turns into metrics without a `PutMetricData` call (so they cost no request
//! and cannot fail the invocation).
//!
//! A line is `{"_aws": {"Timestamp", "CloudWatchMetrics": [{"Namespace", "Dimensions",
//! "Metrics": [{"Name", "Unit"}]}]}, <dimension>: <value>…, <metric>: <number>…, <property>…}`,
//! the format's specification: the metadata names which root members are dimensions and
//! metrics.

use std::io::Write;

use serde_json::{Map, Value, json};

/// The namespace of every thumbforge metric.
pub use thumbforge_core::metrics::NAMESPACE;

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A duration.
    Milliseconds,
    /// A size.
    Bytes,
    /// A number of things.
    Count,
}

impl Unit {
    /// CloudWatch's name of the unit.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Milliseconds => "Milliseconds",
            Self::Bytes => "Bytes",
            Self::Count => "Count",
        }
    }
}

/// One line of metrics: dimensions shared by its values, and properties (searchable in Logs
/// Insights, not metrics).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    dimensions: Vec<(&'static str, String)>,
    values: Vec<(&'static str, Unit, f64)>,
    properties: Vec<(&'static str, Value)>,
}

impl Metrics {
    /// An empty line.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a dimension (`Function`, `Outcome`, `Reason`…).
    #[must_use]
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    /// Adds a metric value.
    #[must_use]
    pub fn value(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.values.push((name, unit, value));
        self
    }

    /// Adds a property: a value in the line that is not a metric (an image id).
    #[must_use]
    pub fn property(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.properties.push((name, value.into()));
        self
    }

    /// The JSON line, stamped `timestamp_ms` (epoch milliseconds).
    pub fn to_line(&self, timestamp_ms: u64) -> String {
        let mut root = Map::new();
        let names: Vec<&str> = self.dimensions.iter().map(|(name, _)| *name).collect();
        let metrics: Vec<Value> =
            self.values.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit.name()})).collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [names], "Metrics": metrics}],
            }),
        );
        for (name, value) in &self.properties {
            root.insert((*name).into(), value.clone());
        }
        for (name, value) in &self.dimensions {
            root.insert((*name).into(), Value::String(value.clone()));
        }
        for (name, _, value) in &self.values {
            root.insert((*name).into(), json!(value));
        }
        Value::Object(root).to_string()
    }

    /// Writes the line to standard output, which Lambda sends to CloudWatch Logs. A failed
    /// write loses the metrics, never the invocation.
    pub fn emit(&self) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let line = self.to_line(u64::try_from(now.as_millis()).unwrap_or(u64::MAX));
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").is_err() {
            tracing::warn!("the metrics line could not be written");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp, reason = "tests")]

    use super::*;

    /// Reads a line as CloudWatch does: the `_aws` metadata names the namespace, the dimension
    /// set and each metric with its unit; each named member must be at the root, a dimension a
    /// string, a metric a number.
    /// (namespace, dimensions by name, metrics as name, unit and value).
    type Read = (String, Vec<(String, String)>, Vec<(String, String, f64)>);

    fn as_cloudwatch_reads(line: &str) -> Read {
        let root: Value = serde_json::from_str(line).unwrap();
        let aws = &root["_aws"];
        assert!(aws["Timestamp"].is_u64(), "Timestamp in epoch ms");
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        let sets = directive["Dimensions"].as_array().unwrap();
        assert_eq!(sets.len(), 1, "one dimension set");
        let dimensions = sets[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| {
                let name = name.as_str().unwrap();
                (
                    name.to_owned(),
                    root[name].as_str().unwrap_or_else(|| panic!("{name} at the root")).to_owned(),
                )
            })
            .collect();
        let metrics = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let name = m["Name"].as_str().unwrap();
                let unit = m["Unit"].as_str().unwrap();
                (
                    name.to_owned(),
                    unit.to_owned(),
                    root[name].as_f64().unwrap_or_else(|| panic!("{name} a number")),
                )
            })
            .collect();
        (directive["Namespace"].as_str().unwrap().to_owned(), dimensions, metrics)
    }

    #[test]
    fn a_line_reads_as_cloudwatch_reads_it() {
        let line = Metrics::new()
            .dimension("Function", "thumbnail")
            .dimension("Outcome", "ready")
            .value("DecodeMs", Unit::Milliseconds, 12.5)
            .value("BytesIn", Unit::Bytes, 352_727.0)
            .value("Images", Unit::Count, 1.0)
            .property("imageId", "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e")
            .to_line(1_741_788_191_123);
        let (namespace, dimensions, metrics) = as_cloudwatch_reads(&line);
        assert_eq!(namespace, "thumbforge");
        assert_eq!(
            dimensions,
            [("Function".to_owned(), "thumbnail".to_owned()), ("Outcome".to_owned(), "ready".to_owned())]
        );
        assert_eq!(
            metrics,
            [
                ("DecodeMs".to_owned(), "Milliseconds".to_owned(), 12.5),
                ("BytesIn".to_owned(), "Bytes".to_owned(), 352_727.0),
                ("Images".to_owned(), "Count".to_owned(), 1.0),
            ]
        );
        let root: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(root["_aws"]["Timestamp"], 1_741_788_191_123_u64);
        assert_eq!(root["imageId"], "0195896b-6a13-7c3a-9b1e-6f4d2c1a0b9e", "a property, not a metric");
        assert!(!line.contains('\n'), "one line");
    }
}
