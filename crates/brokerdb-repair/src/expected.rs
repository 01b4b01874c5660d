//! The expected schema.
