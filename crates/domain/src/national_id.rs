//! The Norwegian national id (docs/domain.md, National ids): parsing and validation of
//! fødselsnummer, D-, H- and FH-numbers, and its protection at rest (keyed pseudonym for lookup,
//! authenticated encryption).
//!
//! A [`NationalId`] can only hold a valid id. Its `Debug` and `Display` never print the digits;
//! [`NationalId::expose`] is the one explicit way to read them. The id never carries a sex: the
//! register never derives sex from the number (numbers issued under the 2032 rule carry none).
//!
//! ## Check digits and the 2032 rule
//!
//! With digits `d1 d2 m1 m2 y1 y2 i1 i2 i3 k1 k2`:
//!
//! - `k1`: the weighted sum `S1 = 3d1 + 7d2 + 6m1 + 1m2 + 8y1 + 9y2 + 4i1 + 5i2 + 2i3 + 1k1` must
//!   satisfy `S1 mod 11 == 0` (this is the same as `k1 = 11 - (sum without k1) mod 11`, 11 → 0,
//!   10 → invalid). Under the **2032 rule** (enabled by [`IdRules::accept_2032_rule`]),
//!   `S1 mod 11` may be 0, 1, 2 or 3: a number valid under the old rule stays valid, and a `k1`
//!   leaving remainder 1, 2 or 3 is accepted too. This is our reading of the 2032 rule (the first
//!   weighted sum mod 11 may be 0, 1, 2 or 3; docs/domain.md, National ids), and it matches the
//!   invalid example `15076500575`, invalid because of `k2`: its `k1` leaves remainder 1 (accepted
//!   only under the 2032 rule) and its `k2` is wrong under both rules.
//! - `k2`: `S2 = 5d1 + 4d2 + 3m1 + 2m2 + 7y1 + 6y2 + 5i1 + 4i2 + 3i3 + 2k1 + 1k2` must satisfy
//!   `S2 mod 11 == 0` under both rules (`k2` is computed from whatever `k1` the number carries).
//!
//! ## Kinds and dates
//!
//! - `d1` 8 or 9: FH-number (felles hjelpenummer); no date, only the check digits are checked.
//! - `d1` 4–7: D-number, the day is `DD - 40`.
//! - `m1` 4–5: H-number, the month is `MM - 40`.
//! - otherwise: fødselsnummer.
//!
//! A number that is both a D- and an H-number (day + 40 and month + 40) is rejected. Synthetic
//! test numbers (for example month + 80 from the national test data service) are rejected too.
//! For every kind but FH the date `DD.MM.` plus the century from the individual number `i1 i2 i3`
//! must be a real date, by the standard table:
//!
//! | individual number | year `YY` | born |
//! |---|---|---|
//! | 000–499 | 00–99 | 1900–1999 |
//! | 500–749 | 54–99 | 1854–1899 |
//! | 500–999 | 00–39 | 2000–2039 |
//! | 900–999 | 40–99 | 1940–1999 |
//!
//! Any other combination (500–749 with 40–53, 750–899 with 40–99) is invalid. `parse` does not
//! reject birth dates in the future: it has no clock. The patient's birth year is checked against
//! today in [`crate::patients`].

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::{DomainError, FieldError};

/// The field name used in validation errors about a national id.
pub const FIELD: &str = "national_id";

/// Weights of the first check digit, including `k1` itself (weight 1).
const W1: [u32; 10] = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1];
/// Weights of the second check digit, including `k1` (weight 2) and `k2` itself (weight 1).
const W2: [u32; 11] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1];

/// Which check-digit rules to accept. Configuration, usually from the settings of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct IdRules {
    /// Also accept numbers issued under the 2032 rule, in which the first weighted sum (with
    /// `k1`) mod 11 may be 0, 1, 2 or 3 instead of only 0. Default `false`.
    pub accept_2032_rule: bool,
}

impl IdRules {
    /// The old rule only (numbers issued before 2032).
    pub const CLASSIC: IdRules = IdRules { accept_2032_rule: false };
    /// Both the old and the 2032 rule.
    pub const WITH_2032: IdRules = IdRules { accept_2032_rule: true };
}

