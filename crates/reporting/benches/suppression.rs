//! Criterion benchmarks of the suppression engine and the auditor on register-shaped tables
//! (small and mid sizes; the large tables run through `examples/suppress_register`).
#![expect(clippy::expect_used, reason = "benchmark setup fails loudly")]

use criterion::{criterion_group, criterion_main, Criterion};
use reporting::suppression::synthetic::{register_table, RegisterShape, FULL_CROSS, LINKED};
use reporting::suppression::{audit, suppress, AuditOptions, Model, PrimaryRule, SuppressOptions};

fn shapes() -> Vec<(&'static str, Model)> {
    let mut small = RegisterShape::reference(11, 2);
    small.entities = 4;
    let r30 = RegisterShape::reference(30, 1);
    let build = |s: &RegisterShape, f: &str| register_table(s, f).expect("table");
    vec![
        ("4k_full_cross", build(&small, FULL_CROSS)),
        ("4k_linked", build(&small, LINKED)),
        ("r_30_trusts_full_cross", build(&r30, FULL_CROSS)),
    ]
}

fn bench(c: &mut Criterion) {
    let rule = PrimaryRule::from_max_n(4, false);
    let opts = SuppressOptions::with_rule(rule);
    let mut engine = c.benchmark_group("suppression_engine");
    engine.sample_size(10);
    let models = shapes();
    for (name, model) in &models {
        engine.bench_function(*name, |b| b.iter(|| suppress(model, &opts).expect("suppress")));
    }
    engine.finish();
    let mut auditor = c.benchmark_group("suppression_auditor");
    auditor.sample_size(10);
    for (name, model) in &models {
        let pattern = suppress(model, &opts).expect("suppress");
        auditor.bench_function(*name, |b| b.iter(|| audit(model, &pattern, AuditOptions::from(rule))));
    }
    auditor.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
