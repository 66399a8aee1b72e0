//! The compiled-component cache: compile a wasm digest once, load it in
//! milliseconds afterwards, from any process on the machine.
//!
//! An entry is `<sha256 of the wasm>-<engine compatibility hash>.cwasm` with a
//! sidecar `.sha256` of the artifact itself. The sidecar is checked before the
//! artifact is deserialized, so a truncated or corrupted entry is detected and
//! rebuilt instead of being loaded.
//!
//! In front of the disk, the cache keeps the last [`SHARED_ENTRIES`]
//! components it loaded: another copy of a digest shares the machine code
//! already in memory (no read, no deserialize, no second copy of the code),
//! which is what lets thousands of copies of one component run on a host.

use crate::Error;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wasmtime::Engine;
use wasmtime::component::Component;
use weft_capability::sync::Locked;

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
    /// Already in memory (another copy of the same digest): the code is shared.
    Shared,
}

/// How many compiled components the cache keeps in memory for sharing.
pub const SHARED_ENTRIES: usize = 64;

/// Components loaded lately, most recent last: (digest, engine, component).
type Loaded = VecDeque<(String, Engine, Component)>;

/// Compiles components, reading and writing an on-disk cache when it has a directory.
#[derive(Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    loaded: Arc<Mutex<Loaded>>,
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CompileCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
            loaded: Arc::default(),
        }
    }

    /// No cache on disk: a load compiles unless a copy is in memory.
    pub fn disabled() -> Self {
        Self {
            dir: None,
            loaded: Arc::default(),
        }
    }

    /// Drops the compiled components kept in memory for sharing (running
    /// components keep theirs); the next load reads the disk or compiles.
    pub fn forget_loaded(&self) {
        self.loaded.locked().clear();
    }

    /// The component of `digest` for `engine` if it is in memory.
    fn shared(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let mut loaded = self.loaded.locked();
        let i = loaded
            .iter()
            .position(|(d, e, _)| d == digest && Engine::same(e, engine))?;
        let entry = loaded.remove(i)?;
        let component = entry.2.clone();
        loaded.push_back(entry);
        Some(component)
    }

    /// Keeps `component` in memory for the next copy of `digest`.
    fn keep(&self, engine: &Engine, digest: &str, component: &Component) {
        let mut loaded = self.loaded.locked();
        loaded.retain(|(d, e, _)| !(d == digest && Engine::same(e, engine)));
        if loaded.len() >= SHARED_ENTRIES {
            loaded.pop_front();
        }
        loaded.push_back((digest.to_owned(), engine.clone(), component.clone()));
    }

    /// The compiled component for the wasm with sha256 `digest` (hex), if
    /// the cache holds a valid artifact for it: no wasm bytes needed.
    pub fn load_digest(&self, engine: &Engine, digest: &str) -> Option<Component> {
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if let Some(c) = self.shared(engine, digest) {
            return Some(c);
        }
        let dir = self.dir.as_ref()?;
        let c = load_verified(
            engine,
            &dir.join(format!("{digest}-{}.cwasm", compat_hash(engine))),
        )?;
        self.keep(engine, digest, &c);
        Some(c)
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
        let wasm_digest = digest(wasm);
        if let Some(c) = self.shared(engine, &wasm_digest) {
            return Ok((c, Origin::Shared));
        }
        let Some(dir) = &self.dir else {
            let c = compile(engine, wasm)?;
            self.keep(engine, &wasm_digest, &c);
            return Ok((c, Origin::Compiled));
        };
        let path = dir.join(format!("{wasm_digest}-{}.cwasm", compat_hash(engine)));
        if let Some(component) = load_verified(engine, &path) {
            self.keep(engine, &wasm_digest, &component);
            return Ok((component, Origin::Cached));
        }
        let artifact = engine
            .precompile_component(wasm)
            .map_err(|e| Error::Compile(format!("{e:#}")))?;
        if let Err(e) = store(&path, &artifact) {
            tracing::warn!(path = %path.display(), "could not write the compile cache: {e}");
        }
        let component = deserialize(engine, &artifact)?;
        self.keep(engine, &wasm_digest, &component);
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
