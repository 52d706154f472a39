//! Load generator for the registration benchmark (docs/benchmarks.md): form saves
//! (`PUT /api/v1/forms/{id}` with If-Match) from concurrent clients, and worklist reads, against
//! a running rusreg on loopback. Prints throughput and latency percentiles it measured.
//!
//! rusreg-load --url http://127.0.0.1:8080 --username bench --password ... --unit <node id>
//!             [--concurrency 16] [--seconds 30] [--worklist-requests 200]

#![expect(clippy::unwrap_used, reason = "a benchmark tool: a failure aborts the run")]

use std::time::{Duration, Instant};

use integration_tests::bench::{arg, login, percentile};
use serde_json::{json, Value};

fn measurement_body(level: i64, n: u64) -> Value {
    json!({
        "event_date": domain::clock::today().to_string(),
        "treatment_level": level,
        "treatment_plan": 1 + (n % 3) as i64,
        "crisis_plan": 1,
        "benefit": 1 + (n % 5) as i64,
        "feedback_tool_used": 1,
        "needs_followed_up": 2,
        "substance_use": {"substances": [{"substance": 1, "frequency_30d": 2, "route": 3}, {"substance": 2, "frequency_30d": 1, "route": 2}],
                          "main_substance": 1, "injected_30d": 2, "overdose_12m": 0},
        "housing": 2,
        "occupation": 1
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let url = arg("--url", Some("http://127.0.0.1:8080"));
    let username = arg("--username", None);
    let password = arg("--password", None);
    let unit: i64 = arg("--unit", None).parse().unwrap();
    let concurrency: usize = arg("--concurrency", Some("16")).parse().unwrap();
    let seconds: u64 = arg("--seconds", Some("30")).parse().unwrap();
    let worklist_requests: usize = arg("--worklist-requests", Some("200")).parse().unwrap();
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency * 2).build().unwrap();

    let token = login(&client, &url, &username, &password).await;

    // Worklist latency, one request at a time (the unit's whole list, first page of 500).
    let mut latencies = Vec::new();
    let mut items = 0;
    for _ in 0..worklist_requests {
        let t = Instant::now();
        let res = client
            .get(format!("{url}/api/v1/units/{unit}/worklist?per_page=500"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        latencies.push(t.elapsed());
        items = body["total"].as_i64().unwrap();
    }
    latencies.sort();
    println!(
        "worklist: unit {unit}, {items} items, {} requests: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );

    // One measurement draft per client on active pathways of the unit.
    let list: Value = client
        .get(format!("{url}/api/v1/pathways?unit={unit}&status=1&per_page={concurrency}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pathways: Vec<(String, i64)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p["treatment_level"].as_i64().unwrap_or(1)))
        .collect();
    assert!(
        pathways.len() >= concurrency,
        "the unit has {} active pathways, fewer than the {concurrency} clients",
        pathways.len()
    );
    let mut forms = Vec::new();
    for (pathway, level) in pathways.iter().take(concurrency) {
        let res = client
            .post(format!("{url}/api/v1/pathways/{pathway}/forms/measurement"))
            .bearer_auth(&token)
            .json(&measurement_body(*level, 0))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "draft: {}", res.text().await.unwrap_or_default());
        let form: Value = res.json().await.unwrap();
        forms.push((form["id"].as_str().unwrap().to_owned(), form["version"].as_i64().unwrap(), *level));
    }

    // Form saves: each client updates its own draft with the version it holds, as fast as it can.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (form, version, level) in forms {
        let client = client.clone();
        let url = url.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut version = version;
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let t = Instant::now();
                let res = client
                    .put(format!("{url}/api/v1/forms/{form}"))
                    .bearer_auth(&token)
                    .header("If-Match", version.to_string())
                    .json(&measurement_body(level, n))
                    .send()
                    .await
                    .unwrap();
                if res.status() == 200 {
                    let body: Value = res.json().await.unwrap();
                    version = body["version"].as_i64().unwrap();
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "form saves: {concurrency} clients, {seconds} s: {} saves, {:.0} saves/s, p50 {:.1} ms, p99 {:.1} ms, {errors} errors",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
}