/// The kind of a national id, from its first digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NationalIdKind {
    /// Fødselsnummer: `DDMMYY` is a real date.
    Fodselsnummer,
    /// D-number: the day is increased by 40 (`d1` is 4–7).
    DNumber,
    /// H-number (hjelpenummer): the month is increased by 40 (`m1` is 4–5).
    HNumber,
    /// FH-number (felles hjelpenummer): `d1` is 8 or 9, no date.
    FhNumber,
}

impl NationalIdKind {
    /// Stable machine name: `fodselsnummer`, `d_number`, `h_number`, `fh_number`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fodselsnummer => "fodselsnummer",
            Self::DNumber => "d_number",
            Self::HNumber => "h_number",
            Self::FhNumber => "fh_number",
        }
    }
}

/// A valid national id. Only [`NationalId::parse`] (and [`IdKey::decrypt`]) build one.
///
/// `Debug` and `Display` print `NationalId(***)`; use [`NationalId::expose`] for the digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId {
    digits: [u8; 11],
    kind: NationalIdKind,
    birth_date: Option<NaiveDate>,
}

impl NationalId {
    /// Parse and validate an id: exactly 11 ASCII digits (no spaces or separators), both check
    /// digits, the kind, and for all kinds but FH a real birth date with the century rule.
    ///
    /// Errors are `DomainError::Invalid` on the field `national_id` with code `format`
    /// (not 11 digits, or both D and H), `check_digit` or `date`; messages never contain digits.
    pub fn parse(raw: &str, rules: &IdRules) -> Result<NationalId, DomainError> {
        Self::parse_field(raw, rules).map_err(|e| DomainError::Invalid(vec![e]))
    }

    /// Like [`NationalId::parse`], returning the single [`FieldError`] so that callers can collect
    /// it with other fields' errors.
    pub fn parse_field(raw: &str, rules: &IdRules) -> Result<NationalId, FieldError> {
        let bytes = raw.as_bytes();
        if bytes.len() != 11 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(FieldError::new(FIELD, "format", "must be exactly 11 digits"));
        }
        let mut digits = [0u8; 11];
        digits.copy_from_slice(bytes);
        let d: [u32; 11] = digits.map(|b| u32::from(b - b'0'));

        let r1 = weighted(&d[..10], &W1) % 11;
        let k1_ok = if rules.accept_2032_rule { r1 <= 3 } else { r1 == 0 };
        let r2 = weighted(&d, &W2) % 11;
        let k2_ok = r2 == 0;
        if !k1_ok || !k2_ok {
            return Err(FieldError::new(FIELD, "check_digit", "the check digits do not match"));
        }

        let (kind, birth_date) = match d[0] {
            8 | 9 => (NationalIdKind::FhNumber, None),
            first => {
                let d_number = (4..=7).contains(&first);
                let h_number = (4..=5).contains(&d[2]);
                let kind = match (d_number, h_number) {
                    (false, false) => NationalIdKind::Fodselsnummer,
                    (true, false) => NationalIdKind::DNumber,
                    (false, true) => NationalIdKind::HNumber,
                    (true, true) => {
                        return Err(FieldError::new(FIELD, "format", "cannot be both a D-number and an H-number"))
                    }
                };
                let day = d[0] * 10 + d[1] - if d_number { 40 } else { 0 };
                let month = d[2] * 10 + d[3] - if h_number { 40 } else { 0 };
                let yy = d[4] * 10 + d[5];
                let individual = d[6] * 100 + d[7] * 10 + d[8];
                let date = century(individual, yy)
                    .and_then(|c| i32::try_from(c + yy).ok())
                    .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
                    .ok_or_else(|| FieldError::new(FIELD, "date", "the birth date in the number is not a real date"))?;
                (kind, Some(date))
            }
        };
        Ok(NationalId { digits, kind, birth_date })
    }

    /// The 11 digits. The only way to read them: call it only where the clear id is needed
    /// (encryption, the patient's own view), never for logs, errors or reports.
    pub fn expose(&self) -> &str {
        // The digits are ASCII by construction; the fallback is unreachable.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }

    /// Fødselsnummer, D-, H- or FH-number.
    pub fn kind(&self) -> NationalIdKind {
        self.kind
    }

    /// The birth date in the number; `None` for FH-numbers.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        self.birth_date
    }

    /// The birth year in the number; `None` for FH-numbers.
    pub fn birth_year(&self) -> Option<i32> {
        self.birth_date.map(|d| d.year())
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalId(***)")
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalId(***)")
    }
}

