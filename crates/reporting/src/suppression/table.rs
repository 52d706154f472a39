//! Table model: dimensions with hierarchies, inner cells, published crossings and the sparse
//! 0/1 model matrix X (rows = inner cells, columns = output cells) that suppression works on.

use std::collections::HashMap;
use std::fmt;

use super::SuppressionError;

/// Index of a code inside its dimension.
pub type CodeId = u32;

/// One classifying variable with its codes and hierarchy (parent → children lists). The
/// hierarchy need not be a tree: a code may have several parents, and a parent may list
/// several alternative breakdowns.
#[derive(Debug, Clone)]
pub struct Dimension {
    name: String,
    codes: Vec<String>,
    index: HashMap<String, CodeId>,
    total: CodeId,
    /// `(parent, children)` in input order.
    hierarchy: Vec<(CodeId, Vec<CodeId>)>,
    /// Codes that inner cells use (codes that are no parent).
    leaf: Vec<bool>,
    /// For every code, itself and every code above it (sorted, unique).
    ancestors: Vec<Vec<CodeId>>,
    /// Named code groups usable in crossings (`unit*year`).
    levels: Vec<(String, Vec<CodeId>)>,
}

impl Dimension {
    /// Builds a dimension from its total code and its `(parent, children)` lists. Every code
    /// named in the lists is added; leaves are the codes that are no parent. Fails on a
    /// cycle, an empty code or a code that cannot reach the total.
    pub fn new<S: AsRef<str>>(name: &str, total: &str, hierarchy: &[(S, Vec<S>)]) -> Result<Self, SuppressionError> {
        let mut dim = Dimension {
            name: name.to_owned(),
            codes: Vec::new(),
            index: HashMap::new(),
            total: 0,
            hierarchy: Vec::new(),
            leaf: Vec::new(),
            ancestors: Vec::new(),
            levels: Vec::new(),
        };
        dim.total = dim.intern(total)?;
        for (parent, children) in hierarchy {
            let p = dim.intern(parent.as_ref())?;
            let mut kids = Vec::with_capacity(children.len());
            for c in children {
                let c = dim.intern(c.as_ref())?;
                if !kids.contains(&c) {
                    kids.push(c);
                }
            }
            dim.hierarchy.push((p, kids));
        }
        dim.finish()?;
        Ok(dim)
    }

    /// Like [`Dimension::new`], but with a fixed code order (for example the order of a
    /// reference file). Codes missing from `codes` but named in the hierarchy are appended.
    pub fn with_codes<S: AsRef<str>>(
        name: &str,
        total: &str,
        codes: &[S],
        hierarchy: &[(S, Vec<S>)],
    ) -> Result<Self, SuppressionError> {
        let mut dim = Dimension {
            name: name.to_owned(),
            codes: Vec::new(),
            index: HashMap::new(),
            total: 0,
            hierarchy: Vec::new(),
            leaf: Vec::new(),
            ancestors: Vec::new(),
            levels: Vec::new(),
        };
        for c in codes {
            dim.intern(c.as_ref())?;
        }
        dim.total = dim.intern(total)?;
        for (parent, children) in hierarchy {
            let p = dim.intern(parent.as_ref())?;
            let mut kids = Vec::with_capacity(children.len());
            for c in children {
                let c = dim.intern(c.as_ref())?;
                if !kids.contains(&c) {
                    kids.push(c);
                }
            }
            dim.hierarchy.push((p, kids));
        }
        dim.finish()?;
        Ok(dim)
    }

    /// A flat dimension: `total` with the given leaves as children.
    pub fn flat<S: AsRef<str>>(name: &str, total: &str, leaves: &[S]) -> Result<Self, SuppressionError> {
        let kids: Vec<&str> = leaves.iter().map(AsRef::as_ref).collect();
        Dimension::new(name, total, &[(total, kids)])
    }

    /// Declares a named group of codes (a level such as `region` or `unit`) for crossings.
    pub fn level<S: AsRef<str>>(mut self, name: &str, codes: &[S]) -> Result<Self, SuppressionError> {
        let ids = codes.iter().map(|c| self.code(c.as_ref())).collect::<Result<Vec<_>, _>>()?;
        self.levels.push((name.to_owned(), ids));
        Ok(self)
    }

