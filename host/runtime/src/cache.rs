//! The compiled-component cache: compile a wasm digest once, load it in
//! milliseconds afterwards, from any process on the machine.
//!
//! An entry is `<sha256 of the wasm>-<engine compatibility hash>.cwasm` with a
//! sidecar `.sha256` of the artifact itself. The sidecar is checked before the
//! artifact is deserialized, so a truncated or corrupted entry is detected and
//! rebuilt instead of being loaded.

use crate::Error;
use sha2::{Digest, Sha256};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The hex sha256 digest of `bytes`, as used to name wasm blobs.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where a compiled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now (and stored, when a cache directory is set).
    Compiled,
    /// Loaded from a valid cache entry.
    Cached,
}

/// Compiles components, reading and writing an on-disk cache when it has a directory.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// No cache: every load compiles.
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    /// The compiled component for the wasm with sha256 `digest` (hex), if
    /// the cache holds a valid artifact for it: no wasm bytes needed.
    pub fn load_digest(&self, engine: &Engine, digest: &str) -> Option<Component> {
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let dir = self.dir.as_ref()?;
        load_verified(
            engine,
            &dir.join(format!("{digest}-{}.cwasm", compat_hash(engine))),
        )
    }

    /// Whether a compiled artifact for the wasm with sha256 `digest` is on
    /// disk for `engine` (so a start would skip compiling).
    pub fn contains(&self, engine: &Engine, digest: &str) -> bool {
        self.dir.as_ref().is_some_and(|dir| {
            dir.join(format!("{digest}-{}.cwasm", compat_hash(engine)))
                .is_file()
        })
    }

    /// Compiles `wasm` for `engine`, or loads the cached artifact for its digest.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> Result<(Component, Origin), Error> {
        check_is_component(wasm)?;
        let Some(dir) = &self.dir else {
            return Ok((compile(engine, wasm)?, Origin::Compiled));
        };
        let path = dir.join(format!("{}-{}.cwasm", digest(wasm), compat_hash(engine)));
        if let Some(component) = load_verified(engine, &path) {
            return Ok((component, Origin::Cached));
        }
        let artifact = engine
            .precompile_component(wasm)
            .map_err(|e| Error::Compile(format!("{e:#}")))?;
        if let Err(e) = store(&path, &artifact) {
            tracing::warn!(path = %path.display(), "could not write the compile cache: {e}");
        }
        let component = deserialize(engine, &artifact)?;
        Ok((component, Origin::Compiled))
    }
}

/// Rejects what is not a component with an error that says what it is instead.
fn check_is_component(wasm: &[u8]) -> Result<(), Error> {
    // The preamble is `\0asm`, a 2-byte version, then a 2-byte layer:
    // layer 0 is a core module, layer 1 a component.
    match wasm {
        [0, b'a', b's', b'm', _, _, 0, 0, ..] => Err(Error::NotAComponent(
            "this is a core wasm module, not a component; build for wasm32-wasip2 \
             or wrap it with `wasm-tools component new`"
                .into(),
        )),
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Ok(()),
        _ => Err(Error::NotAComponent(
            "the bytes do not start with the wasm magic number".into(),
        )),
    }
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<Component, Error> {
    Component::new(engine, wasm).map_err(|e| Error::Compile(format!("{e:#}")))
}

fn compat_hash(engine: &Engine) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

fn sidecar(path: &Path) -> PathBuf {
    path.with_extension("sha256")
}

fn load_verified(engine: &Engine, path: &Path) -> Option<Component> {
    let artifact = std::fs::read(path).ok()?;
    let want = std::fs::read_to_string(sidecar(path)).ok()?;
    if digest(&artifact) != want.trim() {
        tracing::warn!(path = %path.display(), "compile cache entry is corrupt; rebuilding it");
        return None;
    }
    match deserialize(engine, &artifact) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(path = %path.display(), "compile cache entry unusable ({e}); rebuilding it");
            None
        }
    }
}

fn deserialize(engine: &Engine, artifact: &[u8]) -> Result<Component, Error> {
    #[expect(
        unsafe_code,
        reason = "the artifact was produced by this engine's precompile_component, or \
                  read back from the cache after its sha256 matched the one written with it"
    )]
    // SAFETY: see the reason above; wasmtime additionally checks the header
    // and the engine's compatibility before using the bytes.
    let component = unsafe { Component::deserialize(engine, artifact) };
    component.map_err(|e| Error::Compile(format!("{e:#}")))
}

/// Writes the artifact and then its sidecar, each atomically (temp file + rename).
fn store(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    write_atomic(dir, path, artifact)?;
    write_atomic(dir, &sidecar(path), digest(artifact).as_bytes())
}

fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_modules_and_garbage_are_not_components() {
        let core = [0, b'a', b's', b'm', 1, 0, 0, 0];
        assert!(
            matches!(check_is_component(&core), Err(Error::NotAComponent(m)) if m.contains("core"))
        );
        assert!(matches!(
            check_is_component(b"hello"),
            Err(Error::NotAComponent(_))
        ));
        assert!(matches!(
            check_is_component(&[]),
            Err(Error::NotAComponent(_))
        ));
        let component = [0, b'a', b's', b'm', 0x0d, 0, 1, 0];
        assert!(check_is_component(&component).is_ok());
    }
}
