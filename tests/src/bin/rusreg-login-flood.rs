//! Login-flood benchmark (docs/benchmarks.md): latency of an authenticated `GET /api/v1/me`
//! while the server is quiet, and then while `--flood` clients send bad logins as fast as they
//! can, in the same run against a running rusreg on loopback. Prints only what it measured.
//!
//! rusreg-login-flood --url http://127.0.0.1:8080 --username NAME --password PW
//!                    [--seconds 20] [--flood 40] [--clients 1]

#![expect(clippy::unwrap_used, reason = "a benchmark tool: a failure aborts the run")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use integration_tests::bench::{arg, login, percentile};
use serde_json::json;

/// `clients` clients reading `GET /me` one request after another until `seconds` have passed.
async fn read_me(client: &reqwest::Client, url: &str, token: &str, clients: usize, seconds: u64) -> Vec<Duration> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let res = client.get(format!("{url}/api/v1/me")).bearer_auth(&token).send().await.unwrap();
                assert_eq!(res.status(), 200, "GET /me");
                res.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

fn report(what: &str, lat: &[Duration]) {
    println!(
        "{what}: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        percentile(lat, 0.5),
        percentile(lat, 0.99),
        percentile(lat, 1.0)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let url = arg("--url", Some("http://127.0.0.1:8080"));
    let username = arg("--username", None);
    let password = arg("--password", None);
    let seconds: u64 = arg("--seconds", Some("20")).parse().unwrap();
    let flood: usize = arg("--flood", Some("40")).parse().unwrap();
    let clients: usize = arg("--clients", Some("1")).parse().unwrap();
    let client = reqwest::Client::builder().pool_max_idle_per_host(flood + clients + 4).build().unwrap();

    let token = login(&client, &url, &username, &password).await;

    let quiet = read_me(&client, &url, &token, clients, seconds).await;
    report(&format!("GET /me quiet ({clients} client(s), {seconds} s)"), &quiet);

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut flooders = Vec::new();
    for i in 0..flood {
        let (client, url) = (client.clone(), url.clone());
        flooders.push(tokio::spawn(async move {
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = json!({"username": format!("flood-{i}-{n}"), "password": "not the password"});
                let res = client.post(format!("{url}/api/v1/auth/token")).json(&body).send().await.unwrap();
                *statuses.entry(res.status().as_u16()).or_default() += 1;
                res.bytes().await.unwrap();
            }
            statuses
        }));
    }
    let during = read_me(&client, &url, &token, clients, seconds).await;
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for f in flooders {
        for (s, n) in f.await.unwrap() {
            *statuses.entry(s).or_default() += n;
        }
    }
    report(&format!("GET /me during {flood} parallel bad logins ({seconds} s)"), &during);
    let answered: Vec<String> = statuses.iter().map(|(s, n)| format!("{n} x {s}")).collect();
    println!("bad logins answered: {}", answered.join(", "));
    println!("flood p99 / quiet p99 = {:.2}", percentile(&during, 0.99) / percentile(&quiet, 0.99));
}
