//! The flags every lattice command shares: where NATS is, how to log in,
//! which lattice, and how to print results.

use crate::units::parse_duration;
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use weft_jetstream::bucket::Placement;
use weft_lattice_client::LatticeClient;
use weft_lattice_nats::{NatsAuth, Plane, connect_to};
use weft_lattice_protocol::Subjects;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables and sentences for people.
    Text,
    /// The protocol's JSON, for scripts.
    Json,
}

/// Connection flags for lattice commands.
#[derive(Debug, Args)]
#[command(next_help_heading = "Lattice")]
pub struct LatticeArgs {
    /// The NATS server (`nats://` or `tls://`); several servers of one
    /// cluster separated by commas: the client connects to one of them and
    /// moves to another (or to one the cluster announced) when it is lost.
    #[arg(
        long,
        env = "WEFT_NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        value_name = "URL",
        global = true
    )]
    pub nats: String,

    /// The lattice; hosts of one lattice see each other.
    #[arg(
        long,
        env = "WEFT_LATTICE",
        default_value = "default",
        value_name = "NAME",
        global = true
    )]
    pub lattice: String,

    /// The control-subject prefix.
    #[arg(
        long,
        default_value = "wasmbus.ctl",
        value_name = "PREFIX",
        global = true
    )]
    pub ctl_prefix: String,

    /// NATS user (with --nats-password).
    #[arg(
        long,
        env = "WEFT_NATS_USER",
        requires = "nats_password",
        value_name = "USER",
        global = true
    )]
    pub nats_user: Option<String>,

    /// NATS password (with --nats-user).
    #[arg(
        long,
        env = "WEFT_NATS_PASSWORD",
        requires = "nats_user",
        hide_env_values = true,
        global = true
    )]
    pub nats_password: Option<String>,

    /// NATS token.
    #[arg(long, env = "WEFT_NATS_TOKEN", conflicts_with_all = ["nats_user", "nats_nkey", "nats_creds"], hide_env_values = true, global = true)]
    pub nats_token: Option<String>,

    /// NATS nkey seed (`SU…`).
    #[arg(long, env = "WEFT_NATS_NKEY", conflicts_with_all = ["nats_user", "nats_creds"], hide_env_values = true, value_name = "SEED", global = true)]
    pub nats_nkey: Option<String>,

    /// NATS credentials file (JWT + seed).
    #[arg(
        long,
        env = "WEFT_NATS_CREDS",
        conflicts_with = "nats_user",
        value_name = "FILE",
        global = true
    )]
    pub nats_creds: Option<PathBuf>,

    /// CA certificates (PEM) to trust for the NATS server's TLS
    /// certificate, besides the system's (implies TLS).
    #[arg(long, env = "WEFT_NATS_CA", value_name = "FILE", global = true)]
    pub nats_ca: Option<PathBuf>,

    /// The JetStream domain holding the lattice's state, when it is not
    /// the one of the server connected to: a host on a leaf node names its
    /// hub's domain (`jetstream { domain: hub }` there).
    #[arg(long, env = "WEFT_JS_DOMAIN", value_name = "DOMAIN", global = true)]
    pub js_domain: Option<String>,

    /// Copies of each lattice bucket when it is first created: 3 in a
    /// JetStream cluster of 3 or more servers, so losing one loses nothing.
    #[arg(long, env = "WEFT_JS_REPLICAS", default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u8).range(1..=5), global = true)]
    pub js_replicas: u8,

    /// How long to wait for NATS, and for each answer.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse_duration, global = true)]
    pub timeout: Duration,

    /// How to print results.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text, global = true)]
    pub output: Output,
}

impl LatticeArgs {
    /// The credentials the flags name.
    pub fn auth(&self) -> NatsAuth {
        if let (Some(user), Some(password)) = (&self.nats_user, &self.nats_password) {
            return NatsAuth::UserPassword {
                user: user.clone(),
                password: password.clone(),
            };
        }
        if let Some(token) = &self.nats_token {
            return NatsAuth::Token(token.clone());
        }
        if let Some(seed) = &self.nats_nkey {
            return NatsAuth::NkeySeed(seed.clone());
        }
        if let Some(path) = &self.nats_creds {
            return NatsAuth::CredsFile(path.clone());
        }
        NatsAuth::None
    }

    /// Where the lattice's buckets live (`--js-domain`, `--js-replicas`).
    pub fn placement(&self) -> Placement {
        Placement {
            domain: self.js_domain.clone(),
            replicas: usize::from(self.js_replicas),
        }
    }

    /// The lattice's subjects.
    pub fn subjects(&self) -> anyhow::Result<Subjects> {
        Subjects::new(&self.ctl_prefix, &self.lattice).context("check --lattice and --ctl-prefix")
    }

    /// Connects to NATS as `name`, for the lattice's control plane.
    pub async fn connect(&self, name: &str) -> anyhow::Result<async_nats::Client> {
        self.connect_to(Plane::Control, name).await
    }

    /// Connects to NATS as `name`, for `plane`.
    pub async fn connect_to(&self, plane: Plane, name: &str) -> anyhow::Result<async_nats::Client> {
        Ok(connect_to(
            plane,
            &self.nats,
            &self.auth(),
            self.nats_ca.as_deref(),
            name,
            self.timeout,
        )
        .await?)
    }

    /// A control-protocol client of the lattice.
    pub async fn client(&self) -> anyhow::Result<LatticeClient> {
        let subjects = self.subjects()?;
        let nats = self.connect("weft").await?;
        Ok(LatticeClient::new(nats, subjects).with_timeout(self.timeout))
    }
}

/// Where components' messaging runs, for commands that speak to them
/// (`weft msg`, `weft spy --component`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Lattice")]
pub struct AppsNatsArgs {
    /// The NATS account components' messaging runs in, kept apart from the
    /// lattice's, as a URL with its credentials
    /// (nats://apps:PASSWORD@host:4222). `weft host`: where
    /// `builtin:messaging-nats` connects unless its config says `url`
    /// (default: --nats, one account; the provider still refuses the
    /// lattice's subjects, docs/security.md). `weft msg`, `weft spy`:
    /// default the account `weft up` started at --nats, else --nats.
    #[arg(
        long,
        env = "WEFT_APPS_NATS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub apps_nats: Option<String>,
}

impl AppsNatsArgs {
    /// Connects as `name` where components' messages are: the data plane,
    /// with an inbox components may answer.
    pub async fn connect(
        &self,
        lattice: &LatticeArgs,
        name: &str,
    ) -> anyhow::Result<async_nats::Client> {
        let apps = self
            .apps_nats
            .clone()
            .or_else(|| crate::up::apps_url(&lattice.nats));
        match apps {
            Some(url) => connect_to(
                Plane::Data,
                &url,
                &NatsAuth::None,
                lattice.nats_ca.as_deref(),
                name,
                lattice.timeout,
            )
            .await
            .context("could not connect to the apps' NATS account (--apps-nats)"),
            None => lattice.connect_to(Plane::Data, name).await,
        }
    }
}
