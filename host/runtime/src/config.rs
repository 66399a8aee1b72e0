//! `wasi:config@0.2.0-draft` for guests, both interface names it was
//! published with (`runtime`, used by wasmCloud components, and `store`).

use crate::bindings::wasi::config::{runtime, store};

use weft_capability::config::Config;

/// Per-store config state: the component's configuration.
#[derive(Clone, Default)]
pub struct Ctx {
    config: Config,
}

impl Ctx {
    /// State serving `config`.
    pub fn new(config: Config) -> Self {
        Self { config }
    }
}

/// What a store lends the config host functions.
pub struct View<'a> {
    /// The config state.
    pub ctx: &'a Ctx,
}

crate::linker::package_linker!(
    "Adds `wasi:config/runtime` and `wasi:config/store` to `linker`.",
    runtime,
    store,
);

impl View<'_> {
    fn all(&self) -> Vec<(String, String)> {
        self.ctx
            .config
            .all()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

impl runtime::Host for View<'_> {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, runtime::ConfigError>> {
        Ok(Ok(self.ctx.config.get(&key).map(str::to_owned)))
    }

    async fn get_all(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, runtime::ConfigError>> {
        Ok(Ok(self.all()))
    }
}

impl store::Host for View<'_> {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, store::Error>> {
        Ok(Ok(self.ctx.config.get(&key).map(str::to_owned)))
    }

    async fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, store::Error>> {
        Ok(Ok(self.all()))
    }
}
