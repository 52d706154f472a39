//! The public results site (`/results`) over a published release of the hand-made data set: the
//! pages answer without login, every number in their tables is the public JSON's, withheld cells
//! show as withheld, and in a real headless browser (Debian's chromium) the pages render their
//! charts, load nothing from anywhere but the server, and keep every link a plain link in the tab
//! order (a skip link first).

use std::process::Command;

use domain::access::Role;
use integration_tests::{json, TestApp};
use serde_json::Value;

use crate::reports::{hand_made, nodes, Fixture};

/// A test app whose latest published release is the hand-made data set's 2025.
async fn published() -> TestApp {
    let app = TestApp::spawn().await;
    let n = nodes(&app);
    hand_made(Fixture::new(app.conn()), &n);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let res = app.post("/api/v1/releases", &json!({"year": 2025})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let res = app.post(&format!("/api/v1/releases/{id}/publish"), &json!({})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 200);
    app
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let res = app.get(path).send().await.unwrap();
    let status = res.status().as_u16();
    if status == 200 {
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    }
    (status, res.text().await.unwrap())
}

/// The cells of the HTML table row of `node` (the row header, then each cell's text).
fn table_row(html: &str, node: i64) -> Vec<String> {
    let start = html.find(&format!("<tr data-node=\"{node}\">")).unwrap_or_else(|| panic!("no row of {node}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    let mut cells = Vec::new();
    let mut rest = row;
    while let Some(open) = rest.find(['<']) {
        let Some(close) = rest[open..].find('>') else { break };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        if tag.starts_with("td") || tag.starts_with("th") {
            let end = rest.find("</t").unwrap();
            let text = rest[..end].replace("</a>", "");
            let text = text.rsplit('>').next().unwrap().trim().to_owned();
            cells.push(text);
        }
    }
    cells
}

#[actix_web::test]
async fn the_pages_show_exactly_the_public_numbers_and_withheld_cells_as_withheld() {
    let app = published().await;
    let public: Value = app.get("/api/v1/public/indicators").send().await.unwrap().json().await.unwrap();
    let (status, index) = page(&app, "/results").await;
    assert_eq!(status, 200, "{index}");
    assert!(index.contains("Resultater for 2025"));
    let mut withheld_seen = 0;
    for table in public["indicators"].as_array().unwrap() {
        let id = table["id"].as_str().unwrap();
        assert!(index.contains(&format!("/results/indikator/{id}")), "the overview links {id}");
        let (status, html) = page(&app, &format!("/results/indikator/{id}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("<svg") && html.contains("role=\"img\""), "a chart with a text alternative");
        for row in table["rows"].as_array().unwrap() {
            let cells = table_row(&html, row["node_id"].as_i64().unwrap());
            let shown = |v: &Value| v.as_i64().map_or("*".to_owned(), |n| n.to_string());
            assert_eq!(cells[0], row["name"].as_str().unwrap());
            assert_eq!(cells[2], shown(&row["numerator"]), "{id} numerator of {}", row["name"]);
            assert_eq!(cells[3], shown(&row["denominator"]), "{id} denominator of {}", row["name"]);
            if row["share"].is_null() {
                assert_eq!(cells[4], "*", "a withheld share is withheld, never 0");
                withheld_seen += 1;
            } else {
                let share = format!("{:.1}\u{a0}%", row["share"].as_f64().unwrap() * 100.0).replace('.', ",");
                assert_eq!(cells[4], share);
            }
        }
        // The chart draws a withheld row as withheld.
        let withheld_rows = table["rows"].as_array().unwrap().iter().filter(|r| r["share"].is_null()).count();
        let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
        assert_eq!(svg.matches("* holdt tilbake").count(), withheld_rows, "{id}");
    }
    assert!(withheld_seen > 0, "the data set has withheld cells to show");
    // A legal entity's page, and what does not exist.
    let entity =
        public["indicators"][0]["rows"].as_array().unwrap().iter().find(|r| r["level"] == "legal_entity").unwrap()
            ["node_id"]
            .as_i64()
            .unwrap();
    let (status, html) = page(&app, &format!("/results/foretak/{entity}")).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<svg").count(), 8, "a chart per indicator");
    assert_eq!(page(&app, "/results/indikator/nonsense").await.0, 404);
    assert_eq!(
        page(&app, &format!("/results/foretak/{}", app.nation().0)).await.0,
        404,
        "the nation is no legal entity"
    );
    assert_eq!(page(&app, "/results/foretak/not-a-number").await.0, 404);
}

#[actix_web::test]
async fn without_a_published_release_the_site_says_not_found() {
    let app = TestApp::spawn().await;
    assert_eq!(page(&app, "/results").await.0, 404);
}

/// Runs Debian's chromium headless on `url`: the rendered DOM, and the URL of every request that
/// the page initiated (chromium's network log: `URL_REQUEST_START_JOB` events whose initiator is
/// the page's origin; the browser's own background requests have no origin).
fn chromium(url: &str, origin: &str) -> (String, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("rusreg-chromium-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let netlog = dir.join("net.json");
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(["--virtual-time-budget=5000", "--dump-dom", url])
        .output()
        .expect("chromium runs (apt-get install chromium)");
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&netlog).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    let origin = origin.trim_end_matches('/');
    let mut urls: Vec<String> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == start_job && e["params"]["initiator"].as_str() == Some(origin))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
        .collect();
    urls.sort();
    urls.dedup();
    (String::from_utf8_lossy(&out.stdout).into_owned(), urls)
}

#[actix_web::test]
async fn in_a_real_browser_the_pages_render_load_nothing_from_elsewhere_and_keep_every_link_in_the_tab_order() {
    let app = published().await;
    let origin = app.url("");
    for path in ["/results", "/results/indikator/follow_up_reached", "/results/indikator/baseline_on_time"] {
        let (url, o) = (app.url(path), origin.clone());
        let (dom, urls) = actix_web::rt::task::spawn_blocking(move || chromium(&url, &o)).await.unwrap();
        assert!(dom.contains("<main id=\"main\">"), "{path} rendered: {dom}");
        let elsewhere: Vec<_> = urls.iter().filter(|u| !u.starts_with(&origin)).collect();
        assert!(elsewhere.is_empty(), "{path} requested {elsewhere:?}");
        if path != "/results" {
            assert!(dom.contains("<svg") && dom.contains("<title id=\"chart-title\">"), "{path}: the chart rendered");
        }
        // Every link is a plain link with an address (focusable in order by Tab), none taken
        // out of the tab order, and the first one skips to the content.
        assert!(!dom.contains("tabindex=\"-1\""));
        let links = dom.matches("<a ").count();
        assert!(links > 0 && links == dom.matches("<a href=\"").count(), "{path}: every link has an address");
        assert!(dom.find("<a href=\"#main\">") < dom.find("<main"), "the skip link comes first");
    }
}

/// The public slice is built once per publication: a later release of the year, once published,
/// replaces it on the pages and in the JSON at once.
#[actix_web::test]
async fn a_new_publication_replaces_what_the_pages_and_the_json_show() {
    let app = published().await;
    let first: Value = app.get("/api/v1/public/indicators").send().await.unwrap().json().await.unwrap();
    let first_id = first["metadata"]["release_id"].as_i64().unwrap();
    assert!(page(&app, "/results").await.1.contains(&format!("Utgivelse {first_id} for 2025")));
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let res = app.post("/api/v1/releases", &json!({"year": 2025})).bearer_auth(&staff).send().await.unwrap();
    let second_id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    // A draft changes nothing public.
    assert!(page(&app, "/results").await.1.contains(&format!("Utgivelse {first_id} for 2025")));
    let res = app
        .post(&format!("/api/v1/releases/{second_id}/publish"), &json!({}))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(page(&app, "/results").await.1.contains(&format!("Utgivelse {second_id} for 2025")));
    let now: Value = app.get("/api/v1/public/indicators").send().await.unwrap().json().await.unwrap();
    assert_eq!(now["metadata"]["release_id"], second_id);
}
