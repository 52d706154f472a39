//! Runs the `rusreg suppress` / `rusreg audit` entry points on a case file, as the binary
//! does: `suppress_case suppress IN.json [--min-cell K] [--output OUT.json] [--strict]` or
//! `suppress_case audit IN.json [--min-cell K]`. Prints the one-line summary.

use std::path::PathBuf;

use reporting::suppression::cli::{audit_file, suppress_file};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut min_cell = None;
    let mut output: Option<PathBuf> = None;
    let mut strict = false;
    let mut i = 2;
    while i < args.len() {
        match args[i].as_str() {
            "--min-cell" => {
                min_cell = args.get(i + 1).and_then(|k| k.parse().ok());
                i += 1;
            }
            "--output" => {
                output = args.get(i + 1).map(PathBuf::from);
                i += 1;
            }
            "--strict" => strict = true,
            _ => {}
        }
        i += 1;
    }
    let Some(input) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: suppress_case suppress|audit IN.json [--min-cell K] [--output OUT] [--strict]");
        std::process::exit(2);
    };
    match args.first().map(String::as_str) {
        Some("audit") => match audit_file(&input, min_cell) {
            Ok(s) => {
                println!("{s}");
                if s.has_disclosure() {
                    std::process::exit(1);
                }
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
        _ => match suppress_file(&input, min_cell, output.as_deref(), strict) {
            Ok(s) => {
                if let Some(json) = &s.json {
                    print!("{json}");
                }
                eprintln!("{s}");
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
    }
}