    fn intern(&mut self, code: &str) -> Result<CodeId, SuppressionError> {
        if code.is_empty() {
            return Err(SuppressionError::invalid(format!("empty code in dimension {}", self.name)));
        }
        if let Some(&id) = self.index.get(code) {
            return Ok(id);
        }
        let id = CodeId::try_from(self.codes.len()).map_err(|_| SuppressionError::invalid("too many codes"))?;
        self.codes.push(code.to_owned());
        self.index.insert(code.to_owned(), id);
        Ok(id)
    }

    fn finish(&mut self) -> Result<(), SuppressionError> {
        let n = self.codes.len();
        let mut parents: Vec<Vec<CodeId>> = vec![Vec::new(); n];
        self.leaf = vec![true; n];
        for (p, kids) in &self.hierarchy {
            self.leaf[*p as usize] = false;
            for &k in kids {
                if k == *p {
                    return Err(SuppressionError::invalid(format!(
                        "code {} is its own child in dimension {}",
                        self.codes[k as usize], self.name
                    )));
                }
                if !parents[k as usize].contains(p) {
                    parents[k as usize].push(*p);
                }
            }
        }
        // Ancestors by depth-first search with cycle detection.
        let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
        let mut anc: Vec<Vec<CodeId>> = vec![Vec::new(); n];
        for start in 0..n {
            self.visit(start, &parents, &mut state, &mut anc)?;
        }
        for (code, a) in anc.iter().enumerate() {
            if code != self.total as usize && !a.contains(&self.total) {
                return Err(SuppressionError::invalid(format!(
                    "code {} does not reach the total {} in dimension {}",
                    self.codes[code], self.codes[self.total as usize], self.name
                )));
            }
        }
        if !self.leaf[self.total as usize] || n == 1 {
            self.ancestors = anc;
            Ok(())
        } else {
            Err(SuppressionError::invalid(format!(
                "total {} of dimension {} has no children",
                self.codes[self.total as usize], self.name
            )))
        }
    }

    fn visit(
        &self,
        code: usize,
        parents: &[Vec<CodeId>],
        state: &mut [u8],
        anc: &mut [Vec<CodeId>],
    ) -> Result<(), SuppressionError> {
        match state[code] {
            2 => return Ok(()),
            1 => {
                return Err(SuppressionError::invalid(format!(
                    "cycle through code {} in dimension {}",
                    self.codes[code], self.name
                )))
            }
            _ => {}
        }
        state[code] = 1;
        let mut mine = vec![code as CodeId];
        for &p in &parents[code] {
            self.visit(p as usize, parents, state, anc)?;
            mine.extend_from_slice(&anc[p as usize]);
        }
        mine.sort_unstable();
        mine.dedup();
        anc[code] = mine;
        state[code] = 2;
        Ok(())
    }

    /// Dimension name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// All codes, totals and subtotals included.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }
    /// The grand-total code.
    pub fn total(&self) -> CodeId {
        self.total
    }
    /// Whether the code is a leaf (used by inner cells).
    pub fn is_leaf(&self, code: CodeId) -> bool {
        self.leaf[code as usize]
    }
    /// The leaves, in code order.
    pub fn leaves(&self) -> Vec<CodeId> {
        (0..self.codes.len() as CodeId).filter(|&c| self.leaf[c as usize]).collect()
    }
    /// `(parent, children)` lists.
    pub fn hierarchy(&self) -> &[(CodeId, Vec<CodeId>)] {
        &self.hierarchy
    }
    /// The code and every code above it.
    pub fn ancestors(&self, code: CodeId) -> &[CodeId] {
        &self.ancestors[code as usize]
    }
    /// Looks a code up by name.
    pub fn code(&self, code: &str) -> Result<CodeId, SuppressionError> {
        self.index
            .get(code)
            .copied()
            .ok_or_else(|| SuppressionError::invalid(format!("unknown code {code} in dimension {}", self.name)))
    }
    /// The code's name.
    pub fn code_name(&self, code: CodeId) -> &str {
        &self.codes[code as usize]
    }
    fn level_codes(&self, level: &str) -> Option<&[CodeId]> {
        self.levels.iter().find(|(n, _)| n == level).map(|(_, c)| c.as_slice())
    }
}

