//! What runs on a host and how it is wired, in one place: the components,
//! where each came from, the provider instances and the lattice's links.
//! They sit under one lock, so a change to one is seen with the others
//! (a component stopped is gone with its deployment; a rebind reads links
//! and deployments of one moment). The lock is never held across an await.

use crate::LinkBinding;
use crate::providers::RunningProvider;
use crate::scale::Deployment;
use std::collections::HashMap;
use std::sync::Arc;
use weft_runtime::Component;

/// The host's placed parts.
#[derive(Default)]
pub(crate) struct Placed {
    /// Running components, by id.
    pub(crate) components: HashMap<String, Arc<Component>>,
    /// Where components started by `scale` came from, by id.
    pub(crate) deployments: HashMap<String, Deployment>,
    /// Running provider instances, by id.
    pub(crate) providers: HashMap<String, RunningProvider>,
    /// The lattice's links, as last set.
    pub(crate) links: Vec<LinkBinding>,
}
