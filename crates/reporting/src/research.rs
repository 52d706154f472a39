//! The files of a research extract (docs/research.md, Formats): the table as CSV and as Parquet,
//! the codebook, the manifest with the SHA-256 of each file, all in one tar encrypted with age
//! to the recipient's x25519 public key(s). No database: the use case in `app` reads the rows
//! and builds the table with `domain::research`.

use std::io::Write;
use std::sync::Arc;

use domain::research::{Cell, ColumnType, Table};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Names of the files inside the container.
pub const CSV_FILE: &str = "extract.csv";
pub const PARQUET_FILE: &str = "extract.parquet";
pub const CODEBOOK_FILE: &str = "codebook.csv";
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("age: {0}")]
    Encrypt(#[from] age::EncryptError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("recipient key: {0}")]
    Recipient(String),
}

/// Parses an age x25519 public key (`age1…`); the error says why, without echoing the key.
pub fn parse_recipient(raw: &str) -> Result<age::x25519::Recipient, String> {
    raw.trim().parse::<age::x25519::Recipient>().map_err(|e| e.to_string())
}

/// One file of a delivery and its checksum.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileSum {
    pub name: String,
    pub sha256: String,
    pub bytes: usize,
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The table as CSV (comma-separated, a header line, dates ISO 8601, empty for no value).
pub fn to_csv(table: &Table) -> Result<Vec<u8>, PackageError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(table.columns.iter().map(|c| c.name))?;
    for row in &table.rows {
        w.write_record(row.iter().map(Cell::to_csv))?;
    }
    w.into_inner().map_err(|e| PackageError::Io(e.into_error()))
}

/// The codebook as CSV: name, type, description, codes.
pub fn codebook_csv(table: &Table) -> Result<Vec<u8>, PackageError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["name", "type", "description", "codes"])?;
    for c in &table.columns {
        w.write_record([c.name, c.kind.as_str(), &c.description, &c.codes])?;
    }
    w.into_inner().map_err(|e| PackageError::Io(e.into_error()))
}

/// The table as one Parquet row group (uncompressed: the container is encrypted, and leaving
/// the codecs out keeps the build small). Integers are INT64, dates DATE (INT32 days since
/// 1970-01-01), text UTF-8 byte arrays; the pseudonym is required, the rest optional.
pub fn to_parquet(table: &Table) -> Result<Vec<u8>, PackageError> {
    let fields: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let repetition = if i == 0 { "REQUIRED" } else { "OPTIONAL" };
            match c.kind {
                ColumnType::Integer => format!("{repetition} INT64 {};", c.name),
                ColumnType::Date => format!("{repetition} INT32 {} (DATE);", c.name),
                ColumnType::Text => format!("{repetition} BYTE_ARRAY {} (UTF8);", c.name),
            }
        })
        .collect();
    let schema = Arc::new(parse_message_type(&format!("message extract {{ {} }}", fields.join(" ")))?);
    let props = Arc::new(WriterProperties::builder().set_created_by("rusreg".into()).build());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let mut group = writer.next_row_group()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    for (i, c) in table.columns.iter().enumerate() {
        let Some(mut col) = group.next_column()? else { break };
        let cells = table.rows.iter().map(|r| &r[i]);
        let def: Vec<i16> = cells.clone().map(|v| i16::from(*v != Cell::Null)).collect();
        let def = if i == 0 { None } else { Some(def.as_slice()) };
        match c.kind {
            ColumnType::Integer => {
                let values: Vec<i64> =
                    cells.filter_map(|v| if let Cell::Int(n) = v { Some(*n) } else { None }).collect();
                col.typed::<Int64Type>().write_batch(&values, def, None)?;
            }
            ColumnType::Date => {
                let values: Vec<i32> = cells
                    .filter_map(|v| if let Cell::Date(d) = v { Some((*d - epoch).num_days() as i32) } else { None })
                    .collect();
                col.typed::<Int32Type>().write_batch(&values, def, None)?;
            }
            ColumnType::Text => {
                let values: Vec<ByteArray> = cells
                    .filter_map(|v| match v {
                        Cell::Text(t) => Some(ByteArray::from(t.as_str())),
                        Cell::Int(n) => Some(ByteArray::from(n.to_string().as_str())),
                        Cell::Date(d) => Some(ByteArray::from(d.to_string().as_str())),
                        Cell::Null => None,
                    })
                    .collect();
                col.typed::<ByteArrayType>().write_batch(&values, def, None)?;
            }
        }
        col.close()?;
    }
    group.close()?;
    Ok(writer.into_inner()?)
}

