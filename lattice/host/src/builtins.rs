//! The registry of builtin provider kinds: each [`Builtin`] and the type
//! that implements it, in one exhaustive `match`. `weft host`, `weft run`,
//! the tests and the benches all start providers from here.

use std::sync::Arc;
use weft_capability::builtin::Builtin;
use weft_capability::messaging::Reserved;
use weft_capability::provider::{InMemoryKeyValueKind, ProviderKind};
use weft_host::HostBuilder;
use weft_http_client::HttpClientKind;
use weft_http_server::HttpServerKind;
use weft_keyvalue_nats::NatsKeyValueKind;
use weft_keyvalue_redis::RedisKeyValueKind;
use weft_messaging_nats::NatsMessagingKind;

/// What the builtin kinds need from the host that runs them.
#[derive(Debug, Clone, Default)]
pub struct Builtins {
    /// Where `builtin:messaging-nats` connects when its config has no
    /// `url`: the apps' NATS account, kept apart from the lattice's. `None`
    /// leaves every instance to name its own `url`.
    pub messaging_url: Option<String>,
    /// Subjects components' messaging may never use (the lattice's).
    pub reserved: Reserved,
}

impl Builtins {
    /// The implementation of `kind`.
    pub fn kind(&self, kind: Builtin) -> Arc<dyn ProviderKind> {
        match kind {
            Builtin::KeyValueMemory => Arc::new(InMemoryKeyValueKind),
            Builtin::KeyValueRedis => Arc::new(RedisKeyValueKind),
            Builtin::KeyValueNats => Arc::new(NatsKeyValueKind),
            Builtin::MessagingNats => Arc::new(
                NatsMessagingKind::new(self.messaging_url.clone())
                    .with_reserved(self.reserved.clone()),
            ),
            Builtin::HttpServer => Arc::new(HttpServerKind),
            Builtin::HttpClient => Arc::new(HttpClientKind),
        }
    }

    /// `builder` with every builtin kind registered under its reference.
    pub fn register(&self, builder: HostBuilder) -> HostBuilder {
        Builtin::ALL.into_iter().fold(builder, |b, kind| {
            b.with_provider_kind(kind.reference(), self.kind(kind))
        })
    }
}
