//! Prometheus metrics, written in the text exposition format by hand: a few
//! counters and two histograms do not need a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the request latency buckets.
const REQUEST_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Upper bounds (seconds) of the scan duration buckets.
const SCAN_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A cumulative histogram with fixed buckets, updated without locks.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .and_then(|i| self.counts.get(i))
        {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// Everything the webhook counts.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, String, &'static str), u64>>,
    bad_requests: Mutex<BTreeMap<&'static str, u64>>,
    request_seconds_validate: Histogram,
    request_seconds_mutate: Histogram,
    /// Verdicts served from the cache.
    pub cache_hits: AtomicU64,
    /// Verdicts that had to wait for a scan.
    pub cache_misses: AtomicU64,
    scans: Mutex<BTreeMap<&'static str, u64>>,
    scan_seconds: Histogram,
    /// Scans whose requester gave up because the time budget ran out.
    pub scan_budget_exceeded: AtomicU64,
    /// Certificate reloads done.
    pub tls_reloads: AtomicU64,
    /// Certificate reloads refused (bad files; the old certificate stays).
    pub tls_reload_errors: AtomicU64,
    /// Vulnerability database reloads done (after its file changed).
    pub vulndb_reloads: AtomicU64,
    /// Vulnerability database reloads refused (unreadable or corrupt file;
    /// the previous database keeps serving).
    pub vulndb_reload_errors: AtomicU64,
    /// Whether a vulnerability database is loaded (images are scanned).
    vulndb_present: AtomicBool,
    /// Build time of the loaded database, seconds since the Unix epoch.
    vulndb_built: AtomicI64,
    /// Advisories in the loaded database.
    vulndb_advisories: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Mutex::default(),
            bad_requests: Mutex::default(),
            request_seconds_validate: Histogram::new(&REQUEST_BUCKETS),
            request_seconds_mutate: Histogram::new(&REQUEST_BUCKETS),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            scans: Mutex::default(),
            scan_seconds: Histogram::new(&SCAN_BUCKETS),
            scan_budget_exceeded: AtomicU64::new(0),
            tls_reloads: AtomicU64::new(0),
            tls_reload_errors: AtomicU64::new(0),
            vulndb_reloads: AtomicU64::new(0),
            vulndb_reload_errors: AtomicU64::new(0),
            vulndb_present: AtomicBool::new(false),
            vulndb_built: AtomicI64::new(0),
            vulndb_advisories: AtomicU64::new(0),
        }
    }
}

/// Which webhook endpoint served a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/validate`.
    Validate,
    /// `/mutate`.
    Mutate,
}

impl Endpoint {
    /// The endpoint's label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

fn escape(value: &str) -> String {
    value
        .chars()
        .take(64)
        .flat_map(|c| match c {
            '\\' => vec!['\\', '\\'],
            '"' => vec!['\\', '"'],
            '\n' => vec!['\\', 'n'],
            c => vec![c],
        })
        .collect()
}

impl Metrics {
    /// Counts a judged request by endpoint, object kind and decision
    /// (`allowed`, `denied`, `patched`).
    pub fn request(
        &self,
        endpoint: Endpoint,
        kind: &str,
        decision: &'static str,
        elapsed: Duration,
    ) {
        {
            let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            // Kinds come from requests; cap the label set so a hostile client
            // cannot grow it without bound.
            let kind = if requests.len() < 256 { kind } else { "other" };
            *requests
                .entry((endpoint.as_str(), kind.to_owned(), decision))
                .or_insert(0) += 1;
        }
        match endpoint {
            Endpoint::Validate => self.request_seconds_validate.observe(elapsed),
            Endpoint::Mutate => self.request_seconds_mutate.observe(elapsed),
        }
    }

    /// Counts a request refused before judging (HTTP 4xx/5xx), by reason.
    pub fn bad_request(&self, reason: &'static str) {
        let mut bad = self.bad_requests.lock().unwrap_or_else(|p| p.into_inner());
        *bad.entry(reason).or_insert(0) += 1;
    }

    /// Counts a finished scan by outcome (`ok`, `error`) and its duration.
    pub fn scan(&self, outcome: &'static str, elapsed: Duration) {
        {
            let mut scans = self.scans.lock().unwrap_or_else(|p| p.into_inner());
            *scans.entry(outcome).or_insert(0) += 1;
        }
        self.scan_seconds.observe(elapsed);
    }

    /// Records the vulnerability database now serving (at start and on each reload).
    pub fn vulndb_loaded(&self, database: &crate::verdicts::DatabaseInfo) {
        self.vulndb_built
            .store(database.built_unix_seconds.unwrap_or(0), Ordering::Relaxed);
        self.vulndb_advisories
            .store(database.advisories, Ordering::Relaxed);
        self.vulndb_present.store(true, Ordering::Relaxed);
    }

    /// The number of judged requests with this decision, all kinds and endpoints.
    pub fn requests_with_decision(&self, decision: &str) -> u64 {
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        requests
            .iter()
            .filter(|((_, _, d), _)| *d == decision)
            .map(|(_, n)| n)
            .sum()
    }