/// What happens to an output cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellRole {
    /// A cell of a published table.
    Published,
    /// Protected when it is primary, never published (the `no` side of an indicator).
    Protected,
}

/// Builds a [`Model`]: dimensions, counts, published crossings and cells.
#[derive(Debug, Clone, Default)]
pub struct TableBuilder {
    dims: Vec<Dimension>,
    counts: HashMap<Vec<CodeId>, i64>,
    cells: Vec<(Vec<CodeId>, CellRole)>,
    structural: Vec<Vec<Option<CodeId>>>,
    extend0: bool,
}

impl TableBuilder {
    /// An empty builder; inner cells are extended with every zero combination of leaves.
    pub fn new() -> Self {
        TableBuilder { extend0: true, ..Default::default() }
    }

    /// Adds a dimension; dimension order is the order of codes in cells.
    pub fn dimension(&mut self, dim: Dimension) -> &mut Self {
        self.dims.push(dim);
        self
    }

    /// Whether all zero combinations of leaves become inner cells (default true).
    pub fn extend0(&mut self, on: bool) -> &mut Self {
        self.extend0 = on;
        self
    }

    fn resolve(&self, codes: &[&str]) -> Result<Vec<CodeId>, SuppressionError> {
        if codes.len() != self.dims.len() {
            return Err(SuppressionError::invalid(format!("expected {} codes, got {}", self.dims.len(), codes.len())));
        }
        self.dims.iter().zip(codes).map(|(d, c)| d.code(c)).collect()
    }

    /// Adds `n` to the inner cell with these leaf codes (one per dimension).
    pub fn count(&mut self, codes: &[&str], n: i64) -> Result<&mut Self, SuppressionError> {
        let ids = self.resolve(codes)?;
        self.count_ids(ids, n)
    }

    /// As [`TableBuilder::count`] with code ids.
    pub fn count_ids(&mut self, ids: Vec<CodeId>, n: i64) -> Result<&mut Self, SuppressionError> {
        if n < 0 {
            return Err(SuppressionError::invalid("negative count"));
        }
        for (d, &c) in self.dims.iter().zip(&ids) {
            if !d.is_leaf(c) {
                return Err(SuppressionError::invalid(format!(
                    "inner cell uses non-leaf code {} of {}",
                    d.code_name(c),
                    d.name
                )));
            }
        }
        *self.counts.entry(ids).or_insert(0) += n;
        Ok(self)
    }

