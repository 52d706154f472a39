//! The JSON case format of the reference cases in `tests/vectors/` (dimensions, inner cells,
//! published cells with their flags), read into a [`Model`] and written back with a pattern and
//! an audit.

use serde_json::{Map, Value};

use super::auditor::AuditReport;
use super::primary::PrimaryRule;
use super::secondary::Pattern;
use super::table::{CellRole, Dimension, InnerCells, Model};
use super::SuppressionError;

/// One dimension as written in a case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionSpec {
    /// Key used in the cells.
    pub name: String,
    /// Grand-total code.
    pub total: String,
    /// All codes.
    pub codes: Vec<String>,
    /// Leaf codes.
    pub leaves: Vec<String>,
    /// `(parent, children)`.
    pub hierarchy: Vec<(String, Vec<String>)>,
}

/// One inner cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerSpec {
    /// One code per dimension.
    pub codes: Vec<String>,
    /// Count.
    pub freq: i64,
    /// The reference singleton mark, if given.
    pub singleton: Option<bool>,
}

/// One published cell with its reference flags, if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellSpec {
    /// One code per dimension.
    pub codes: Vec<String>,
    /// Count, if given.
    pub freq: Option<i64>,
    /// Reference primary flag.
    pub primary: Option<bool>,
    /// Reference suppressed flag.
    pub suppressed: Option<bool>,
    /// Reference candidate rank (1 = tried first).
    pub candidate_rank: Option<u32>,
}

/// A case file.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Case id.
    pub name: String,
    /// Description.
    pub description: String,
    /// Parameters object (kept as read).
    pub parameters: Value,
    /// Other top-level keys kept as read (`r_setup`, `r_call`, `summary`).
    pub extra: Vec<(String, Value)>,
    /// Dimensions.
    pub dims: Vec<DimensionSpec>,
    /// Inner cells.
    pub inner: Vec<InnerSpec>,
    /// Published cells.
    pub published: Vec<CellSpec>,
}

fn err(msg: impl Into<String>) -> SuppressionError {
    SuppressionError::invalid(msg)
}

fn get_str(o: &Map<String, Value>, k: &str) -> Result<String, SuppressionError> {
    match o.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(err(format!("missing string {k}"))),
    }
}

fn str_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, SuppressionError> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(err(format!("{what}: expected strings"))),
            })
            .collect(),
        _ => Err(err(format!("missing list {what}"))),
    }
}

impl Case {
    /// Parses a case file.
    pub fn from_json(text: &str) -> Result<Case, SuppressionError> {
        let v: Value = serde_json::from_str(text).map_err(|e| err(format!("malformed JSON: {e}")))?;
        let Value::Object(top) = v else { return Err(err("the case must be a JSON object")) };
        let name = top.get("name").and_then(Value::as_str).unwrap_or("case").to_owned();
        let description = top.get("description").and_then(Value::as_str).unwrap_or_default().to_owned();
        let parameters = top.get("parameters").cloned().unwrap_or(Value::Object(Map::new()));
        let mut extra = Vec::new();
        for k in ["r_setup", "r_call", "summary"] {
            if let Some(v) = top.get(k) {
                extra.push((k.to_owned(), v.clone()));
            }
        }
        let Some(Value::Array(dims_v)) = top.get("dimensions") else {
            return Err(err("missing dimensions"));
        };
        let mut dims = Vec::new();
        for d in dims_v {
            let Value::Object(o) = d else { return Err(err("dimension must be an object")) };
            let mut hierarchy = Vec::new();
            if let Some(Value::Array(h)) = o.get("hierarchy") {
                for e in h {
                    let Value::Object(e) = e else { return Err(err("bad hierarchy entry")) };
                    hierarchy.push((get_str(e, "parent")?, str_list(e.get("children"), "children")?));
                }
            }
            dims.push(DimensionSpec {
                name: get_str(o, "name")?,
                total: get_str(o, "total")?,
                codes: str_list(o.get("codes"), "codes")?,
                leaves: str_list(o.get("leaves"), "leaves").unwrap_or_default(),
                hierarchy,
            });
        }
        let codes_of = |o: &Map<String, Value>| -> Result<Vec<String>, SuppressionError> {
            dims.iter().map(|d| get_str(o, &d.name)).collect()
        };
        let mut inner = Vec::new();
        if let Some(Value::Array(a)) = top.get("inner_cells") {
            for c in a {
                let Value::Object(o) = c else { return Err(err("inner cell must be an object")) };
                inner.push(InnerSpec {
                    codes: codes_of(o)?,
                    freq: o
                        .get("freq")
                        .and_then(Value::as_i64)
                        .ok_or_else(|| err("inner cell without integer freq"))?,
                    singleton: o.get("singleton").and_then(Value::as_bool),
                });
            }
        } else {
            return Err(err("missing inner_cells"));
        }
        let mut published = Vec::new();
        if let Some(Value::Array(a)) = top.get("published_cells") {
            for c in a {
                let Value::Object(o) = c else { return Err(err("published cell must be an object")) };
                published.push(CellSpec {
                    codes: codes_of(o)?,
                    freq: o.get("freq").and_then(Value::as_i64),
                    primary: o.get("primary").and_then(Value::as_bool),
                    suppressed: o.get("suppressed").and_then(Value::as_bool),
                    candidate_rank: o.get("candidate_rank").and_then(Value::as_u64).and_then(|r| u32::try_from(r).ok()),
                });
            }
        } else {
            return Err(err("missing published_cells"));
        }
        Ok(Case { name, description, parameters, extra, dims, inner, published })
    }

