//! Releases of a year's results: a draft is built, audited and stored, then published. The
//! rules of publishing live here; building and suppressing are in `reporting`.

/// A release's state. The codes are stored and shown (`draft`, `published`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseStatus {
    Draft,
    Published,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "draft" => Some(Self::Draft),
            "published" => Some(Self::Published),
            _ => None,
        }
    }
}

/// Why a draft may not be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishRefusal {
    /// It is published already.
    AlreadyPublished,
    /// It no longer builds on the latest publication of its year: another release was
    /// published, or a completeness snapshot of the year was taken, after it was built. Its
    /// pattern was protected against the publications before it only, so publishing it could
    /// let the two be differenced.
    Stale,
}

/// What publishing a release depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishFacts {
    pub status: ReleaseStatus,
    /// The release of the year it was built on (the latest published when it was built).
    pub builds_on: Option<i64>,
    /// The release of the year published last, now.
    pub latest_published: Option<i64>,
    /// Whether a completeness snapshot of the year was taken after the release was built
    /// (other than the release's own).
    pub snapshot_after: bool,
}

/// The publishing rule: a draft that still builds on the latest publication of its year.
pub fn check_publish(f: &PublishFacts) -> Result<(), PublishRefusal> {
    if f.status == ReleaseStatus::Published {
        return Err(PublishRefusal::AlreadyPublished);
    }
    if f.builds_on != f.latest_published || f.snapshot_after {
        return Err(PublishRefusal::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_draft_on_the_latest_publication_without_a_later_snapshot_publishes() {
        let ok = PublishFacts {
            status: ReleaseStatus::Draft,
            builds_on: Some(3),
            latest_published: Some(3),
            snapshot_after: false,
        };
        assert_eq!(check_publish(&ok), Ok(()));
        let published = PublishFacts { status: ReleaseStatus::Published, ..ok };
        assert_eq!(check_publish(&published), Err(PublishRefusal::AlreadyPublished));
        let overtaken = PublishFacts { latest_published: Some(4), ..ok };
        assert_eq!(check_publish(&overtaken), Err(PublishRefusal::Stale));
        let snapshot = PublishFacts { snapshot_after: true, ..ok };
        assert_eq!(check_publish(&snapshot), Err(PublishRefusal::Stale));
        assert_eq!(ReleaseStatus::parse("published"), Some(ReleaseStatus::Published));
        assert_eq!(ReleaseStatus::parse(ReleaseStatus::Draft.as_str()), Some(ReleaseStatus::Draft));
    }
}