    /// Marks leaf combinations as structurally impossible (left out of the inner cells):
    /// `None` matches any code, `Some(code)` matches that leaf or any leaf below that code.
    pub fn structural_zero(&mut self, pattern: &[Option<&str>]) -> Result<&mut Self, SuppressionError> {
        if pattern.len() != self.dims.len() {
            return Err(SuppressionError::invalid("structural pattern has the wrong length"));
        }
        let p = self
            .dims
            .iter()
            .zip(pattern)
            .map(|(d, c)| c.map(|c| d.code(c)).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        self.structural.push(p);
        Ok(self)
    }

    /// Publishes one cell (codes may be totals or subtotals).
    pub fn publish_cell(&mut self, codes: &[&str]) -> Result<&mut Self, SuppressionError> {
        let ids = self.resolve(codes)?;
        self.cells.push((ids, CellRole::Published));
        Ok(self)
    }

    /// Adds a protected, unpublished cell (primary when small, e.g. `outcome = no`).
    pub fn protect_cell(&mut self, codes: &[&str]) -> Result<&mut Self, SuppressionError> {
        let ids = self.resolve(codes)?;
        self.cells.push((ids, CellRole::Protected));
        Ok(self)
    }

    /// Adds a cell by code ids.
    pub fn cell_ids(&mut self, ids: Vec<CodeId>, role: CellRole) -> &mut Self {
        self.cells.push((ids, role));
        self
    }

    /// Publishes crossings such as `unit*year + region*year*sex`. A factor is a dimension
    /// name (all its codes) or a level declared with [`Dimension::level`] (those codes); each
    /// factor also contributes its dimension's total, dimensions not named stay at their total,
    /// so `unit*year` holds unit×year, unit×total, total×year and total×total.
    pub fn publish(&mut self, formula: &str) -> Result<&mut Self, SuppressionError> {
        for term in formula.split('+') {
            let term = term.trim();
            let mut sets: Vec<Vec<CodeId>> = self.dims.iter().map(|d| vec![d.total]).collect();
            let mut seen = vec![false; self.dims.len()];
            if term != "1" && !term.is_empty() {
                for factor in term.split(['*', ':']) {
                    let factor = factor.trim();
                    let (d, codes) = self.factor(factor)?;
                    if seen[d] {
                        return Err(SuppressionError::invalid(format!(
                            "dimension {} appears twice in term {term}",
                            self.dims[d].name
                        )));
                    }
                    seen[d] = true;
                    let mut set = codes;
                    if !set.contains(&self.dims[d].total) {
                        set.insert(0, self.dims[d].total);
                    }
                    sets[d] = set;
                }
            }
            // Cartesian product, in dimension order (last dimension varies fastest).
            let count: usize = sets.iter().map(Vec::len).product();
            let mut idx = vec![0usize; sets.len()];
            for _ in 0..count {
                let ids: Vec<CodeId> = idx.iter().zip(&sets).map(|(&i, s)| s[i]).collect();
                self.cells.push((ids, CellRole::Published));
                for d in (0..sets.len()).rev() {
                    idx[d] += 1;
                    if idx[d] < sets[d].len() {
                        break;
                    }
                    idx[d] = 0;
                }
            }
        }
        Ok(self)
    }

    fn factor(&self, factor: &str) -> Result<(usize, Vec<CodeId>), SuppressionError> {
        for (i, d) in self.dims.iter().enumerate() {
            if d.name == factor {
                return Ok((i, (0..d.codes.len() as CodeId).collect()));
            }
        }
        for (i, d) in self.dims.iter().enumerate() {
            if let Some(codes) = d.level_codes(factor) {
                return Ok((i, codes.to_vec()));
            }
        }
        Err(SuppressionError::invalid(format!("unknown dimension or level {factor}")))
    }

    /// Builds the model: inner cells (extended with zeros unless structurally impossible),
    /// the output cells (duplicates of the same code combination merged, first role wins
    /// unless one is published) and X.
    pub fn build(&self) -> Result<Model, SuppressionError> {
        if self.dims.is_empty() {
            return Err(SuppressionError::invalid("a table needs at least one dimension"));
        }
        let nd = self.dims.len();
        let mut inner_codes: Vec<CodeId> = Vec::new();
        let mut freq: Vec<i64> = Vec::new();
        if self.extend0 {
            let leaves: Vec<Vec<CodeId>> = self.dims.iter().map(Dimension::leaves).collect();
            let total: usize = leaves.iter().map(Vec::len).product();
            let mut idx = vec![0usize; nd];
            for _ in 0..total {
                let ids: Vec<CodeId> = idx.iter().zip(&leaves).map(|(&i, l)| l[i]).collect();
                if !self.is_structural(&ids) {
                    freq.push(self.counts.get(&ids).copied().unwrap_or(0));
                    inner_codes.extend_from_slice(&ids);
                }
                for d in (0..nd).rev() {
                    idx[d] += 1;
                    if idx[d] < leaves[d].len() {
                        break;
                    }
                    idx[d] = 0;
                }
            }
            for ids in self.counts.keys() {
                if self.is_structural(ids) && self.counts.get(ids).copied().unwrap_or(0) > 0 {
                    return Err(SuppressionError::invalid("a structural zero has a non-zero count"));
                }
            }
        } else {
            let mut keys: Vec<&Vec<CodeId>> = self.counts.keys().collect();
            keys.sort();
            for ids in keys {
                inner_codes.extend_from_slice(ids);
                freq.push(self.counts[ids]);
            }
        }
        let inner = InnerCells { ndims: nd, codes: inner_codes, freq };
        Model::new(self.dims.clone(), inner, self.cells.clone())
    }

    fn is_structural(&self, ids: &[CodeId]) -> bool {
        self.structural.iter().any(|p| {
            p.iter().zip(ids).zip(&self.dims).all(|((pc, &c), d)| match pc {
                None => true,
                Some(pc) => d.ancestors(c).contains(pc),
            })
        })
    }
}

/// Inner cells: one leaf code per dimension and a count.
#[derive(Debug, Clone)]
pub struct InnerCells {
    ndims: usize,
    codes: Vec<CodeId>,
    freq: Vec<i64>,
}

impl InnerCells {
    /// Inner cells from flattened codes (`ndims` per cell) and counts.
    pub fn new(ndims: usize, codes: Vec<CodeId>, freq: Vec<i64>) -> Result<Self, SuppressionError> {
        if ndims == 0 || codes.len() != ndims * freq.len() {
            return Err(SuppressionError::invalid("inner cell codes and counts do not match"));
        }
        Ok(InnerCells { ndims, codes, freq })
    }
    /// Number of inner cells.
    pub fn len(&self) -> usize {
        self.freq.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.freq.is_empty()
    }
    /// Codes of inner cell `i`.
    pub fn codes(&self, i: usize) -> &[CodeId] {
        &self.codes[i * self.ndims..(i + 1) * self.ndims]
    }
    /// Counts.
    pub fn freq(&self) -> &[i64] {
        &self.freq
    }
}

/// Sparse 0/1 matrix in compressed-column form: `rows[ptr[j]..ptr[j+1]]` are the inner
/// cells (sorted) that sum to output cell `j`.
#[derive(Debug, Clone, Default)]
pub struct ModelMatrix {
    nrows: usize,
    ptr: Vec<usize>,
    rows: Vec<u32>,
}

impl ModelMatrix {
    /// From columns of sorted, unique row indices.
    pub fn from_columns(nrows: usize, cols: &[Vec<u32>]) -> Self {
        let mut ptr = Vec::with_capacity(cols.len() + 1);
        ptr.push(0);
        let mut rows = Vec::new();
        for c in cols {
            rows.extend_from_slice(c);
            ptr.push(rows.len());
        }
        ModelMatrix { nrows, ptr, rows }
    }
    /// Number of rows (inner cells).
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// Number of columns (output cells).
    pub fn ncols(&self) -> usize {
        self.ptr.len().saturating_sub(1)
    }
    /// Number of non-zeros.
    pub fn nnz(&self) -> usize {
        self.rows.len()
    }
    /// Rows of column `j`.
    pub fn col(&self, j: usize) -> &[u32] {
        &self.rows[self.ptr[j]..self.ptr[j + 1]]
    }
}

/// A complete suppression problem: dimensions, inner cells, output cells and X.
#[derive(Debug, Clone)]
pub struct Model {
    dims: Vec<Dimension>,
    inner: InnerCells,
    cell_codes: Vec<CodeId>,
    roles: Vec<CellRole>,
    x: ModelMatrix,
    freq: Vec<i64>,
}

impl Model {
    /// Builds X for the given cells over the given inner cells. Cells listed twice with the
    /// same codes are merged (published wins over protected).
    pub fn new(
        dims: Vec<Dimension>,
        inner: InnerCells,
        cells: Vec<(Vec<CodeId>, CellRole)>,
    ) -> Result<Self, SuppressionError> {
        let nd = dims.len();
        if inner.ndims != nd {
            return Err(SuppressionError::invalid("inner cells and dimensions disagree"));
        }
        // Mixed-radix key of a code tuple.
        let radix: Vec<u64> = dims.iter().map(|d| d.codes.len() as u64).collect();
        let key = |ids: &[CodeId]| -> Option<u64> {
            let mut k: u64 = 0;
            for (r, &c) in radix.iter().zip(ids) {
                k = k.checked_mul(*r)?.checked_add(u64::from(c))?;
            }
            Some(k)
        };
        let overflow = || SuppressionError::invalid("too many code combinations for a 64-bit key");
        let mut col_of: HashMap<u64, u32> = HashMap::with_capacity(cells.len());
        let mut cell_codes: Vec<CodeId> = Vec::with_capacity(cells.len() * nd);
        let mut roles: Vec<CellRole> = Vec::with_capacity(cells.len());
        for (ids, role) in cells {
            if ids.len() != nd {
                return Err(SuppressionError::invalid("cell has the wrong number of codes"));
            }
            for (d, &c) in dims.iter().zip(&ids) {
                if c as usize >= d.codes.len() {
                    return Err(SuppressionError::invalid("cell code out of range"));
                }
            }
            let k = key(&ids).ok_or_else(overflow)?;
            match col_of.get(&k) {
                Some(&j) => {
                    if role == CellRole::Published {
                        roles[j as usize] = CellRole::Published;
                    }
                }
                None => {
                    let j = u32::try_from(roles.len()).map_err(|_| overflow())?;
                    col_of.insert(k, j);
                    cell_codes.extend_from_slice(&ids);
                    roles.push(role);
                }
            }
        }
        for i in 0..inner.len() {
            for (d, &c) in dims.iter().zip(inner.codes(i)) {
                if c as usize >= d.codes.len() || !d.is_leaf(c) {
                    return Err(SuppressionError::invalid(format!(
                        "inner cell {i} uses a code that is no leaf of {}",
                        d.name
                    )));
                }
            }
        }
        let ncols = roles.len();
        let nrows = inner.len();
        // Two passes over the ancestor products: count, then fill (rows come in order, so
        // every column is sorted).
        let mut counts = vec![0usize; ncols];
        for_each_containing(&dims, &inner, &key, &col_of, |_, j| counts[j as usize] += 1);
        let mut ptr = Vec::with_capacity(ncols + 1);
        ptr.push(0usize);
        for c in &counts {
            let last = ptr.last().copied().unwrap_or(0);
            ptr.push(last + c);
        }
        let mut fill: Vec<usize> = ptr[..ncols].to_vec();
        let mut rows = vec![0u32; ptr[ncols]];
        for_each_containing(&dims, &inner, &key, &col_of, |r, j| {
            rows[fill[j as usize]] = r;
            fill[j as usize] += 1;
        });
        let x = ModelMatrix { nrows, ptr, rows };
        let freq = (0..ncols).map(|j| x.col(j).iter().map(|&r| inner.freq[r as usize]).sum()).collect();
        Ok(Model { dims, inner, cell_codes, roles, x, freq })
    }

