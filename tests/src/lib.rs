//! End-to-end tests live under `[[test]]` targets.