    /// A case from a model (published cells only; protected cells have no place in the
    /// format), with the rule written as `maxN` / `protectZeros`. For large test files.
    pub fn from_model(name: &str, model: &Model, rule: PrimaryRule) -> Case {
        let dims: Vec<DimensionSpec> = model
            .dims()
            .iter()
            .map(|d| DimensionSpec {
                name: d.name().to_owned(),
                total: d.code_name(d.total()).to_owned(),
                codes: d.codes().to_vec(),
                leaves: d.leaves().iter().map(|&c| d.code_name(c).to_owned()).collect(),
                hierarchy: d
                    .hierarchy()
                    .iter()
                    .map(|(p, kids)| {
                        (d.code_name(*p).to_owned(), kids.iter().map(|&k| d.code_name(k).to_owned()).collect())
                    })
                    .collect(),
            })
            .collect();
        let names = |codes: &[u32]| -> Vec<String> {
            model.dims().iter().zip(codes).map(|(d, &c)| d.code_name(c).to_owned()).collect()
        };
        let inner = (0..model.inner().len())
            .map(|i| InnerSpec { codes: names(model.inner().codes(i)), freq: model.inner().freq()[i], singleton: None })
            .collect();
        let published = (0..model.ncells())
            .filter(|&j| model.role(j) == CellRole::Published)
            .map(|j| CellSpec {
                codes: names(model.cell(j)),
                freq: Some(model.freq()[j]),
                primary: None,
                suppressed: None,
                candidate_rank: None,
            })
            .collect();
        let mut params = Map::new();
        params.insert("maxN".into(), Value::from(rule.min_cell.saturating_sub(1)));
        params.insert("protectZeros".into(), Value::from(rule.protect_zeros));
        Case {
            name: name.to_owned(),
            description: "synthetic register-shaped table (rusreg generator)".to_owned(),
            parameters: Value::Object(params),
            extra: Vec::new(),
            dims,
            inner,
            published,
        }
    }

    /// The rule of the file: `maxN` (primary iff n ≤ maxN) and `protectZeros`.
    pub fn rule(&self) -> PrimaryRule {
        let max_n = self
            .parameters
            .get("maxN")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(PrimaryRule::DEFAULT_MIN_CELL - 1);
        let protect = self.parameters.get("protectZeros").and_then(Value::as_bool).unwrap_or(false);
        PrimaryRule::from_max_n(max_n, protect)
    }

    /// Builds the model: the inner cells exactly as listed (the file is already extended
    /// with zeros), the published cells in file order.
    pub fn model(&self) -> Result<Model, SuppressionError> {
        let mut dims = Vec::new();
        for d in &self.dims {
            let h: Vec<(String, Vec<String>)> = d.hierarchy.clone();
            let dim = Dimension::with_codes(&d.name, &d.total, &d.codes, &h)?;
            for l in &d.leaves {
                let c = dim.code(l)?;
                if !dim.is_leaf(c) {
                    return Err(err(format!("{l} is listed as a leaf of {} but has children", d.name)));
                }
            }
            dims.push(dim);
        }
        let nd = dims.len();
        let mut codes = Vec::with_capacity(self.inner.len() * nd);
        let mut freq = Vec::with_capacity(self.inner.len());
        for c in &self.inner {
            for (d, code) in dims.iter().zip(&c.codes) {
                codes.push(d.code(code)?);
            }
            if c.freq < 0 {
                return Err(err("negative count"));
            }
            freq.push(c.freq);
        }
        let inner = InnerCells::new(nd, codes, freq)?;
        let mut cells = Vec::with_capacity(self.published.len());
        for c in &self.published {
            let ids = dims.iter().zip(&c.codes).map(|(d, code)| d.code(code)).collect::<Result<Vec<_>, _>>()?;
            cells.push((ids, CellRole::Published));
        }
        let model = Model::new(dims, inner, cells)?;
        if model.ncells() != self.published.len() {
            return Err(err("published cells are listed twice"));
        }
        Ok(model)
    }