    /// The model as seen by someone who knows the inner cells flagged in `known` (an insider):
    /// those rows are taken out of every column, and each cell's count is what remains unknown.
    /// The inner cells, codes and roles are unchanged, so cell and row indices stay valid.
    pub fn without_rows(&self, known: &[bool]) -> Model {
        let ncols = self.roles.len();
        let mut ptr = Vec::with_capacity(ncols + 1);
        ptr.push(0usize);
        let mut rows = Vec::with_capacity(self.x.rows.len());
        for j in 0..ncols {
            rows.extend(self.x.col(j).iter().copied().filter(|&r| !known.get(r as usize).copied().unwrap_or(false)));
            ptr.push(rows.len());
        }
        let x = ModelMatrix { nrows: self.x.nrows, ptr, rows };
        let freq = (0..ncols).map(|j| x.col(j).iter().map(|&r| self.inner.freq[r as usize]).sum()).collect();
        Model {
            dims: self.dims.clone(),
            inner: self.inner.clone(),
            cell_codes: self.cell_codes.clone(),
            roles: self.roles.clone(),
            x,
            freq,
        }
    }

    /// Dimensions.
    pub fn dims(&self) -> &[Dimension] {
        &self.dims
    }
    /// Inner cells.
    pub fn inner(&self) -> &InnerCells {
        &self.inner
    }
    /// X.
    pub fn matrix(&self) -> &ModelMatrix {
        &self.x
    }
    /// Number of output cells (columns of X).
    pub fn ncells(&self) -> usize {
        self.roles.len()
    }
    /// Codes of output cell `j`.
    pub fn cell(&self, j: usize) -> &[CodeId] {
        let nd = self.dims.len();
        &self.cell_codes[j * nd..(j + 1) * nd]
    }
    /// Role of output cell `j`.
    pub fn role(&self, j: usize) -> CellRole {
        self.roles[j]
    }
    /// Counts of the output cells (`Xᵀ y`).
    pub fn freq(&self) -> &[i64] {
        &self.freq
    }
    /// Finds the column of a code tuple.
    pub fn find_cell(&self, ids: &[CodeId]) -> Option<usize> {
        (0..self.ncells()).find(|&j| self.cell(j) == ids)
    }
    /// Index from code tuple to column.
    pub fn cell_index(&self) -> HashMap<&[CodeId], usize> {
        (0..self.ncells()).map(|j| (self.cell(j), j)).collect()
    }
    /// A readable label (`code×code×…`).
    pub fn label(&self, j: usize) -> CellLabel<'_> {
        CellLabel { model: self, cell: j }
    }

