//! Control and event subjects: the only place they are built or parsed.
//!
//! Control subjects are `{prefix}.v1.{lattice}.{topic}.{op}[.{target}]`
//! (prefix `wasmbus.ctl` by default); events go to
//! `wasmbus.evt.{lattice}.{event}`; calls between components on different
//! hosts to `wasmbus.rpc.{lattice}.{component}`.

use crate::validate::{self, Invalid};

/// The default control-subject prefix, as wasmCloud uses it.
pub const DEFAULT_PREFIX: &str = "wasmbus.ctl";
/// The default lattice name.
pub const DEFAULT_LATTICE: &str = "default";
/// The protocol version token that follows the prefix.
const VERSION: &str = "v1";

/// One control operation, with the subject token that names its target
/// (a host id or a config name) where the protocol has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `component.auction`: every qualifying host answers.
    ComponentAuction,
    /// `provider.auction`: every qualifying host answers.
    ProviderAuction,
    /// `component.scale.{host}`.
    ComponentScale {
        /// The host asked to scale.
        host: String,
    },
    /// `component.update.{host}`.
    ComponentUpdate {
        /// The host asked to update.
        host: String,
    },
    /// `provider.start.{host}`.
    ProviderStart {
        /// The host asked to start the provider.
        host: String,
    },
    /// `provider.stop.{host}`.
    ProviderStop {
        /// The host asked to stop the provider.
        host: String,
    },
    /// `host.get.{host}`: the host's inventory.
    HostGet {
        /// The host asked.
        host: String,
    },
    /// `host.ping`: every host answers.
    HostPing,
    /// `host.stop.{host}`.
    HostStop {
        /// The host asked to stop.
        host: String,
    },
    /// `label.put.{host}`.
    LabelPut {
        /// The host whose labels change.
        host: String,
    },
    /// `label.del.{host}`.
    LabelDel {
        /// The host whose labels change.
        host: String,
    },
    /// `link.put` (queue group: one host answers).
    LinkPut,
    /// `link.del` (queue group).
    LinkDel,
    /// `link.get` (queue group).
    LinkGet,
    /// `config.put.{name}` (queue group).
    ConfigPut {
        /// The config's name.
        name: String,
    },
    /// `config.get.{name}` (queue group).
    ConfigGet {
        /// The config's name.
        name: String,
    },
    /// `config.del.{name}` (queue group).
    ConfigDel {
        /// The config's name.
        name: String,
    },
    /// `claims.get` (queue group).
    ClaimsGet,
    /// `registry.put` (fire and forget, every host).
    RegistryPut,
}