/// A delivery ready to send: the encrypted container and the checksums of what is inside.
#[derive(Debug, Clone)]
pub struct Package {
    /// The age-encrypted tar.
    pub encrypted: Vec<u8>,
    /// The data files and the codebook (the manifest lists these).
    pub files: Vec<FileSum>,
    /// SHA-256 of `encrypted`.
    pub container_sha256: String,
}

/// Writes the CSV, the Parquet file and the codebook, then the manifest (`manifest` with a
/// `files` list of their checksums added), puts the four in a tar and encrypts it to every
/// recipient. `mtime` is the tar entries' time (seconds since 1970).
pub fn package(
    table: &Table,
    mut manifest: serde_json::Value,
    recipients: &[String],
    mtime: u64,
) -> Result<Package, PackageError> {
    let parsed: Vec<age::x25519::Recipient> =
        recipients.iter().map(|r| parse_recipient(r)).collect::<Result<_, _>>().map_err(PackageError::Recipient)?;
    let contents =
        [(CSV_FILE, to_csv(table)?), (PARQUET_FILE, to_parquet(table)?), (CODEBOOK_FILE, codebook_csv(table)?)];
    let files: Vec<FileSum> = contents
        .iter()
        .map(|(name, data)| FileSum { name: (*name).to_owned(), sha256: sha256_hex(data), bytes: data.len() })
        .collect();
    manifest["files"] = serde_json::to_value(&files)?;
    let manifest = serde_json::to_vec_pretty(&manifest)?;
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in contents.iter().map(|(n, d)| (*n, d.as_slice())).chain([(MANIFEST_FILE, manifest.as_slice())]) {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_cksum();
        tar.append_data(&mut header, name, data)?;
    }
    let plain = tar.into_inner()?;
    let encryptor = age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient))?;
    let mut encrypted = Vec::with_capacity(plain.len() + 1024);
    let mut w = encryptor.wrap_output(&mut encrypted)?;
    w.write_all(&plain)?;
    w.finish()?;
    let container_sha256 = sha256_hex(&encrypted);
    Ok(Package { encrypted, files, container_sha256 })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use domain::research::Column;
    use std::io::Read;

    fn table() -> Table {
        let col = |name, kind| Column { name, kind, description: String::new(), codes: String::new() };
        Table {
            columns: vec![
                col("patient", ColumnType::Text),
                col("sex", ColumnType::Integer),
                col("start_date", ColumnType::Date),
            ],
            rows: vec![
                vec![
                    Cell::Text("ab".into()),
                    Cell::Int(1),
                    Cell::Date(chrono::NaiveDate::from_ymd_opt(2025, 3, 4).unwrap()),
                ],
                vec![Cell::Text("cd".into()), Cell::Null, Cell::Null],
            ],
        }
    }

    #[test]
    fn a_package_decrypts_with_the_recipients_identity_and_holds_the_four_files() {
        let identity = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let recipients = vec![identity.to_public().to_string(), other.to_public().to_string()];
        let p = package(&table(), serde_json::json!({"project": "x"}), &recipients, 0).unwrap();
        assert_eq!(p.container_sha256, sha256_hex(&p.encrypted));
        for id in [&identity, &other] {
            let plain = age::decrypt(id, &p.encrypted).unwrap();
            let mut archive = tar::Archive::new(plain.as_slice());
            let mut names = Vec::new();
            for entry in archive.entries().unwrap() {
                let mut e = entry.unwrap();
                let name = e.path().unwrap().to_string_lossy().into_owned();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                if let Some(sum) = p.files.iter().find(|f| f.name == name) {
                    assert_eq!(sum.sha256, sha256_hex(&data));
                }
                if name == CSV_FILE {
                    assert_eq!(String::from_utf8(data).unwrap(), "patient,sex,start_date\nab,1,2025-03-04\ncd,,\n");
                }
                names.push(name);
            }
            assert_eq!(names, [CSV_FILE, PARQUET_FILE, CODEBOOK_FILE, MANIFEST_FILE]);
        }
        let stranger = age::x25519::Identity::generate();
        assert!(age::decrypt(&stranger, &p.encrypted).is_err());
    }

    #[test]
    fn a_bad_recipient_key_is_refused() {
        assert!(parse_recipient("age1notakey").is_err());
        assert!(package(&table(), serde_json::json!({}), &["ssh-ed25519 AAAA".into()], 0).is_err());
    }
}