    /// The published additivity relations: for every output cell and every
    /// `(parent, children)` list of one of its codes whose child cells all exist, the parent
    /// cell and the child cells.
    pub fn relations(&self) -> Vec<Relation> {
        let index = self.cell_index();
        let mut out = Vec::new();
        let mut buf: Vec<CodeId> = Vec::new();
        for p in 0..self.ncells() {
            let codes = self.cell(p);
            for (d, dim) in self.dims.iter().enumerate() {
                for (parent, kids) in &dim.hierarchy {
                    if *parent != codes[d] {
                        continue;
                    }
                    let mut children = Vec::with_capacity(kids.len());
                    for &k in kids {
                        buf.clear();
                        buf.extend_from_slice(codes);
                        buf[d] = k;
                        match index.get(buf.as_slice()) {
                            Some(&c) => children.push(c),
                            None => break,
                        }
                    }
                    if children.len() == kids.len() {
                        out.push(Relation { parent: p, dim: d, children });
                    }
                }
            }
        }
        out
    }
}

/// `parent = Σ children` along one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The parent cell.
    pub parent: usize,
    /// The dimension the breakdown is in.
    pub dim: usize,
    /// The child cells.
    pub children: Vec<usize>,
}

/// Display helper for a cell.
pub struct CellLabel<'a> {
    model: &'a Model,
    cell: usize,
}

