//! What the benchmark tools of `src/bin` share: their command-line options and percentiles.

use std::time::Duration;

/// The value after `name` on the command line, else `default`; panics naming a missing option.
pub fn arg(name: &str, default: Option<&str>) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| default.map(str::to_owned))
        .unwrap_or_else(|| panic!("missing {name}"))
}

/// The `p` quantile (0–1, nearest rank) of sorted durations, in milliseconds; NaN when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Logs in over the API and returns the access token.
pub async fn login(client: &reqwest::Client, url: &str, username: &str, password: &str) -> String {
    let login: serde_json::Value = client
        .post(format!("{url}/api/v1/auth/token"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().expect("login").to_owned()
}