fn weighted(digits: &[u32], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| d * w).sum()
}

/// The century (1800, 1900 or 2000) from the individual number and the two-digit year.
fn century(individual: u32, yy: u32) -> Option<u32> {
    match (individual, yy) {
        (0..=499, _) => Some(1900),
        (500..=749, 54..=99) => Some(1800),
        (500..=999, 0..=39) => Some(2000),
        (900..=999, 40..=99) => Some(1900),
        _ => None,
    }
}

/// The master key protecting national ids (32 bytes), usually from the env var `RUSREG_ID_KEY`.
///
/// Four sub-keys are derived with HMAC-SHA-256 over fixed labels, so the pseudonym key, the
/// encryption key, the username key and the staff identity key differ:
/// `HMAC(master, "rusreg/national-id/pseudonym/v1")`, `HMAC(master, "rusreg/national-id/encryption/v1")`,
/// `HMAC(master, "rusreg/username/v1")` and `HMAC(master, "rusreg/person-identity/v1")`.
/// `Debug` prints `IdKey(***)`.
#[derive(Clone)]
pub struct IdKey {
    mac_key: [u8; 32],
    enc_key: [u8; 32],
    username_key: [u8; 32],
    person_key: [u8; 32],
    batch_key: [u8; 32],
    import_tag_key: [u8; 32],
    research_key: [u8; 32],
}

/// Label of the HMAC sub-key.
const PSEUDONYM_LABEL: &[u8] = b"rusreg/national-id/pseudonym/v1";
/// Label of the sub-key of typed usernames (failed logins, login rate limits).
const USERNAME_LABEL: &[u8] = b"rusreg/username/v1";
/// Label of the sub-key of the national ids of users signing in through an OpenID provider.
const PERSON_LABEL: &[u8] = b"rusreg/person-identity/v1";
/// Label of the AES sub-key.
const ENCRYPTION_LABEL: &[u8] = b"rusreg/national-id/encryption/v1";
/// Label of the AES sub-key of stored import batches.
const BATCH_LABEL: &[u8] = b"rusreg/import-batch/encryption/v1";
/// Label of the HMAC sub-key of imported objects' content hashes.
const IMPORT_TAG_LABEL: &[u8] = b"rusreg/import-content/v1";
/// Label of the sub-key that research projects' pseudonym keys are derived from.
const RESEARCH_LABEL: &[u8] = b"rusreg/research-project/v1";
/// Associated data bound to a sealed import batch.
const BATCH_AAD: &[u8] = b"rusreg/import-batch/v1";
/// Associated data bound to every ciphertext, so a ciphertext of another kind cannot pass.
const AAD: &[u8] = b"rusreg/national-id/v1";
/// Length of the random nonce prepended to the ciphertext.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM authentication tag.
const TAG_LEN: usize = 16;

impl IdKey {
    /// The env var the key is conventionally read from (the binary reads it, not the domain).
    pub const ENV_VAR: &'static str = "RUSREG_ID_KEY";

