//! Connecting to NATS with the credentials a deployment uses.

use async_nats::{Client, ConnectOptions};
use std::path::PathBuf;
use std::time::Duration;

/// How to authenticate to NATS; at most one way.
#[derive(Debug, Clone, Default)]
pub enum NatsAuth {
    /// No credentials.
    #[default]
    None,
    /// User name and password.
    UserPassword {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// A bearer token.
    Token(String),
    /// An nkey seed (`SU…`).
    NkeySeed(String),
    /// A `.creds` file (JWT and seed).
    CredsFile(PathBuf),
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The creds file could not be read.
    #[error("could not read the NATS credentials file {path}: {source}")]
    CredsFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file could not be read.
    #[error("could not read the CA certificates file {path} (--nats-ca): {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The server could not be reached or refused us.
    #[error(
        "could not connect to NATS at {url}: {source}; is nats-server running there (`nats-server -js`), and are the credentials right?"
    )]
    Connect {
        /// The URL tried.
        url: String,
        /// What the client said.
        source: async_nats::ConnectError,
    },
}

/// Which side of the lattice a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// The lattice itself: control, events, state, calls between hosts.
    /// Its reply inboxes start with
    /// [`weft_capability::messaging::LATTICE_INBOX_PREFIX`], which
    /// components can never reach.
    Control,
    /// What components send and receive (`weft msg`): plain `_INBOX.`
    /// replies, which components may answer.
    Data,
}

/// Connects to `url` (`nats://`, or `tls://` for TLS; several servers of
/// one cluster separated by commas) as `name` for `plane`, trusting the certificates in `ca` (PEM) besides the system's.
///
/// The first connection must succeed within `timeout`, so a wrong URL is
/// reported at once; after that the client reconnects without limit and
/// re-subscribes, to any server of the list (or one the cluster
/// announced), so a restarted or lost nats-server is survived.
pub async fn connect_to(
    plane: Plane,
    url: &str,
    auth: &NatsAuth,
    ca: Option<&std::path::Path>,
    name: &str,
    timeout: Duration,
) -> Result<Client, ConnectError> {
    let servers: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(ca) = ca
        && let Err(source) = std::fs::metadata(ca)
    {
        return Err(ConnectError::CaFile {
            path: ca.to_owned(),
            source,
        });
    }
    // Credentials in the URL (nats://user:password@host) count when no
    // others are given: the client would ignore them.
    let from_url = match auth {
        NatsAuth::None => {
            weft_capability::provider::url_credentials(url).map(|(user, password)| match password {
                Some(password) => NatsAuth::UserPassword { user, password },
                None => NatsAuth::Token(user),
            })
        }
        _ => None,
    };
    let auth = from_url.as_ref().unwrap_or(auth);
    let mut options =
        match auth {
            NatsAuth::None => ConnectOptions::new(),
            NatsAuth::UserPassword { user, password } => {
                ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            NatsAuth::Token(token) => ConnectOptions::with_token(token.clone()),
            NatsAuth::NkeySeed(seed) => ConnectOptions::with_nkey(seed.clone()),
            NatsAuth::CredsFile(path) => ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|source| ConnectError::CredsFile {
                    path: path.clone(),
                    source,
                })?,
        };
    if let Some(ca) = ca {
        options = options.add_root_certificates(ca.to_owned());
    }
    if plane == Plane::Control {
        options = options.custom_inbox_prefix(weft_capability::messaging::LATTICE_INBOX_PREFIX);
    }
    options
        .name(name)
        .connection_timeout(timeout)
        .max_reconnects(None)
        .require_tls(servers.iter().any(|s| s.starts_with("tls://")) || ca.is_some())
        .connect(servers)
        .await
        .map_err(|source| ConnectError::Connect {
            url: weft_capability::provider::redacted(url),
            source,
        })
}