impl fmt::Display for CellLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (d, &c)) in self.model.dims.iter().zip(self.model.cell(self.cell)).enumerate() {
            if i > 0 {
                f.write_str("×")?;
            }
            write!(f, "{}={}", d.name, d.code_name(c))?;
        }
        Ok(())
    }
}

fn for_each_containing(
    dims: &[Dimension],
    inner: &InnerCells,
    key: &dyn Fn(&[CodeId]) -> Option<u64>,
    col_of: &HashMap<u64, u32>,
    mut f: impl FnMut(u32, u32),
) {
    let nd = dims.len();
    let mut idx = vec![0usize; nd];
    let mut ids = vec![0 as CodeId; nd];
    for r in 0..inner.len() {
        let anc: Vec<&[CodeId]> = dims.iter().zip(inner.codes(r)).map(|(d, &c)| d.ancestors(c)).collect();
        idx.iter_mut().for_each(|i| *i = 0);
        loop {
            for d in 0..nd {
                ids[d] = anc[d][idx[d]];
            }
            if let Some(k) = key(&ids) {
                if let Some(&j) = col_of.get(&k) {
                    f(r as u32, j);
                }
            }
            let mut d = nd;
            let mut done = true;
            while d > 0 {
                d -= 1;
                idx[d] += 1;
                if idx[d] < anc[d].len() {
                    done = false;
                    break;
                }
                idx[d] = 0;
            }
            if done {
                break;
            }
        }
    }
}