    /// Parse a 32-byte key written as 64 hex digits or as base64 (standard or URL-safe alphabet,
    /// with or without padding). Surrounding whitespace is ignored. The error never echoes the
    /// input.
    pub fn parse(raw: &str) -> Result<IdKey, DomainError> {
        let raw = raw.trim();
        let decoded = if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(raw).ok()
        } else {
            use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(raw).ok())
        };
        let bytes: [u8; 32] = decoded.and_then(|v| v.try_into().ok()).ok_or_else(|| {
            DomainError::invalid("id_key", "format", "must be 32 bytes written as 64 hex digits or as base64")
        })?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Build from the raw 32 key bytes.
    pub fn from_bytes(master: &[u8; 32]) -> IdKey {
        IdKey {
            mac_key: derive(master, PSEUDONYM_LABEL),
            enc_key: derive(master, ENCRYPTION_LABEL),
            username_key: derive(master, USERNAME_LABEL),
            person_key: derive(master, PERSON_LABEL),
            batch_key: derive(master, BATCH_LABEL),
            import_tag_key: derive(master, IMPORT_TAG_LABEL),
            research_key: derive(master, RESEARCH_LABEL),
        }
    }

    /// The keyed hash (HMAC-SHA-256 under its own sub-key, `HMAC(master, "rusreg/username/v1")`)
    /// of a username as typed at login: failed logins are audited and rate-limited by it, so a
    /// typed name (perhaps someone's password or national id typed in the wrong field) is never
    /// stored in clear. Anyone with the key can find the failures of a known username.
    pub fn username_tag(&self, username: &str) -> [u8; 32] {
        hmac_sha256(&self.username_key, username.as_bytes())
    }

    /// The keyed hash (HMAC-SHA-256 under its own sub-key, `HMAC(master, "rusreg/person-identity/v1")`)
    /// of the national id in an OpenID provider's person claim (HelseID's
    /// `helseid://claims/identity/pid`): a user is linked to a person by this hash, and the id is
    /// never stored in clear. The sub-key differs from the patients' pseudonym key, so a user's
    /// tag cannot be matched against the patients (a health worker who is also a patient stays
    /// unlinked).
    pub fn person_tag(&self, national_id: &str) -> [u8; 32] {
        hmac_sha256(&self.person_key, national_id.as_bytes())
    }

    /// The keyed hash (HMAC-SHA-256 of the 11 digits) that finds a patient and that the
    /// reservation list keeps. Stable for a given key and id.
    pub fn pseudonym(&self, id: &NationalId) -> [u8; 32] {
        hmac_sha256(&self.mac_key, &id.digits)
    }

    /// Encrypt the id with AES-256-GCM under a fresh random 96-bit nonce. The result is
    /// `nonce (12 bytes) || ciphertext (11 bytes) || tag (16 bytes)`, 39 bytes in all.
    ///
    /// Errors only if the operating system's random generator fails (`Unexpected`).
    pub fn encrypt(&self, id: &NationalId) -> Result<Vec<u8>, DomainError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.try_fill_bytes(&mut nonce).map_err(DomainError::unexpected)?;
        let cipher = Aes256Gcm::new((&self.enc_key).into());
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &id.digits, aad: AAD })
            .map_err(|_| DomainError::unexpected(CryptoError("encryption failed")))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypt what [`IdKey::encrypt`] produced. A wrong key, a tampered or truncated input is
    /// `Unexpected` (stored data should always decrypt). The digits are re-validated with both
    /// check-digit rules accepted, since the id was valid when it was stored.
    pub fn decrypt(&self, sealed: &[u8]) -> Result<NationalId, DomainError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(DomainError::unexpected(CryptoError("ciphertext too short")));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new((&self.enc_key).into());
        let clear = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: AAD })
            .map_err(|_| DomainError::unexpected(CryptoError("decryption failed")))?;
        let text = std::str::from_utf8(&clear)
            .map_err(|_| DomainError::unexpected(CryptoError("decrypted id is not text")))?;
        NationalId::parse_field(text, &IdRules::WITH_2032)
            .map_err(|_| DomainError::unexpected(CryptoError("decrypted id is not valid")))
    }
}

impl IdKey {
    /// The keyed hash of an imported object's content (it may hold a national id), under its
    /// own sub-key: a repeated object is found by it, and it reveals nothing without the key.
    pub fn import_tag(&self, content: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.import_tag_key, content)
    }

    /// Seals an import batch (which holds national ids) for storage until its job ends:
    /// AES-256-GCM under its own sub-key, `nonce || ciphertext || tag`.
    pub fn seal_batch(&self, batch: &[u8]) -> Result<Vec<u8>, DomainError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.try_fill_bytes(&mut nonce).map_err(DomainError::unexpected)?;
        let cipher = Aes256Gcm::new((&self.batch_key).into());
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: batch, aad: BATCH_AAD })
            .map_err(|_| DomainError::unexpected(CryptoError("encryption failed")))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`IdKey::seal_batch`] sealed; a wrong key or tampered input is `Unexpected`.
    pub fn open_batch(&self, sealed: &[u8]) -> Result<Vec<u8>, DomainError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(DomainError::unexpected(CryptoError("ciphertext too short")));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        Aes256Gcm::new((&self.batch_key).into())
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: BATCH_AAD })
            .map_err(|_| DomainError::unexpected(CryptoError("decryption failed")))
    }
}