impl Operation {
    /// The operation's name, `topic.op` (`component.scale`), for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ComponentAuction => "component.auction",
            Self::ProviderAuction => "provider.auction",
            Self::ComponentScale { .. } => "component.scale",
            Self::ComponentUpdate { .. } => "component.update",
            Self::ProviderStart { .. } => "provider.start",
            Self::ProviderStop { .. } => "provider.stop",
            Self::HostGet { .. } => "host.get",
            Self::HostPing => "host.ping",
            Self::HostStop { .. } => "host.stop",
            Self::LabelPut { .. } => "label.put",
            Self::LabelDel { .. } => "label.del",
            Self::LinkPut => "link.put",
            Self::LinkDel => "link.del",
            Self::LinkGet => "link.get",
            Self::ConfigPut { .. } => "config.put",
            Self::ConfigGet { .. } => "config.get",
            Self::ConfigDel { .. } => "config.del",
            Self::ClaimsGet => "claims.get",
            Self::RegistryPut => "registry.put",
        }
    }

    /// The host the operation is addressed to, for those sent to one host.
    pub fn host(&self) -> Option<&str> {
        match self {
            Self::ComponentScale { host }
            | Self::ComponentUpdate { host }
            | Self::ProviderStart { host }
            | Self::ProviderStop { host }
            | Self::HostGet { host }
            | Self::HostStop { host }
            | Self::LabelPut { host }
            | Self::LabelDel { host } => Some(host),
            _ => None,
        }
    }

    /// The subject token naming the operation's target, if it has one.
    pub fn target(&self) -> Option<&str> {
        match self {
            Self::ConfigPut { name } | Self::ConfigGet { name } | Self::ConfigDel { name } => {
                Some(name)
            }
            _ => self.host(),
        }
    }

    /// The `topic.op[.target]` tail of the subject.
    fn tail(&self) -> String {
        match self.target() {
            Some(target) => format!("{}.{target}", self.name()),
            None => self.name().to_owned(),
        }
    }

    /// Parses the tokens after `{prefix}.v1.{lattice}`; `None` if the
    /// protocol has no such subject.
    fn parse(tokens: &[&str]) -> Option<Self> {
        let target = |t: &str| t.to_owned();
        Some(match tokens {
            ["component", "auction"] => Self::ComponentAuction,
            ["provider", "auction"] => Self::ProviderAuction,
            ["component", "scale", h] => Self::ComponentScale { host: target(h) },
            ["component", "update", h] => Self::ComponentUpdate { host: target(h) },
            ["provider", "start", h] => Self::ProviderStart { host: target(h) },
            ["provider", "stop", h] => Self::ProviderStop { host: target(h) },
            ["host", "get", h] => Self::HostGet { host: target(h) },
            ["host", "ping"] => Self::HostPing,
            ["host", "stop", h] => Self::HostStop { host: target(h) },
            ["label", "put", h] => Self::LabelPut { host: target(h) },
            ["label", "del", h] => Self::LabelDel { host: target(h) },
            ["link", "put"] => Self::LinkPut,
            ["link", "del"] => Self::LinkDel,
            ["link", "get"] => Self::LinkGet,
            ["config", "put", n] => Self::ConfigPut { name: target(n) },
            ["config", "get", n] => Self::ConfigGet { name: target(n) },
            ["config", "del", n] => Self::ConfigDel { name: target(n) },
            ["claims", "get"] => Self::ClaimsGet,
            ["registry", "put"] => Self::RegistryPut,
            _ => return None,
        })
    }

    /// Whether one host of a queue group answers (rather than every host or
    /// the host named in the subject).
    pub fn is_queued(&self) -> bool {
        matches!(
            self,
            Self::LinkPut
                | Self::LinkDel
                | Self::LinkGet
                | Self::ConfigPut { .. }
                | Self::ConfigGet { .. }
                | Self::ConfigDel { .. }
                | Self::ClaimsGet
        )
    }
}

/// What a control subject was, once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A subject of the protocol.
    Operation(Operation),
    /// Under this lattice's prefix, but not a subject the protocol defines:
    /// answer `{"success":false,"message":"unsupported subject"}`.
    Unsupported,
}

/// Builds and parses the subjects of one lattice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    /// `{prefix}.v1.{lattice}`.
    root: String,
    lattice: String,
}

impl Subjects {
    /// The subjects of `lattice` under `prefix` (e.g. `wasmbus.ctl`).
    ///
    /// The lattice name becomes a subject token, so it must be one; the
    /// prefix may have several tokens.
    pub fn new(prefix: &str, lattice: &str) -> Result<Self, Invalid> {
        validate::token("lattice", lattice)?;
        if prefix.is_empty() {
            return Err(Invalid::new("ctl prefix", "must not be empty"));
        }
        for part in prefix.split('.') {
            validate::token("ctl prefix", part)?;
        }
        Ok(Self {
            root: format!("{prefix}.{VERSION}.{lattice}"),
            lattice: lattice.to_owned(),
        })
    }

    /// The lattice these subjects belong to.
    pub fn lattice(&self) -> &str {
        &self.lattice
    }

    /// The control prefix they were made with (`wasmbus.ctl` by default).
    pub fn prefix(&self) -> &str {
        let tail = self.lattice.len() + VERSION.len() + 2;
        &self.root[..self.root.len() - tail]
    }

    /// The subject for `op`.
    pub fn subject(&self, op: &Operation) -> String {
        format!("{}.{}", self.root, op.tail())
    }

    /// The wildcard a host subscribes to for everything of this lattice.
    pub fn wildcard(&self) -> String {
        format!("{}.>", self.root)
    }

    /// Parses a subject received under [`Self::wildcard`]; `None` if it is
    /// not under this lattice's root at all.
    pub fn parse(&self, subject: &str) -> Option<Parsed> {
        let rest = subject.strip_prefix(&self.root)?.strip_prefix('.')?;
        let tokens: Vec<&str> = rest.split('.').collect();
        Some(match Operation::parse(&tokens) {
            Some(op) => Parsed::Operation(op),
            None => Parsed::Unsupported,
        })
    }

    /// The subject an event called `name` (e.g. `host_heartbeat`) goes to.
    pub fn event(&self, name: &str) -> String {
        format!("wasmbus.evt.{}.{name}", self.lattice)
    }

