//! Schema inspection.