impl IdKey {
    /// The secret of one research project (docs/research.md, Pseudonyms):
    /// `HMAC(HMAC(master, "rusreg/research-project/v1"), project id)`. Derived on each use and
    /// never stored, so a project's pseudonyms cannot be computed from the database alone, and
    /// two projects' keys are unrelated to anyone without the master key.
    pub fn research_project_secret(&self, project: &[u8; 16]) -> [u8; 32] {
        hmac_sha256(&self.research_key, project)
    }
}

impl fmt::Debug for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdKey(***)")
    }
}

/// A failure in the id protection, carried inside `DomainError::Unexpected`. Never holds data.
#[derive(Debug, thiserror::Error)]
#[error("national id protection: {0}")]
pub struct CryptoError(&'static str);

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    hmac_sha256(master, label)
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(msg);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0u8; 32],
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(raw: &str) -> NationalId {
        NationalId::parse(raw, &IdRules::CLASSIC).unwrap()
    }

    fn code_of(raw: &str, rules: &IdRules) -> String {
        match NationalId::parse(raw, rules) {
            Err(DomainError::Invalid(errs)) => errs[0].code.clone(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parse_accepts_the_domain_fodselsnummer_example() {
        let id = ok("15076500565");
        assert_eq!(id.kind(), NationalIdKind::Fodselsnummer);
        assert_eq!(id.birth_date(), Some(ymd(1965, 7, 15)));
        assert_eq!(id.birth_year(), Some(1965));
    }

    #[test]
    fn parse_accepts_the_domain_d_number_example() {
        let id = ok("70019950032");
        assert_eq!(id.kind(), NationalIdKind::DNumber);
        // individual number 500 with year 99 -> 1899
        assert_eq!(id.birth_date(), Some(ymd(1899, 1, 30)));
    }

    #[test]
    fn parse_accepts_the_domain_h_number_example() {
        let id = ok("01410199935");
        assert_eq!(id.kind(), NationalIdKind::HNumber);
        // month 41 -> January; individual number 999 with year 01 -> 2001
        assert_eq!(id.birth_date(), Some(ymd(2001, 1, 1)));
    }

    #[test]
    fn parse_accepts_the_domain_fh_number_example_without_a_date() {
        let id = ok("88888888831");
        assert_eq!(id.kind(), NationalIdKind::FhNumber);
        assert_eq!(id.birth_date(), None);
        assert_eq!(id.birth_year(), None);
    }

    #[test]
    fn parse_rejects_the_domain_invalid_examples_under_both_rules() {
        for rules in [IdRules::CLASSIC, IdRules::WITH_2032] {
            assert_eq!(code_of("15076500575", &rules), "check_digit");
            assert_eq!(code_of("98019800546", &rules), "check_digit");
        }
    }

    #[test]
    fn parse_rejects_wrong_length_and_non_digits() {
        for raw in ["", "1507650056", "150765005650", "1507650056a", "15076 500565", " 15076500565", "１5076500565"] {
            assert_eq!(code_of(raw, &IdRules::CLASSIC), "format", "{raw:?}");
        }
    }

    /// Complete 9 leading digits with both check digits under the old rule, if possible.
    fn with_check_digits(first9: &str) -> Option<String> {
        let d: Vec<u32> = first9.bytes().map(|b| u32::from(b - b'0')).collect();
        let k1 = match 11 - weighted(&d, &W1[..9]) % 11 {
            11 => 0,
            10 => return None,
            k => k,
        };
        let mut d10 = d.clone();
        d10.push(k1);
        let k2 = match 11 - weighted(&d10, &W2[..10]) % 11 {
            11 => 0,
            10 => return None,
            k => k,
        };
        Some(format!("{first9}{k1}{k2}"))
    }

    #[test]
    fn parse_rejects_an_impossible_date_with_valid_check_digits() {
        // 31 February and month 13, each with correct check digits.
        let mut checked = 0;
        for first9 in ["310265123", "310265124", "310265125", "011365123", "011365124"] {
            if let Some(raw) = with_check_digits(first9) {
                assert_eq!(code_of(&raw, &IdRules::CLASSIC), "date");
                checked += 1;
            }
        }
        assert!(checked >= 2);
    }

    #[test]
    fn parse_applies_the_century_table() {
        let cases = [
            ("010100000", Some(1900)),
            ("010199499", Some(1999)),
            ("010154500", Some(1854)),
            ("010199749", Some(1899)),
            ("010153500", None), // 500-749 with 40-53: no century
            ("010100500", Some(2000)),
            ("010139999", Some(2039)),
            ("010140900", Some(1940)),
            ("010199999", Some(1999)),
            ("010140800", None), // 750-899 with 40-99: no century
        ];
        for (first9, year) in cases {
            // Vary the last individual digit's neighbour until the check digits exist.
            let raw = with_check_digits(first9);
            let Some(raw) = raw else { continue };
            match year {
                Some(y) => assert_eq!(ok(&raw).birth_year(), Some(y), "{first9}"),
                None => assert_eq!(code_of(&raw, &IdRules::CLASSIC), "date", "{first9}"),
            }
        }
    }

    #[test]
    fn century_table_is_exact() {
        assert_eq!(century(0, 0), Some(1900));
        assert_eq!(century(499, 99), Some(1900));
        assert_eq!(century(500, 54), Some(1800));
        assert_eq!(century(749, 99), Some(1800));
        assert_eq!(century(500, 53), None);
        assert_eq!(century(500, 39), Some(2000));
        assert_eq!(century(999, 0), Some(2000));
        assert_eq!(century(900, 40), Some(1900));
        assert_eq!(century(899, 40), None);
        assert_eq!(century(750, 99), None);
    }

    #[test]
    fn parse_rejects_a_number_that_is_both_d_and_h() {
        // day 41 (D) and month 41 (H)
        let mut found = false;
        for i in 100..200 {
            if let Some(raw) = with_check_digits(&format!("414165{i}")) {
                assert_eq!(code_of(&raw, &IdRules::CLASSIC), "format");
                found = true;
                break;
            }
        }
        assert!(found);
    }

    /// A number whose first weighted sum leaves remainder `r` (1..=3) and whose k2 is right.
    fn with_2032_remainder(first9: &str, r: u32) -> Option<String> {
        let d: Vec<u32> = first9.bytes().map(|b| u32::from(b - b'0')).collect();
        let s = weighted(&d, &W1[..9]);
        let k1 = (0..10).find(|k| (s + k) % 11 == r)?;
        let mut d10 = d.clone();
        d10.push(k1);
        let k2 = match 11 - weighted(&d10, &W2[..10]) % 11 {
            11 => 0,
            10 => return None,
            k => k,
        };
        Some(format!("{first9}{k1}{k2}"))
    }

    #[test]
    fn the_2032_rule_is_accepted_only_when_configured() {
        let mut seen = 0;
        for i in 100..140 {
            for r in 1..=3 {
                if let Some(raw) = with_2032_remainder(&format!("150765{i}"), r) {
                    assert!(NationalId::parse(&raw, &IdRules::WITH_2032).is_ok(), "{raw}");
                    assert_eq!(code_of(&raw, &IdRules::CLASSIC), "check_digit");
                    seen += 1;
                }
            }
        }
        assert!(seen > 20);
        // Remainder 4 is never accepted.
        for i in 100..140 {
            let first9 = format!("150765{i}");
            let d: Vec<u32> = first9.bytes().map(|b| u32::from(b - b'0')).collect();
            let s = weighted(&d, &W1[..9]);
            if let Some(k1) = (0..10).find(|k| (s + k) % 11 == 4) {
                let mut d10 = d.clone();
                d10.push(k1);
                if let Some(k2) = [11 - weighted(&d10, &W2[..10]) % 11].iter().find(|k| **k < 10) {
                    let raw = format!("{first9}{k1}{}", k2 % 11);
                    assert_eq!(code_of(&raw, &IdRules::WITH_2032), "check_digit");
                }
            }
        }
    }

    #[test]
    fn old_rule_numbers_stay_valid_under_the_2032_rule() {
        for raw in ["15076500565", "70019950032", "01410199935", "88888888831"] {
            assert!(NationalId::parse(raw, &IdRules::WITH_2032).is_ok());
        }
    }

    #[test]
    fn debug_and_display_hide_the_digits() {
        let id = ok("15076500565");
        assert_eq!(format!("{id:?}"), "NationalId(***)");
        assert_eq!(format!("{id}"), "NationalId(***)");
        assert_eq!(id.expose(), "15076500565");
    }

    #[test]
    fn error_messages_never_contain_the_digits() {
        for raw in ["15076500575", "98019800546", "1507650056x"] {
            let err = NationalId::parse(raw, &IdRules::CLASSIC).unwrap_err();
            let text = format!("{err:?} {err}");
            assert!(!text.contains("1507650"), "{text}");
            assert!(!text.contains("9801980"), "{text}");
        }
    }

    // ---- independent implementation of the check digits, for the property test ----

    /// Written from the formula `k = 11 - (sum mod 11)`, 11 -> 0, 10 -> invalid (docs/domain.md,
    /// National ids), not from the code above.
    fn reference_check_digits(n: &[u8; 11]) -> bool {
        let x: Vec<i64> = n.iter().map(|c| i64::from(*c)).collect();
        let s1 = 3 * x[0] + 7 * x[1] + 6 * x[2] + x[3] + 8 * x[4] + 9 * x[5] + 4 * x[6] + 5 * x[7] + 2 * x[8];
        let k1 = match 11 - s1.rem_euclid(11) {
            11 => 0,
            10 => return false,
            k => k,
        };
        let s2 =
            5 * x[0] + 4 * x[1] + 3 * x[2] + 2 * x[3] + 7 * x[4] + 6 * x[5] + 5 * x[6] + 4 * x[7] + 3 * x[8] + 2 * k1;
        let k2 = match 11 - s2.rem_euclid(11) {
            11 => 0,
            10 => return false,
            k => k,
        };
        x[9] == k1 && x[10] == k2
    }

    /// The 2032 rule (docs/domain.md, National ids): the first weighted sum (with k1) mod 11 is
    /// 0, 1, 2 or 3; the second (with k1 and k2) is 0.
    fn reference_2032(n: &[u8; 11]) -> bool {
        let x: Vec<i64> = n.iter().map(|c| i64::from(*c)).collect();
        let w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1];
        let w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
        let s1: i64 = x.iter().zip(w1).map(|(a, b)| a * b).sum();
        let s2: i64 = x.iter().zip(w2).map(|(a, b)| a * b).sum();
        (0..=3).contains(&s1.rem_euclid(11)) && s2.rem_euclid(11) == 0
    }

    proptest! {
        #[test]
        fn check_digits_agree_with_an_independent_implementation(
            // FH-numbers (first digit 8 or 9) have no date rule, so the check digits decide alone.
            first in 8u8..=9,
            rest in proptest::array::uniform10(0u8..=9),
        ) {
            let mut n = [0u8; 11];
            n[0] = first;
            n[1..].copy_from_slice(&rest);
            let raw: String = n.iter().map(|d| char::from(b'0' + d)).collect();
            let ours = NationalId::parse(&raw, &IdRules::CLASSIC).is_ok();
            prop_assert_eq!(ours, reference_check_digits(&n));
        }

        #[test]
        fn the_2032_rule_agrees_with_an_independent_implementation(
            first in 8u8..=9,
            rest in proptest::array::uniform10(0u8..=9),
        ) {
            let mut n = [0u8; 11];
            n[0] = first;
            n[1..].copy_from_slice(&rest);
            let raw: String = n.iter().map(|d| char::from(b'0' + d)).collect();
            let ours = NationalId::parse(&raw, &IdRules::WITH_2032).is_ok();
            prop_assert_eq!(ours, reference_2032(&n));
        }

        #[test]
        fn every_generated_valid_fodselsnummer_parses(
            date in (0i64..36524).prop_map(|d| ymd(1900, 1, 1) + chrono::Duration::days(d)),
            tail in 0u32..500,
        ) {
            let first9 = format!("{}{tail:03}", date.format("%d%m%y"));
            if let Some(raw) = with_check_digits(&first9) {
                let n: [u8; 11] = raw.as_bytes().iter().map(|b| b - b'0').collect::<Vec<_>>().try_into().unwrap();
                prop_assert!(reference_check_digits(&n));
                let id = NationalId::parse(&raw, &IdRules::CLASSIC).unwrap();
                prop_assert_eq!(id.birth_date(), Some(date));
                prop_assert_eq!(id.kind(), NationalIdKind::Fodselsnummer);
            }
        }

        #[test]
        fn a_single_changed_digit_is_rejected(pos in 0usize..11, delta in 1u8..=9) {
            let mut bytes = *b"15076500565";
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let raw = std::str::from_utf8(&bytes).unwrap();
            prop_assert!(NationalId::parse(raw, &IdRules::CLASSIC).is_err());
        }
    }

    // ---- key and protection ----

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn id_key_parses_hex_and_base64_to_the_same_key() {
        let hex_key = IdKey::parse(HEX_KEY).unwrap();
        let bytes: Vec<u8> = (0u8..32).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let b64_key = IdKey::parse(&format!("  {b64}\n")).unwrap();
        let url_key = IdKey::parse(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes)).unwrap();
        let id = ok("15076500565");
        assert_eq!(hex_key.pseudonym(&id), b64_key.pseudonym(&id));
        assert_eq!(hex_key.pseudonym(&id), url_key.pseudonym(&id));
    }

    #[test]
    fn id_key_rejects_wrong_lengths_and_garbage() {
        for raw in ["", "abcd", &HEX_KEY[..62], "not a key at all!!", &"A".repeat(44)] {
            // 44 'A' chars decode to 33 bytes, not 32
            assert!(IdKey::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn id_key_debug_hides_the_key() {
        let key = IdKey::parse(HEX_KEY).unwrap();
        assert_eq!(format!("{key:?}"), "IdKey(***)");
    }

    #[test]
    fn pseudonym_is_stable_and_depends_on_key_and_id() {
        let key = IdKey::parse(HEX_KEY).unwrap();
        let other = IdKey::from_bytes(&[7u8; 32]);
        let a = ok("15076500565");
        let b = ok("70019950032");
        assert_eq!(key.pseudonym(&a), key.pseudonym(&a.clone()));
        assert_eq!(key.pseudonym(&a), IdKey::parse(HEX_KEY).unwrap().pseudonym(&a));
        assert_ne!(key.pseudonym(&a), key.pseudonym(&b));
        assert_ne!(key.pseudonym(&a), other.pseudonym(&a));
        // The pseudonym is not the plain HMAC under the master key (sub-keys are derived).
        let master: [u8; 32] = hex::decode(HEX_KEY).unwrap().try_into().unwrap();
        assert_ne!(key.pseudonym(&a), hmac_sha256(&master, a.expose().as_bytes()));
    }

    #[test]
    fn pseudonym_and_encryption_keys_differ() {
        let key = IdKey::from_bytes(&[1u8; 32]);
        assert_ne!(key.mac_key, key.enc_key);
    }

    #[test]
    fn a_users_person_tag_is_not_the_pseudonym_of_the_same_patient() {
        let key = IdKey::parse(HEX_KEY).unwrap();
        let a = ok("15076500565");
        assert_eq!(key.person_tag("15076500565"), key.person_tag("15076500565"));
        assert_ne!(key.person_tag("15076500565"), key.person_tag("70019950032"));
        assert_ne!(key.person_tag("15076500565"), key.pseudonym(&a));
        assert_ne!(key.person_tag("15076500565"), key.username_tag("15076500565"));
        assert_ne!(key.person_tag("15076500565"), IdKey::from_bytes(&[7u8; 32]).person_tag("15076500565"));
    }

    #[test]
    fn encrypt_then_decrypt_round_trips() {
        let key = IdKey::parse(HEX_KEY).unwrap();
        for raw in ["15076500565", "70019950032", "01410199935", "88888888831"] {
            let id = ok(raw);
            let sealed = key.encrypt(&id).unwrap();
            assert_eq!(sealed.len(), NONCE_LEN + 11 + TAG_LEN);
            assert!(!sealed.windows(11).any(|w| w == raw.as_bytes()));
            assert_eq!(key.decrypt(&sealed).unwrap(), id);
        }
    }

    #[test]
    fn encrypt_uses_a_fresh_nonce_each_time() {
        let key = IdKey::parse(HEX_KEY).unwrap();
        let id = ok("15076500565");
        assert_ne!(key.encrypt(&id).unwrap(), key.encrypt(&id).unwrap());
    }

    #[test]
    fn decrypt_rejects_a_wrong_key_tampering_and_truncation() {
        let key = IdKey::parse(HEX_KEY).unwrap();
        let sealed = key.encrypt(&ok("15076500565")).unwrap();
        assert!(IdKey::from_bytes(&[9u8; 32]).decrypt(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN + 3] ^= 1;
        assert!(key.decrypt(&tampered).is_err());
        assert!(key.decrypt(&sealed[..20]).is_err());
        assert!(key.decrypt(&[]).is_err());
    }
}
