//! Scaling components by reference: start, resize, stop — what a control
//! plane's `component.scale` asks for.

use crate::{Error, Host};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_capability::config::Config;
use weft_runtime::{Component, ComponentSpec, Limits};

/// What a control plane asks a host to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleRequest {
    /// The component's lattice-unique id.
    pub component_id: String,
    /// Where its wasm comes from (`file:///…` today; OCI references next).
    pub image_ref: String,
    /// Invocations that may run at once; 0 stops the component.
    pub max_instances: u32,
    /// Whether a different image may replace a running one.
    pub allow_update: bool,
    /// Free-form annotations, reported back in the inventory.
    pub annotations: BTreeMap<String, String>,
    /// What `wasi:config` returns to the component (its named configs,
    /// merged in order); taken when it starts or is updated.
    pub config: BTreeMap<String, String>,
    /// Largest linear memory per instance, if not the default.
    pub max_memory: Option<u64>,
    /// Longest time per invocation, if not the default.
    pub timeout: Option<Duration>,
}

/// What a scale request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaled {
    /// The component was not running and now is.
    Started,
    /// It was running; its instance limit changed (or stayed).
    Rescaled,
    /// It was running and has stopped.
    Stopped,
    /// It was not running and was asked to stop: nothing to do.
    NotRunning,
}

/// Why a scale request failed; each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// The reference has a scheme this host cannot fetch.
    #[error(
        "cannot fetch `{0}`: give an OCI reference (oci://registry/repo:tag or …@sha256:…) or, on hosts started with --allow-file-load, an absolute file:///path/to/component.wasm"
    )]
    UnsupportedRef(String),
    /// File references are turned off on this host.
    #[error(
        "`{0}` is a file reference, and this host does not allow them; start it with --allow-file-load, or push the component to a registry (`weft push`)"
    )]
    FileRefsDisabled(String),
    /// The image's registry is not one this host may pull from.
    #[error(
        "`{reference}` is from registry {registry}, and this host runs images only from: {allowed} (its --allow-registry list); push the component there, or add the registry"
    )]
    RegistryNotAllowed {
        /// The reference asked for.
        reference: String,
        /// Its registry.
        registry: String,
        /// The registries allowed.
        allowed: String,
    },
    /// This host runs images by digest only, and the reference has a tag.
    #[error(
        "`{0}` names a tag, and this host runs images only by digest (--require-digest): use …@sha256:<digest> (`weft push` prints it)"
    )]
    DigestRequired(String),
    /// Pulling from the registry failed.
    #[error(transparent)]
    Oci(#[from] weft_oci::Error),
    /// The file is not one a component can be loaded from.
    #[error("will not load {path} for `{component}`: {reason}")]
    BadFile {
        /// The component.
        component: String,
        /// The file.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// The file could not be read.
    #[error("could not read {path} for `{component}`: {source}")]
    Read {
        /// The component.
        component: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The id runs here with another image.
    #[error(
        "component `{component}` already runs `{running}` here, not `{requested}`; stop it first or allow the update"
    )]
    OtherImage {
        /// The component.
        component: String,
        /// The image it runs.
        running: String,
        /// The image asked for.
        requested: String,
    },
    /// An update asked for a component that does not run here.
    #[error("component `{0}` is not running on this host; start it before updating it")]
    NotRunning(String),
    /// Compiling or starting failed.
    #[error(transparent)]
    Start(#[from] Error),
}

/// Where a running component came from and how it was asked for: the
/// inventory reports it, an update starts from it.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub(crate) image_ref: String,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) request: ScaleRequest,
}

