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
pub(crate) async fn published() -> TestApp {
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

/// Every chart of a page.
fn svgs(html: &str) -> Vec<&str> {
    html.match_indices("<svg").map(|(start, _)| &html[start..start + html[start..].find("</svg>").unwrap()]).collect()
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
        // The charts (nation and regions, entities, units) draw each withheld row as withheld.
        let withheld_rows = table["rows"].as_array().unwrap().iter().filter(|r| r["share"].is_null()).count();
        assert_eq!(
            svgs(&html).iter().map(|svg| svg.matches("* holdt tilbake").count()).sum::<usize>(),
            withheld_rows,
            "{id}"
        );
        assert_eq!(svgs(&html).len(), 3, "{id}: a chart per level");
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
    // Its units are on it, and no unit of another entity.
    let units = public["indicators"][0]["rows"].as_array().unwrap().iter().filter(|r| r["level"] == "unit");
    for unit in units {
        let shown = html.contains(&format!("<tr data-node=\"{}\">", unit["node_id"]));
        assert_eq!(shown, unit["parent_id"] == entity, "{}", unit["name"]);
    }
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
    for path in [
        "/results",
        "/results/indikator/follow_up_reached",
        "/results/indikator/baseline_on_time",
        "/results/tjenester?lang=en",
    ] {
        let (url, o) = (app.url(path), origin.clone());
        let (dom, urls) = actix_web::rt::task::spawn_blocking(move || chromium(&url, &o)).await.unwrap();
        assert!(dom.contains("<main id=\"main\">"), "{path} rendered: {dom}");
        let elsewhere: Vec<_> = urls.iter().filter(|u| !u.starts_with(&origin)).collect();
        assert!(elsewhere.is_empty(), "{path} requested {elsewhere:?}");
        if path.starts_with("/results/indikator") {
            assert!(
                dom.contains("<svg") && dom.contains("<title id=\"chart-regions-title\">"),
                "{path}: the chart rendered"
            );
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

/// Units are public (every unit is already in its entity's download); a region narrows an
/// indicator page to its entities and units; the English pages show the same numbers; the
/// public slice downloads as CSV and XLSX; what does not exist is a 404.
#[actix_web::test]
async fn units_regions_english_and_downloads() {
    let app = published().await;
    let public: Value = app.get("/api/v1/public/indicators").send().await.unwrap().json().await.unwrap();
    let rows = public["indicators"][0]["rows"].as_array().unwrap().clone();
    let of_level = |l: &str| rows.iter().filter(|r| r["level"] == l).cloned().collect::<Vec<_>>();
    let (units, entities, regions) = (of_level("unit"), of_level("legal_entity"), of_level("region"));
    assert!(!units.is_empty() && regions.len() >= 2, "the data set has units and two regions");
    let id = public["indicators"][0]["id"].as_str().unwrap();
    let (_, all) = page(&app, &format!("/results/indikator/{id}")).await;
    for unit in &units {
        assert!(all.contains(&format!("<tr data-node=\"{}\">", unit["node_id"])), "unit {} on the page", unit["name"]);
    }
    // One region: its entities and their units, the region and the nation; nothing else.
    let region = regions[0]["node_id"].as_i64().unwrap();
    let (status, html) = page(&app, &format!("/results/indikator/{id}?region={region}")).await;
    assert_eq!(status, 200);
    let mine: Vec<i64> =
        entities.iter().filter(|e| e["parent_id"] == region).map(|e| e["node_id"].as_i64().unwrap()).collect();
    assert!(!mine.is_empty());
    for e in &entities {
        let shown = html.contains(&format!("<tr data-node=\"{}\">", e["node_id"]));
        assert_eq!(shown, e["parent_id"] == region, "entity {}", e["name"]);
    }
    for u in &units {
        let shown = html.contains(&format!("<tr data-node=\"{}\">", u["node_id"]));
        assert_eq!(shown, mine.contains(&u["parent_id"].as_i64().unwrap()), "unit {}", u["name"]);
    }
    assert!(html.contains(&format!("<option value=\"{region}\" selected>")));
    assert!(!html.contains(&format!("<tr data-node=\"{}\">", regions[1]["node_id"])), "the other region is not shown");
    // English: the English title, the same numbers (in English notation), English words for withheld.
    let (status, en) = page(&app, &format!("/results/indikator/{id}?lang=en")).await;
    assert_eq!(status, 200);
    assert!(en.contains("<html lang=\"en\">") && en.contains(public["indicators"][0]["title_en"].as_str().unwrap()));
    for row in &rows {
        let cells = table_row(&en, row["node_id"].as_i64().unwrap());
        let expected = row["share"].as_f64().map_or("*".to_owned(), |s| format!("{:.1}\u{a0}%", s * 100.0));
        assert_eq!(cells[4], expected, "{}", row["name"]);
    }
    let withheld = rows.iter().filter(|r| r["share"].is_null()).count();
    assert_eq!(svgs(&en).iter().map(|s| s.matches("* withheld").count()).sum::<usize>(), withheld);
    assert!(en.contains("href=\"/results?lang=en\""), "links keep the language");
    let (status, en_index) = page(&app, "/results?lang=en").await;
    assert_eq!(status, 200);
    assert!(en_index.contains("Results for 2025"));
    // Downloads of the same slice.
    let res = app.get("/api/v1/public/indicators?format=csv").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let csv = res.text().await.unwrap();
    for unit in &units {
        assert!(csv.contains(unit["name"].as_str().unwrap()), "the CSV has the units");
    }
    let res = app.get("/api/v1/public/indicators?format=xlsx").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().starts_with(b"PK"), "an XLSX (zip) file");
    assert!(all.contains("/api/v1/public/indicators?year=2025&amp;format=csv"), "the pages link the downloads");
    // What does not exist, and bad input.
    assert_eq!(page(&app, &format!("/results/indikator/{id}?region={}", entities[0]["node_id"])).await.0, 404);
    assert_eq!(page(&app, &format!("/results/indikator/{id}?region=999999")).await.0, 404);
    assert_eq!(page(&app, "/results?lang=de").await.0, 404);
    assert_eq!(page(&app, &format!("/results/indikator/{id}?region=north")).await.0, 400);
    let res = app.get("/api/v1/public/indicators?format=pdf").send().await.unwrap();
    assert_eq!(res.status(), 422);
}

/// The keyboard reaches every link and control of every page kind, in document order, starting
/// with the skip link, and each one shows where the focus is: Tab pressed in a real browser
/// (chromium over WebDriver), the focused element read back after each press.
#[actix_web::test]
async fn the_keyboard_reaches_every_link_of_every_page_in_order() {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    let app = published().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let csv = include_str!("../../../seeds/directory-demo.csv");
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/directory/import"))
        .header("content-type", "text/csv")
        .bearer_auth(&staff)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let public: Value = app.get("/api/v1/public/indicators").send().await.unwrap().json().await.unwrap();
    let entity =
        public["indicators"][0]["rows"].as_array().unwrap().iter().find(|r| r["level"] == "legal_entity").unwrap()
            ["node_id"]
            .clone();
    let driver = crate::browser::Driver::start();
    let c = driver.desktop().await;
    for path in [
        "/results".to_owned(),
        "/results/indikator/follow_up_reached".to_owned(),
        format!("/results/foretak/{entity}"),
        "/results/tjenester?lang=en".to_owned(),
    ] {
        c.goto(&app.url(&path)).await.unwrap();
        // Number every element the keyboard should reach, in document order.
        let count = c
            .execute(
                "const all = [...document.querySelectorAll('a[href], select, button, input:not([type=hidden]), textarea, [tabindex]')];
                 all.forEach((e, i) => e.setAttribute('data-walk', i));
                 return all.length;",
                vec![],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap();
        assert!(count > 3, "{path}: links to walk");
        let mut visited = Vec::new();
        for _ in 0..count {
            let tab = KeyActions::new("keyboard".into())
                .then(KeyAction::Down { value: Key::Tab.into() })
                .then(KeyAction::Up { value: Key::Tab.into() });
            c.perform_actions(tab).await.unwrap();
            let focused = c
                .execute(
                    "const e = document.activeElement;
                     return [e.getAttribute('data-walk'), getComputedStyle(e).outlineStyle, e.getAttribute('href')];",
                    vec![],
                )
                .await
                .unwrap();
            let index = focused[0].as_str().and_then(|i| i.parse::<u64>().ok());
            assert_ne!(focused[1], "none", "{path}: element {index:?} shows its focus");
            visited.push(index);
            if index == Some(0) {
                assert_eq!(focused[2], "#main", "{path}: the skip link comes first");
            }
        }
        let expected: Vec<Option<u64>> = (0..count).map(Some).collect();
        assert_eq!(visited, expected, "{path}: Tab visits every link and control once, in order");
    }
    c.close().await.unwrap();
}
