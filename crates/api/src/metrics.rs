//! The request metrics served at /metrics (Prometheus text format).

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// Request counters and latencies by method, route pattern and status.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("rusreg_http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("rusreg_http_request_duration_seconds", "HTTP request latency by method and route"),
            &["method", "route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self { registry, requests, latency })
    }

    /// Every metric in the Prometheus text format.
    pub fn text(&self) -> Result<Vec<u8>, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(buf)
    }

    /// Counts one request and records its latency.
    pub fn observe(&self, method: &str, route: &str, status: &str, seconds: f64) {
        self.requests.with_label_values(&[method, route, status]).inc();
        self.latency.with_label_values(&[method, route]).observe(seconds);
    }
}