    /// The subject calls to component `component` go to (see [`crate::rpc`]).
    pub fn rpc(&self, component: &str) -> String {
        format!("wasmbus.rpc.{}.{component}", self.lattice)
    }

    /// Where hosts send copies of what component `component` sends, while a
    /// spy watches it (see [`crate::spy`]).
    pub fn spy(&self, component: &str) -> String {
        format!("wasmbus.spy.{}.{component}", self.lattice)
    }

    /// Where a spy asks every host to watch a component.
    pub fn spy_requests(&self) -> String {
        format!("wasmbus.spyctl.{}", self.lattice)
    }

    /// The wildcard for every event of this lattice.
    pub fn events(&self) -> String {
        format!("wasmbus.evt.{}.>", self.lattice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects() -> Subjects {
        Subjects::new(DEFAULT_PREFIX, DEFAULT_LATTICE).unwrap()
    }

    #[test]
    fn the_prefix_comes_back_as_given() {
        assert_eq!(subjects().prefix(), DEFAULT_PREFIX);
        let custom = Subjects::new("acme.ctl", "prod").unwrap();
        assert_eq!(custom.prefix(), "acme.ctl");
    }

    #[test]
    fn every_operation_round_trips_through_its_subject() {
        let s = subjects();
        let h = || "NHOST".to_string();
        let n = || "listen-8080".to_string();
        for op in [
            Operation::ComponentAuction,
            Operation::ProviderAuction,
            Operation::ComponentScale { host: h() },
            Operation::ComponentUpdate { host: h() },
            Operation::ProviderStart { host: h() },
            Operation::ProviderStop { host: h() },
            Operation::HostGet { host: h() },
            Operation::HostPing,
            Operation::HostStop { host: h() },
            Operation::LabelPut { host: h() },
            Operation::LabelDel { host: h() },
            Operation::LinkPut,
            Operation::LinkDel,
            Operation::LinkGet,
            Operation::ConfigPut { name: n() },
            Operation::ConfigGet { name: n() },
            Operation::ConfigDel { name: n() },
            Operation::ClaimsGet,
            Operation::RegistryPut,
        ] {
            let subject = s.subject(&op);
            assert_eq!(s.parse(&subject), Some(Parsed::Operation(op)), "{subject}");
        }
    }

    #[test]
    fn subjects_have_the_documented_shape() {
        let s = subjects();
        assert_eq!(
            s.subject(&Operation::ComponentScale { host: "N1".into() }),
            "wasmbus.ctl.v1.default.component.scale.N1"
        );
        assert_eq!(s.wildcard(), "wasmbus.ctl.v1.default.>");
        assert_eq!(s.rpc("greeter"), "wasmbus.rpc.default.greeter");
        assert_eq!(
            s.event("host_heartbeat"),
            "wasmbus.evt.default.host_heartbeat"
        );
    }

    #[test]
    fn unknown_and_foreign_subjects_are_told_apart() {
        let s = subjects();
        assert_eq!(
            s.parse("wasmbus.ctl.v1.default.component.explode"),
            Some(Parsed::Unsupported)
        );
        assert_eq!(
            s.parse("wasmbus.ctl.v1.default.host.get"),
            Some(Parsed::Unsupported),
            "missing host token"
        );
        assert_eq!(
            s.parse("wasmbus.ctl.v1.default.host.ping.extra"),
            Some(Parsed::Unsupported)
        );
        assert_eq!(s.parse("wasmbus.ctl.v1.other.host.ping"), None);
        assert_eq!(s.parse("wasmbus.ctl.v1.defaultx.host.ping"), None);
    }

    #[test]
    fn lattice_and_prefix_must_be_subject_tokens() {
        assert!(Subjects::new("wasmbus.ctl", "a.b").is_err());
        assert!(Subjects::new("wasmbus.ctl", "").is_err());
        assert!(Subjects::new("wasmbus..ctl", "x").is_err());
        assert!(Subjects::new("", "x").is_err());
        assert!(Subjects::new("my.ctl", "prod-eu").is_ok());
    }

    #[test]
    fn queued_operations_are_the_lattice_wide_ones() {
        assert!(Operation::LinkPut.is_queued());
        assert!(Operation::ConfigGet { name: "c".into() }.is_queued());
        assert!(!Operation::HostPing.is_queued());
        assert!(!Operation::ComponentScale { host: "h".into() }.is_queued());
    }
}
