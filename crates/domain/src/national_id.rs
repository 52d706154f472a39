//! (filled in by the registration work: see issue 3)