    /// The file's `suppressed` flags (missing = published).
    pub fn suppressed_flags(&self) -> Vec<bool> {
        self.published.iter().map(|c| c.suppressed.unwrap_or(false)).collect()
    }

    /// The file's singleton marks of inner cells, if every cell has one.
    pub fn singleton_flags(&self) -> Option<Vec<bool>> {
        self.inner.iter().map(|c| c.singleton).collect()
    }

    /// The file's candidate order (cells by `candidate_rank`), if every cell has a rank.
    pub fn candidate_order(&self) -> Option<Vec<usize>> {
        let ranks: Option<Vec<u32>> = self.published.iter().map(|c| c.candidate_rank).collect();
        let ranks = ranks?;
        let mut idx: Vec<usize> = (0..ranks.len()).collect();
        idx.sort_by_key(|&i| ranks[i]);
        Some(idx)
    }

    /// Writes the case with the given pattern (and audit) in the same format, one cell per
    /// line. Without a pattern, the file's own flags are written.
    pub fn to_json(
        &self,
        model: &Model,
        pattern: Option<&Pattern>,
        audit: Option<&AuditReport>,
        settings: Value,
    ) -> String {
        let mut out = String::from("{\n");
        let kv = |out: &mut String, k: &str, v: &Value| {
            out.push_str(&format!("  {}: {},\n", json(&Value::String(k.to_owned())), json(v)));
        };
        kv(&mut out, "name", &Value::String(self.name.clone()));
        kv(&mut out, "description", &Value::String(self.description.clone()));
        kv(&mut out, "parameters", &self.parameters);
        kv(&mut out, "rusreg", &settings);
        for (k, v) in &self.extra {
            if k != "summary" {
                kv(&mut out, k, v);
            }
        }
        let n = model.ncells();
        let flags: Vec<(bool, bool, bool)> = (0..n)
            .map(|j| match pattern {
                Some(p) => {
                    let prim = p.primary[j];
                    let sup = p.is_suppressed(j);
                    (prim, sup, sup && !prim)
                }
                None => {
                    let c = &self.published[j];
                    let sup = c.suppressed.unwrap_or(false);
                    let prim = c.primary.unwrap_or(false);
                    (prim, sup, sup && !prim)
                }
            })
            .collect();
        let n_primary = flags.iter().filter(|f| f.0).count();
        let n_secondary = flags.iter().filter(|f| f.2).count();
        let n_singleton = self.inner.iter().filter(|c| c.singleton == Some(true)).count();
        let mut summary = Map::new();
        summary.insert("n_inner_cells".into(), Value::from(self.inner.len()));
        summary.insert("n_published_cells".into(), Value::from(n));
        summary.insert("n_primary".into(), Value::from(n_primary));
        summary.insert("n_secondary".into(), Value::from(n_secondary));
        summary.insert("n_suppressed".into(), Value::from(n_primary + n_secondary));
        summary.insert("n_singleton_inner_cells".into(), Value::from(n_singleton));
        kv(&mut out, "summary", &Value::Object(summary));
        if let Some(a) = audit {
            kv(&mut out, "audit", &audit_json(model, a));
        }
        // Dimensions.
        out.push_str("  \"dimensions\": [\n");
        for (i, d) in self.dims.iter().enumerate() {
            let mut o = Map::new();
            o.insert("name".into(), Value::from(d.name.clone()));
            o.insert("total".into(), Value::from(d.total.clone()));
            o.insert("codes".into(), Value::from(d.codes.clone()));
            o.insert("leaves".into(), Value::from(d.leaves.clone()));
            let h: Vec<Value> = d
                .hierarchy
                .iter()
                .map(|(p, c)| {
                    let mut e = Map::new();
                    e.insert("parent".into(), Value::from(p.clone()));
                    e.insert("children".into(), Value::from(c.clone()));
                    Value::Object(e)
                })
                .collect();
            o.insert("hierarchy".into(), Value::Array(h));
            out.push_str(&format!(
                "    {}{}\n",
                ordered(&d.name, &o, &["name", "total", "codes", "leaves", "hierarchy"]),
                if i + 1 < self.dims.len() { "," } else { "" }
            ));
        }
        out.push_str("  ],\n  \"inner_cells\": [\n");
        for (i, c) in self.inner.iter().enumerate() {
            let mut parts: Vec<String> = self
                .dims
                .iter()
                .zip(&c.codes)
                .map(|(d, code)| {
                    format!("{}: {}", json(&Value::from(d.name.clone())), json(&Value::from(code.clone())))
                })
                .collect();
            parts.push(format!("\"freq\": {}", c.freq));
            if let Some(s) = c.singleton {
                parts.push(format!("\"singleton\": {s}"));
            }
            out.push_str(&format!("    {{{}}}{}\n", parts.join(", "), if i + 1 < self.inner.len() { "," } else { "" }));
        }
        out.push_str("  ],\n  \"published_cells\": [\n");
        for (j, c) in self.published.iter().enumerate() {
            let mut parts: Vec<String> = self
                .dims
                .iter()
                .zip(&c.codes)
                .map(|(d, code)| {
                    format!("{}: {}", json(&Value::from(d.name.clone())), json(&Value::from(code.clone())))
                })
                .collect();
            let (prim, sup, sec) = flags[j];
            parts.push(format!("\"freq\": {}", model.freq()[j]));
            parts.push(format!("\"primary\": {prim}"));
            parts.push(format!("\"suppressed\": {sup}"));
            parts.push(format!("\"secondary\": {sec}"));
            let rank = match pattern {
                Some(p) => Some(p.candidate_rank[j]).filter(|&r| r > 0),
                None => c.candidate_rank,
            };
            if let Some(r) = rank {
                parts.push(format!("\"candidate_rank\": {r}"));
            }
            out.push_str(&format!(
                "    {{{}}}{}\n",
                parts.join(", "),
                if j + 1 < self.published.len() { "," } else { "" }
            ));
        }
        out.push_str("  ]\n}\n");
        out
    }
}

