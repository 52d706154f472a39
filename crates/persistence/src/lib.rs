//! rusreg persistence.
