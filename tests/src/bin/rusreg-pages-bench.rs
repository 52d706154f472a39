//! Page benchmark (docs/benchmarks.md): GETs each given path of a running rusreg on loopback
//! from concurrent clients, one after another in the same run, and prints the latency percentiles
//! and throughput it measured per path (for the public results pages next to the public JSON).
//!
//! rusreg-pages-bench --url http://127.0.0.1:8080 --paths /results,/api/v1/public/indicators
//!                    [--requests 400] [--concurrency 4] [--warmup 20]

#![expect(clippy::unwrap_used, reason = "a benchmark tool: a failure aborts the run")]

use integration_tests::bench::{arg, percentile};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let base = arg("--url", None);
    let paths = arg("--paths", None);
    let requests: usize = arg("--requests", Some("400")).parse().unwrap();
    let concurrency: usize = arg("--concurrency", Some("4")).parse().unwrap();
    let warmup: usize = arg("--warmup", Some("20")).parse().unwrap();
    let client = reqwest::Client::new();
    println!("path\trequests\tconcurrency\tp50_ms\tp99_ms\tmax_ms\treq_per_s\tbytes");
    for path in paths.split(',') {
        let url = format!("{base}{path}");
        let mut bytes = 0;
        for _ in 0..warmup {
            let res = client.get(&url).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            bytes = res.bytes().await.unwrap().len();
        }
        let started = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|c| {
                let (client, url) = (client.clone(), url.clone());
                let n = requests / concurrency + usize::from(c < requests % concurrency);
                tokio::spawn(async move {
                    let mut times = Vec::with_capacity(n);
                    for _ in 0..n {
                        let t = Instant::now();
                        let res = client.get(&url).send().await.unwrap();
                        assert_eq!(res.status(), 200);
                        res.bytes().await.unwrap();
                        times.push(t.elapsed());
                    }
                    times
                })
            })
            .collect();
        let mut times = Vec::new();
        for t in tasks {
            times.extend(t.await.unwrap());
        }
        let elapsed = started.elapsed().as_secs_f64();
        times.sort();
        println!(
            "{path}\t{}\t{concurrency}\t{:.1}\t{:.1}\t{:.1}\t{:.0}\t{bytes}",
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 1.0),
            times.len() as f64 / elapsed
        );
    }
}
