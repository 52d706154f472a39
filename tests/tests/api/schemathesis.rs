//! Schemathesis (property-based API testing from PyPI) against the served OpenAPI document, once
//! per role and once without a token, each on a fresh database with a pathway and a form in it:
//! positive and negative data, examples, coverage and fuzzing phases, bounded in examples and
//! time. Any 5xx, or a response that breaks its own schema, fails the test.
//!
//! `SCHEMATHESIS_BIN` names the `st` executable (.ci/run installs it); without it the test
//! installs the pinned version into a virtual environment under the target folder.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use domain::access::Role;
use integration_tests::{TestApp, UNIT_MOLDE};

use crate::fixtures::{completed_baseline, pathway_for_new_patient};

/// The version CI installs (.ci/run pins the same).
const VERSION: &str = "4.32.5";
static INSTALL: Mutex<()> = Mutex::new(());

fn schemathesis() -> PathBuf {
    if let Some(bin) = std::env::var_os("SCHEMATHESIS_BIN") {
        return bin.into();
    }
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{VERSION}"));
    let st = venv.join("bin/st");
    if !st.exists() {
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap().success();
        assert!(ok, "python3 -m venv failed (apt-get install python3-venv)");
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", &format!("schemathesis=={VERSION}")])
            .status()
            .unwrap()
            .success();
        assert!(ok, "pip install schemathesis failed");
    }
    st
}

#[actix_web::test]
async fn schemathesis_finds_no_server_error_and_no_response_off_its_schema_for_any_role() {
    let st = schemathesis();
    let mut runs = Vec::new();
    let mut apps = Vec::new();
    for role in [
        None,
        Some(Role::Registrar),
        Some(Role::UnitContact),
        Some(Role::RegisterContact),
        Some(Role::RegisterStaff),
        Some(Role::Admin),
    ] {
        let app = TestApp::spawn().await;
        let unit = app.unit(UNIT_MOLDE);
        // Something to find: a pathway with a completed baseline at the unit.
        let registrar = app.token_for(Role::Registrar, unit).await;
        let pathway = pathway_for_new_patient(&app, &registrar, unit.0, ("15076500565", 1965), 40, 1).await;
        let date = (domain::clock::today() - chrono::Duration::days(30)).to_string();
        completed_baseline(&app, &registrar, &pathway, &date).await;
        let token = match role {
            None => None,
            Some(role) => {
                let node = match role {
                    Role::Registrar | Role::UnitContact => unit,
                    Role::RegisterContact => app.entity_of(unit),
                    Role::RegisterStaff | Role::Admin => app.nation(),
                };
                Some(app.token_for(role, node).await)
            }
        };
        let (schema, st) = (app.url("/api/v1/openapi.json"), st.clone());
        let name = role.map_or("anonymous", |r| r.as_str());
        runs.push(actix_web::rt::task::spawn_blocking(move || {
            let mut cmd = Command::new(st);
            cmd.args(["run", &schema, "--checks", "not_a_server_error,response_schema_conformance"])
                .args(["--mode", "all", "--phases", "examples,coverage,fuzzing", "--max-examples", "25"])
                .args(["--workers", "1", "--seed", "1", "--no-shrink", "--max-time", "90", "--request-timeout", "30"])
                .env("NO_COLOR", "1")
                .current_dir(env!("CARGO_TARGET_TMPDIR")); // its cache folder goes there
            if let Some(t) = token {
                cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
            }
            let out = cmd.output().unwrap();
            (name, out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
        }));
        apps.push(app);
    }
    let mut failed = Vec::new();
    for run in runs {
        let (name, ok, output) = run.await.unwrap();
        let summary = output.lines().filter(|l| l.contains("generated")).collect::<Vec<_>>().join(" ");
        eprintln!("schemathesis as {name}: {summary}");
        if !ok {
            failed.push(format!("--- as {name} ---\n{output}"));
        }
    }
    assert!(failed.is_empty(), "schemathesis failed:\n{}", failed.join("\n"));
}
