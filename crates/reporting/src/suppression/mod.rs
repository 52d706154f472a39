//! Table model, primary and secondary suppression, and the independent disclosure auditor.
