//! Users: usernames, the password policy and the lockout rule (5 failures in 15 minutes lock the
//! account for 15 minutes).

use chrono::{DateTime, Duration, Utc};

use crate::{DomainError, FieldError};

/// The system's own user (migration `2026-12-09-000140_system_user`): the author of what rusreg
/// records by itself (docs/patient-channel.md, The system user). Disabled, with a password hash
/// nothing verifies against, never holding a grant or an identity (constraints in the database);
/// hidden from the user list and refused by every change an admin may make to a user.
pub const SYSTEM_USER_ID: uuid::Uuid = uuid::Uuid::from_u128(1);
/// The system user's username (taken, so no one else can have it).
pub const SYSTEM_USERNAME: &str = "system";

/// Whether `id` is the system's own user.
pub fn is_system(id: uuid::Uuid) -> bool {
    id == SYSTEM_USER_ID
}

/// Failures allowed inside the window before the account locks.
pub const MAX_FAILURES: i32 = 5;
/// The window in which failures are counted, and how long a lock lasts.
pub const LOCKOUT_WINDOW_MINUTES: i64 = 15;

/// Validates a username: 3–64 characters of a–z, 0–9, `.`, `_`, `-`.
pub fn validate_username(raw: &str) -> Result<(), FieldError> {
    let ok = (3..=64).contains(&raw.len())
        && raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new("username", "format", "3 to 64 characters: lower-case letters, digits, '.', '_' or '-'"))
    }
}

/// The password policy: at least 12 characters, at most 256, not equal to the username.
pub fn validate_password(field: &str, password: &str, username: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < 12 {
        return Err(FieldError::new(field, "length", "a password has at least 12 characters"));
    }
    if n > 256 {
        return Err(FieldError::new(field, "length", "a password has at most 256 characters"));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(FieldError::new(field, "weak", "the password must not be the username"));
    }
    Ok(())
}

/// A display name: 1–200 characters, not only spaces, no control characters (PostgreSQL's text
/// cannot hold NUL: such a name used to end in a 500).
pub fn validate_display_name(name: &str) -> Result<(), FieldError> {
    if name.trim().is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
        return Err(FieldError::new(
            "display_name",
            "length",
            "display_name must have 1 to 200 characters and no control characters",
        ));
    }
    Ok(())
}

/// Validates a new user's fields, listing every failure.
pub fn validate_new_user(username: &str, display_name: &str, password: &str) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    errors.extend(validate_username(username).err());
    errors.extend(validate_display_name(display_name).err());
    errors.extend(validate_password("password", password, username).err());
    DomainError::check(errors)
}

/// The login-failure state kept for each user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginState {
    /// Failures counted in the current window.
    pub failures: i32,
    /// When the current window started (the first failure in it).
    pub window_start: Option<DateTime<Utc>>,
    /// Locked until this moment.
    pub locked_until: Option<DateTime<Utc>>,
}

impl LoginState {
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// The state after one more failed login at `now`: the fifth failure inside 15 minutes locks
    /// the account for 15 minutes and starts a new count.
    pub fn after_failure(&self, now: DateTime<Utc>) -> LoginState {
        let window = Duration::minutes(LOCKOUT_WINDOW_MINUTES);
        let in_window = self.window_start.is_some_and(|s| now - s < window);
        let (failures, window_start) = if in_window { (self.failures + 1, self.window_start) } else { (1, Some(now)) };
        if failures >= MAX_FAILURES {
            LoginState { failures: 0, window_start: None, locked_until: Some(now + window) }
        } else {
            LoginState { failures, window_start, locked_until: self.locked_until }
        }
    }

    /// The state after a successful login: the count starts again.
    pub fn after_success(&self) -> LoginState {
        LoginState::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default() + Duration::minutes(min)
    }

    #[test]
    fn the_system_user_is_the_fixed_id_of_the_migration() {
        assert_eq!(SYSTEM_USER_ID.to_string(), "00000000-0000-0000-0000-000000000001");
        assert!(is_system(SYSTEM_USER_ID) && !is_system(uuid::Uuid::nil()));
        assert!(validate_username(SYSTEM_USERNAME).is_ok(), "a username no one else can take");
    }

    #[test]
    fn five_failures_in_fifteen_minutes_lock_for_fifteen_minutes() {
        let mut s = LoginState::default();
        for m in 0..4 {
            s = s.after_failure(t(m));
            assert!(!s.is_locked(t(m)));
        }
        s = s.after_failure(t(10));
        assert!(s.is_locked(t(10)));
        assert!(s.is_locked(t(24)));
        assert!(!s.is_locked(t(25)));
    }

    #[test]
    fn a_display_name_holds_no_control_character() {
        assert!(validate_display_name("Ola Nordmann").is_ok());
        assert!(validate_display_name("Ola\u{0}Nordmann").is_err(), "PostgreSQL text cannot hold NUL");
        assert!(validate_display_name("Ola\nNordmann").is_err());
        assert!(validate_display_name("  ").is_err());
        assert!(validate_display_name(&"x".repeat(201)).is_err());
    }

    #[test]
    fn failures_spread_over_more_than_fifteen_minutes_do_not_lock() {
        let mut s = LoginState::default();
        for m in [0, 5, 10, 14, 16, 20] {
            s = s.after_failure(t(m));
            assert!(!s.is_locked(t(m)), "minute {m}");
        }
    }

    #[test]
    fn success_resets_the_count() {
        let mut s = LoginState::default();
        for m in 0..4 {
            s = s.after_failure(t(m));
        }
        s = s.after_success();
        s = s.after_failure(t(5));
        assert!(!s.is_locked(t(5)));
        assert_eq!(s.failures, 1);
    }

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert!(validate_username("demo-admin").is_ok());
        assert!(validate_username("Demo Admin").is_err());
        assert!(validate_username("ab").is_err());
        assert!(validate_password("password", "short", "x").is_err());
        assert!(validate_password("password", "long enough passphrase", "x").is_ok());
        assert!(validate_password("password", "demo-admin-xx", "demo-admin-xx").is_err());
        assert!(validate_new_user("ok-user", "", "short").is_err());
    }
}