fn json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn ordered(_name: &str, o: &Map<String, Value>, keys: &[&str]) -> String {
    let parts: Vec<String> = keys.iter().filter_map(|k| o.get(*k).map(|v| format!("\"{k}\": {}", json(v)))).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The audit as JSON (for the output file and release metadata).
pub fn audit_json(model: &Model, a: &AuditReport) -> Value {
    let mut o = Map::new();
    o.insert("passed".into(), Value::from(a.passes()));
    o.insert("strict".into(), Value::from(a.strict));
    o.insert("cells".into(), Value::from(a.cells));
    o.insert("published".into(), Value::from(a.published));
    o.insert("primary".into(), Value::from(a.primary));
    o.insert("secondary".into(), Value::from(a.secondary));
    o.insert("known_inner_cells".into(), Value::from(a.known_inner_cells));
    o.insert("rank".into(), Value::from(a.rank));
    o.insert("derivable_secondary".into(), Value::from(a.derivable_secondary));
    let d: Vec<Value> = a
        .disclosures
        .iter()
        .map(|d| {
            let mut e = Map::new();
            e.insert("cell".into(), Value::from(model.label(d.cell).to_string()));
            e.insert("value".into(), Value::from(d.value));
            e.insert(
                "kind".into(),
                Value::from(match d.kind {
                    super::auditor::DisclosureKind::Published => "published",
                    super::auditor::DisclosureKind::Derivable => "derivable",
                }),
            );
            Value::Object(e)
        })
        .collect();
    o.insert("disclosures".into(), Value::Array(d));
    let g: Vec<Value> = a
        .group_disclosures
        .iter()
        .map(|g| {
            let mut e = Map::new();
            e.insert("parent".into(), Value::from(model.label(g.parent).to_string()));
            e.insert("dimension".into(), Value::from(model.dims()[g.dim].name().to_owned()));
            e.insert(
                "cells".into(),
                Value::from(g.cells.iter().map(|&c| model.label(c).to_string()).collect::<Vec<_>>()),
            );
            e.insert("sum".into(), Value::from(g.sum));
            Value::Object(e)
        })
        .collect();
    o.insert("group_disclosures".into(), Value::Array(g));
    let ins: Vec<Value> = a
        .insider
        .iter()
        .map(|f| {
            let mut e = Map::new();
            e.insert("inner_cell".into(), Value::from(f.inner_cell));
            e.insert("cell".into(), Value::from(model.label(f.cell).to_string()));
            Value::Object(e)
        })
        .collect();
    o.insert("insider".into(), Value::Array(ins));
    Value::Object(o)
}
