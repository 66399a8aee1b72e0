//! Conformance suites: the behaviour every backend of a capability must show.
//!
//! Each provider crate runs the suite of its capability against its real
//! backend; the in-memory implementations run it on every `cargo test`.

pub mod keyvalue;

/// A conformance check that did not hold.
#[derive(Debug, thiserror::Error)]
#[error("conformance check `{check}` failed: {detail}")]
pub struct Failure {
    /// The name of the check, e.g. `buckets_are_independent`.
    pub check: &'static str,
    /// What was expected and what happened.
    pub detail: String,
}

/// Fails `check` with `detail` unless `cond` holds.
fn ensure(cond: bool, check: &'static str, detail: impl FnOnce() -> String) -> Result<(), Failure> {
    if cond {
        Ok(())
    } else {
        Err(Failure {
            check,
            detail: detail(),
        })
    }
}

/// Turns a backend error into a failure of `check`.
fn backend<T, E: std::fmt::Display>(check: &'static str, r: Result<T, E>) -> Result<T, Failure> {
    r.map_err(|e| Failure {
        check,
        detail: format!("unexpected error: {e}"),
    })
}
