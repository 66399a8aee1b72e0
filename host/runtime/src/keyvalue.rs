//! `wasi:keyvalue@0.2.0-draft` (store, atomics, batch) for guests, delegating
//! to an `Arc<dyn capability::keyvalue::KeyValue>`.

use crate::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::links::Routing;
use std::sync::Arc;
use wasmtime::component::{Resource, ResourceTable};
use weft_capability::keyvalue::{self as cap, KeyValue, bucket_name};

/// What a store lends the keyvalue host functions for one call.
pub struct View<'a> {
    /// Where the component's links point (keyvalue goes to the provider of
    /// the link picked for `wasi:keyvalue/store`, `default` unless the guest
    /// chose another).
    pub routing: &'a Routing,
    /// The store's resource table, holding open buckets.
    pub table: &'a mut ResourceTable,
}

/// The interface whose link picks the keyvalue backend: buckets are opened
/// there, and atomics and batch work on the buckets.
const STORE: &str = "wasi:keyvalue/store";

/// An open bucket: its name and the backend it was opened on, so that a link
/// swap affects only buckets opened afterwards.
pub struct Bucket {
    name: String,
    backend: Arc<dyn KeyValue>,
}

/// The result of a keyvalue host call that did not succeed: either an error
/// the guest sees as `wasi:keyvalue/store.error`, or a trap.
#[derive(Debug)]
pub enum Failure {
    /// Returned to the guest.
    Guest(store::Error),
    /// Traps the guest (a broken host invariant, e.g. a bad handle).
    Trap(wasmtime::Error),
}

impl From<cap::Error> for Failure {
    fn from(e: cap::Error) -> Self {
        let guest = match e {
            cap::Error::NoSuchStore(_) => store::Error::NoSuchStore,
            cap::Error::AccessDenied => store::Error::AccessDenied,
            cap::Error::Other(m) => store::Error::Other(m),
            e @ cap::Error::Backend { .. } => {
                tracing::warn!(error = ?e, "keyvalue backend failed");
                store::Error::Other(error_chain(&e))
            }
        };
        Self::Guest(guest)
    }
}

impl From<wasmtime::component::ResourceTableError> for Failure {
    fn from(e: wasmtime::component::ResourceTableError) -> Self {
        Self::Trap(e.into())
    }
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let causes = std::iter::successors(Some(e), |e| e.source());
    causes
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

crate::linker::package_linker!(
    "Adds `wasi:keyvalue/{store,atomics,batch}` to `linker`.",
    store,
    atomics,
    batch,
);

impl View<'_> {
    fn bucket(&self, b: &Resource<Bucket>) -> Result<(String, Arc<dyn KeyValue>), Failure> {
        let bucket = self.table.get(b)?;
        Ok((bucket.name.clone(), bucket.backend.clone()))
    }
}

impl store::Host for View<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, Failure> {
        let Some(backend) = self.routing.targets(STORE).and_then(|t| t.keyvalue.clone()) else {
            return Err(Failure::Guest(store::Error::Other(
                self.routing.unlinked(STORE, "a keyvalue provider"),
            )));
        };
        let name = bucket_name(&identifier).to_owned();
        backend.open(&name).await?;
        Ok(self.table.push(Bucket { name, backend })?)
    }

    fn convert_error(&mut self, err: Failure) -> wasmtime::Result<store::Error> {
        match err {
            Failure::Guest(e) => Ok(e),
            Failure::Trap(e) => Err(e),
        }
    }
}

impl store::HostBucket for View<'_> {
    async fn get(&mut self, b: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, Failure> {
        let (name, kv) = self.bucket(&b)?;
        Ok(kv.get(&name, &key).await?)
    }

    async fn set(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Failure> {
        let (name, kv) = self.bucket(&b)?;
        Ok(kv.set(&name, &key, value).await?)
    }

    async fn delete(&mut self, b: Resource<Bucket>, key: String) -> Result<(), Failure> {
        let (name, kv) = self.bucket(&b)?;
        Ok(kv.delete(&name, &key).await?)
    }

    async fn exists(&mut self, b: Resource<Bucket>, key: String) -> Result<bool, Failure> {
        let (name, kv) = self.bucket(&b)?;
        Ok(kv.exists(&name, &key).await?)
    }

    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, Failure> {
        let (name, kv) = self.bucket(&b)?;
        let page = kv.list_keys(&name, cursor).await?;
        Ok(store::KeyResponse {
            keys: page.keys,
            cursor: page.cursor,
        })
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for View<'_> {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, Failure> {
        let (name, kv) = self.bucket(&b)?;
        Ok(kv.increment(&name, &key, delta).await?)
    }
}

impl batch::Host for View<'_> {
    async fn get_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, Failure> {
        let (name, kv) = self.bucket(&b)?;
        Ok(kv.get_many(&name, keys).await?)
    }

    async fn set_many(
        &mut self,
        b: Resource<Bucket>,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> Result<(), Failure> {
        let (name, kv) = self.bucket(&b)?;
        Ok(kv.set_many(&name, pairs).await?)
    }

    async fn delete_many(&mut self, b: Resource<Bucket>, keys: Vec<String>) -> Result<(), Failure> {
        let (name, kv) = self.bucket(&b)?;
        Ok(kv.delete_many(&name, keys).await?)
    }
}