/// A request to switch a running component to another image, keeping its
/// id, limits, config and links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRequest {
    /// The running component.
    pub component_id: String,
    /// The image to switch to.
    pub image_ref: String,
    /// New annotations, if they change.
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Host {
    /// Starts, resizes or stops `req.component_id`; returns when done.
    pub async fn scale(&self, req: ScaleRequest) -> Result<Scaled, ScaleError> {
        let id = req.component_id.clone();
        let running = self.deployment(&id);
        if req.max_instances == 0 {
            return Ok(if self.stop_component(&id) {
                Scaled::Stopped
            } else {
                Scaled::NotRunning
            });
        }
        if let (Some(deployment), Some(component)) = (&running, self.component(&id)) {
            if deployment.image_ref != req.image_ref {
                if !req.allow_update {
                    return Err(ScaleError::OtherImage {
                        component: id,
                        running: deployment.image_ref.clone(),
                        requested: req.image_ref,
                    });
                }
                // Start the new image before the old one goes, so the id
                // never has nothing behind it.
                let component = self.load_image(&req.image_ref, spec(&req)).await?;
                let component = self.install(component, true)?;
                self.remember_image(&req.image_ref, component.digest());
                self.record(&req);
                self.rebind();
                return Ok(Scaled::Rescaled);
            }
            component.set_max_concurrent(Some(req.max_instances));
            self.record(&req);
            return Ok(Scaled::Rescaled);
        }
        let component = self.load_image(&req.image_ref, spec(&req)).await?;
        let digest = component.digest().to_owned();
        let component = match self.install(component, false) {
            Ok(component) => component,
            // Two scale requests for the id raced here (a reconciler retry,
            // two clients): the other one started it first. With the same
            // code that is this request done; with other code, say so.
            Err(Error::AlreadyRunning(_)) => {
                let Some(running) = self.component(&id) else {
                    return Err(ScaleError::Start(Error::AlreadyRunning(id)));
                };
                if running.digest() != digest {
                    return Err(ScaleError::OtherImage {
                        component: id,
                        running: running.digest().to_owned(),
                        requested: req.image_ref,
                    });
                }
                running.set_max_concurrent(Some(req.max_instances));
                return Ok(Scaled::Rescaled);
            }
            Err(e) => return Err(e.into()),
        };
        self.remember_image(&req.image_ref, component.digest());
        self.record(&req);
        self.rebind();
        Ok(Scaled::Started)
    }

    /// Switches a running component to another image: the new one is
    /// compiled and started first, then takes the id (and its links,
    /// listeners and subscriptions); invocations running on the old one
    /// finish there. Returns the image it ran before.
    pub async fn update(&self, req: UpdateRequest) -> Result<String, ScaleError> {
        let Some(deployment) = self.deployment(&req.component_id) else {
            return Err(ScaleError::NotRunning(req.component_id));
        };
        let previous = deployment.image_ref.clone();
        let mut scale = deployment.request;
        scale.image_ref = req.image_ref;
        scale.allow_update = true;
        if let Some(annotations) = req.annotations {
            scale.annotations = annotations;
        }
        // The limit it runs under now, which a rescale may have changed.
        if let Some(max) = self
            .component(&req.component_id)
            .and_then(|c| c.max_concurrent())
        {
            scale.max_instances = max;
        }
        self.scale(scale).await?;
        Ok(previous)
    }

    /// Loads the component behind `image_ref`: a `file://` path (where
    /// allowed) or an OCI reference. An OCI image whose compiled code is in
    /// the compile cache starts from there without reading its bytes.
    async fn load_image(
        &self,
        image_ref: &str,
        spec: ComponentSpec,
    ) -> Result<Arc<Component>, ScaleError> {
        if let Some(path) = image_ref.strip_prefix("file://") {
            let wasm = self.read_file(&spec.id, image_ref, path).await?;
            return Ok(self.load(&wasm, spec).await?);
        }
        let Some(puller) = self.oci.clone() else {
            return Err(ScaleError::UnsupportedRef(image_ref.to_owned()));
        };
        if image_ref.contains("://") && !image_ref.starts_with("oci://") {
            return Err(ScaleError::UnsupportedRef(image_ref.to_owned()));
        }
        self.supply.check(image_ref)?;
        // A tag asks the registry every time (it may have moved); meanwhile
        // load what it pointed at last time, which it most likely still does.
        let (resolved, guess) = match self.known_digest(image_ref) {
            Some(known) => {
                let (resolved, guess) = tokio::join!(
                    puller.resolve(image_ref),
                    self.load_cached(&known, spec.clone())
                );
                (resolved?, guess.ok().flatten())
            }
            None => (puller.resolve(image_ref).await?, None),
        };
        let digest = resolved
            .component_digest
            .strip_prefix("sha256:")
            .unwrap_or(&resolved.component_digest)
            .to_owned();
        if let Some(component) = guess.filter(|c| c.digest() == digest) {
            return Ok(component);
        }
        if let Some(component) = self.load_cached(&digest, spec.clone()).await? {
            return Ok(component);
        }
        let wasm = puller.fetch(&resolved, &weft_oci::NoProgress).await;
        self.meters.pulled(wasm.is_ok());
        let wasm = wasm?;
        Ok(self.load(&wasm, spec).await?)
    }

    /// The bytes of a `file://` reference, if this host allows them.
    async fn read_file(
        &self,
        component: &str,
        image_ref: &str,
        path: &str,
    ) -> Result<Vec<u8>, ScaleError> {
        if !self.allow_file_refs {
            return Err(ScaleError::FileRefsDisabled(image_ref.to_owned()));
        }
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(ScaleError::UnsupportedRef(image_ref.to_owned()));
        }
        let read_err = |path: &PathBuf, source| ScaleError::Read {
            component: component.to_owned(),
            path: path.clone(),
            source,
        };
        let bad = |path: &PathBuf, reason: String| ScaleError::BadFile {
            component: component.to_owned(),
            path: path.clone(),
            reason,
        };
        // The path comes from the lattice: only a regular file, and no
        // larger than a component from a registry may be (`/dev/zero`, a
        // FIFO or a huge file would hold the host). Checked before opening
        // (opening a FIFO waits for a writer) and again on what was opened.
        let limit = self
            .oci
            .as_ref()
            .map_or(weft_oci::DEFAULT_MAX_SIZE, |o| o.max_size());
        let check = |meta: &std::fs::Metadata| {
            if !meta.is_file() {
                return Err(bad(&path, "it is not a regular file".into()));
            }
            if meta.len() > limit {
                return Err(bad(
                    &path,
                    format!(
                        "it is {} bytes, over the limit of {limit} bytes (--max-component-size)",
                        meta.len()
                    ),
                ));
            }
            Ok(())
        };
        check(
            &tokio::fs::metadata(&path)
                .await
                .map_err(|e| read_err(&path, e))?,
        )?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| read_err(&path, e))?;
        check(&file.metadata().await.map_err(|e| read_err(&path, e))?)?;
        let mut wasm = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(
            &mut tokio::io::AsyncReadExt::take(file, limit.saturating_add(1)),
            &mut wasm,
        )
        .await
        .map_err(|e| read_err(&path, e))?;
        if wasm.len() as u64 > limit {
            return Err(bad(
                &path,
                format!("it grew past the limit of {limit} bytes while read"),
            ));
        }
        Ok(wasm)
    }

    fn record(&self, req: &ScaleRequest) {
        self.placed_mut().deployments.insert(
            req.component_id.clone(),
            Deployment {
                image_ref: req.image_ref.clone(),
                annotations: req.annotations.clone(),
                request: req.clone(),
            },
        );
    }
}

fn spec(req: &ScaleRequest) -> ComponentSpec {
    let defaults = Limits::default();
    ComponentSpec {
        limits: Limits {
            max_memory: req.max_memory.unwrap_or(defaults.max_memory),
            timeout: req.timeout.unwrap_or(defaults.timeout),
            max_concurrent: Some(req.max_instances),
            ..defaults
        },
        config: Config::new(req.config.clone()),
        ..ComponentSpec::new(&req.component_id)
    }
}