    /// The number of finished scans.
    pub fn scans_total(&self) -> u64 {
        let scans = self.scans.lock().unwrap_or_else(|p| p.into_inner());
        scans.values().sum()
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP portcullis_admission_requests_total Admission requests judged, by endpoint, object kind and decision.\n");
        out.push_str("# TYPE portcullis_admission_requests_total counter\n");
        for ((endpoint, kind, decision), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "portcullis_admission_requests_total{{endpoint=\"{endpoint}\",kind=\"{}\",decision=\"{decision}\"}} {n}",
                escape(kind)
            );
        }
        out.push_str("# HELP portcullis_admission_bad_requests_total Requests refused before judging, by reason.\n");
        out.push_str("# TYPE portcullis_admission_bad_requests_total counter\n");
        for (reason, n) in self
            .bad_requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "portcullis_admission_bad_requests_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str("# HELP portcullis_admission_request_duration_seconds Time from request body read to response, by endpoint.\n");
        out.push_str("# TYPE portcullis_admission_request_duration_seconds histogram\n");
        self.request_seconds_validate.render(
            &mut out,
            "portcullis_admission_request_duration_seconds",
            "endpoint=\"validate\"",
        );
        self.request_seconds_mutate.render(
            &mut out,
            "portcullis_admission_request_duration_seconds",
            "endpoint=\"mutate\"",
        );
        for (name, help, value) in [
            (
                "portcullis_admission_verdict_cache_hits_total",
                "Image verdicts served from the cache.",
                &self.cache_hits,
            ),
            (
                "portcullis_admission_verdict_cache_misses_total",
                "Image verdicts that waited for a scan.",
                &self.cache_misses,
            ),
            (
                "portcullis_admission_scan_budget_exceeded_total",
                "Verdicts not ready within the time budget.",
                &self.scan_budget_exceeded,
            ),
            (
                "portcullis_admission_tls_reloads_total",
                "Serving certificate reloads.",
                &self.tls_reloads,
            ),
            (
                "portcullis_admission_tls_reload_errors_total",
                "Certificate reloads refused; the previous certificate stays.",
                &self.tls_reload_errors,
            ),
            (
                "portcullis_admission_vulndb_reloads_total",
                "Vulnerability database reloads after its file changed.",
                &self.vulndb_reloads,
            ),
            (
                "portcullis_admission_vulndb_reload_errors_total",
                "Vulnerability database reloads refused; the previous database stays.",
                &self.vulndb_reload_errors,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        if self.vulndb_present.load(Ordering::Relaxed) {
            for (name, help, value) in [
                (
                    "portcullis_admission_vulndb_built_timestamp_seconds",
                    "Build time of the vulnerability database serving verdicts (0 when unknown).",
                    self.vulndb_built.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "portcullis_admission_vulndb_advisories",
                    "Advisories in the vulnerability database serving verdicts.",
                    self.vulndb_advisories.load(Ordering::Relaxed).to_string(),
                ),
            ] {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
                );
            }
        }
        out.push_str("# HELP portcullis_admission_scans_total Image scans finished, by outcome.\n");
        out.push_str("# TYPE portcullis_admission_scans_total counter\n");
        for (outcome, n) in self.scans.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "portcullis_admission_scans_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP portcullis_admission_scan_duration_seconds Time one image scan took.\n",
        );
        out.push_str("# TYPE portcullis_admission_scan_duration_seconds histogram\n");
        self.scan_seconds
            .render(&mut out, "portcullis_admission_scan_duration_seconds", "");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counts_buckets_and_escaped_labels() {
        let metrics = Metrics::default();
        metrics.request(
            Endpoint::Validate,
            "Pod",
            "denied",
            Duration::from_micros(300),
        );
        metrics.request(
            Endpoint::Validate,
            "Pod",
            "denied",
            Duration::from_millis(3),
        );
        metrics.request(
            Endpoint::Mutate,
            "We\"ird",
            "allowed",
            Duration::from_millis(3),
        );
        metrics.scan("ok", Duration::from_millis(120));
        let text = metrics.render();
        assert!(text.contains(
            "portcullis_admission_requests_total{endpoint=\"validate\",kind=\"Pod\",decision=\"denied\"} 2"
        ), "{text}");
        assert!(text.contains("kind=\"We\\\"ird\""), "{text}");
        assert!(text.contains(
            "portcullis_admission_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.0005\"} 1"
        ), "{text}");
        assert!(text.contains(
            "portcullis_admission_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.005\"} 2"
        ), "{text}");
        assert!(
            text.contains("portcullis_admission_scan_duration_seconds_bucket{le=\"0.25\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_admission_scan_duration_seconds_count 1"),
            "{text}"
        );
        assert_eq!(metrics.requests_with_decision("denied"), 2);
        // No database loaded (--no-scan): no database gauges.
        assert!(!text.contains("vulndb_built_timestamp_seconds"), "{text}");
        metrics.vulndb_loaded(&crate::verdicts::DatabaseInfo {
            built: "2026-11-29T09:00:00Z".into(),
            built_unix_seconds: Some(1_795_942_800),
            advisories: 42,
        });
        let text = metrics.render();
        assert!(
            text.contains("# TYPE portcullis_admission_vulndb_built_timestamp_seconds gauge\nportcullis_admission_vulndb_built_timestamp_seconds 1795942800\n"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_admission_vulndb_advisories 42\n"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_admission_vulndb_reloads_total 0\n"),
            "{text}"
        );
    }

    #[test]
    fn kind_label_set_is_bounded() {
        let metrics = Metrics::default();
        for i in 0..1000 {
            metrics.request(
                Endpoint::Validate,
                &format!("Kind{i}"),
                "allowed",
                Duration::ZERO,
            );
        }
        let series = metrics.requests.lock().expect("lock").len();
        assert!(series <= 257, "{series}");
    }
}
