//! rusreg api.
