//! Limits on login attempts (governor's keyed GCRA limiters): per source address and per typed
//! username, each so many attempts a minute with a burst of as many. The username is keyed by
//! its keyed hash (`IdKey::username_tag`), so no typed name is kept in memory either. A refused
//! attempt costs no database work and no argon2: the endpoint answers 429 with `Retry-After`,
//! held back for the wait or `TARPIT_MAX`, whichever is shorter, so a flood that ignores
//! `Retry-After` gets one answer a second per connection.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The longest a refused attempt's answer is held back.
pub const TARPIT_MAX: Duration = Duration::from_secs(1);

/// Forget idle keys after this many checks (their state is full again by then anyway).
const RETAIN_EVERY: u64 = 4096;

pub struct LoginLimits {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_username: Option<DefaultKeyedRateLimiter<[u8; 32]>>,
    checks: AtomicU64,
}

impl LoginLimits {
    /// Limits of `per_address` and `per_username` attempts a minute (0: no limit).
    pub fn new(per_address: u32, per_username: u32) -> Self {
        Self {
            per_address: NonZeroU32::new(per_address).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            per_username: NonZeroU32::new(per_username).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts an attempt from `address` for the username with this tag: `Ok`, or how long to
    /// wait before the next attempt is allowed.
    pub fn check(&self, address: Option<IpAddr>, username_tag: &[u8; 32]) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            if let Some(l) = &self.per_address {
                l.retain_recent();
            }
            if let Some(l) = &self.per_username {
                l.retain_recent();
            }
        }
        let now = DefaultClock::default().now();
        if let (Some(limiter), Some(address)) = (&self.per_address, address) {
            limiter.check_key(&address).map_err(|n| n.wait_time_from(now))?;
        }
        if let Some(limiter) = &self.per_username {
            limiter.check_key(username_tag).map_err(|n| n.wait_time_from(now))?;
        }
        Ok(())
    }
}

/// Whole seconds for `Retry-After`, rounded up, at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_beyond_the_burst_are_refused_per_address_and_per_username() {
        let limits = LoginLimits::new(3, 2);
        let (a, b) = (Some(IpAddr::from([10, 0, 0, 1])), Some(IpAddr::from([10, 0, 0, 2])));
        assert!(limits.check(a, &[1; 32]).is_ok());
        assert!(limits.check(a, &[1; 32]).is_ok());
        // The username's burst (2) is spent, from any address.
        assert!(limits.check(b, &[1; 32]).is_err());
        // The address's burst (3) is spent, for any username.
        assert!(limits.check(a, &[2; 32]).is_ok());
        let wait = limits.check(a, &[3; 32]).err();
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(20)), "{wait:?}");
        assert_eq!(retry_after_seconds(Duration::from_millis(1500)), 2);
        let off = LoginLimits::new(0, 0);
        assert!((0..100).all(|_| off.check(a, &[1; 32]).is_ok()));
    }
}
