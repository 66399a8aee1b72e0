//! Registry credentials, by registry host, from (first match wins):
//! credentials put at run time (`registry.put` on the lattice), those a
//! host or command was given for a registry (`--registry-auth HOST=…`),
//! and the Docker `config.json` (`docker login`). Anonymous otherwise:
//! there are no credentials "for every registry", since whoever can name
//! an image would collect them.

use base64::Engine as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    Anonymous,
    /// HTTP basic: user and password.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A bearer token.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    /// Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { user, .. } => write!(f, "Basic({user}, …)"),
            Self::Bearer(_) => f.write_str("Bearer(…)"),
        }
    }
}

impl Auth {
    /// From the parts a flag, env or `registry.put` gives: a token wins; a
    /// user needs a password.
    pub fn from_parts(
        user: Option<String>,
        password: Option<String>,
        token: Option<String>,
    ) -> Self {
        match (token, user, password) {
            (Some(token), _, _) if !token.is_empty() => Self::Bearer(token),
            (_, Some(user), Some(password)) if !user.is_empty() => Self::Basic { user, password },
            _ => Self::Anonymous,
        }
    }
}

/// A registry name as credentials are kept under: lower case, and Docker
/// Hub's names (`docker.io`, `registry-1.docker.io`) as references resolve
/// them (`index.docker.io`).
fn normalized(registry: &str) -> String {
    let registry = registry.trim().to_ascii_lowercase();
    match registry.as_str() {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".to_owned(),
        _ => registry,
    }
}

/// Where `docker login` keeps credentials: `$DOCKER_CONFIG/config.json`, or
/// `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// The credentials a host or command uses, per registry.
#[derive(Debug, Default)]
pub struct Credentials {
    /// Put at run time (`registry.put`): they win.
    put: RwLock<HashMap<String, Auth>>,
    /// Given for a registry (flags, environment).
    given: HashMap<String, Auth>,
    /// From the Docker config, read once.
    docker: HashMap<String, Auth>,
}

impl Credentials {
    /// No credentials: every registry anonymously.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `auth` for `registry` (`host[:port]`, as references name it),
    /// and for no other.
    pub fn with_registry(mut self, registry: impl Into<String>, auth: Auth) -> Self {
        self.given.insert(normalized(&registry.into()), auth);
        self
    }

    /// Reads the `auths` of a Docker `config.json` (missing file: nothing;
    /// credential helpers are not run). Malformed entries are skipped with
    /// a warning.
    pub fn with_docker_config(mut self, path: &Path) -> Self {
        let Ok(text) = std::fs::read_to_string(path) else {
            return self;
        };
        match parse_docker_config(&text) {
            Ok(auths) => self.docker = auths,
            Err(e) => tracing::warn!(path = %path.display(), "ignoring the Docker config: {e}"),
        }
        self
    }

    /// Sets the credentials for `registry` from now on.
    pub fn put(&self, registry: &str, auth: Auth) {
        self.put
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(normalized(registry), auth);
    }

    /// The credentials to use with `registry` (`host[:port]`).
    pub fn for_registry(&self, registry: &str) -> Auth {
        let registry = normalized(registry);
        let registry = registry.as_str();
        if let Some(auth) = self
            .put
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(registry)
        {
            return auth.clone();
        }
        self.given
            .get(registry)
            .or_else(|| self.docker.get(registry))
            .cloned()
            .unwrap_or_default()
    }
}

fn parse_docker_config(text: &str) -> Result<HashMap<String, Auth>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    let Some(auths) = value.get("auths").and_then(|a| a.as_object()) else {
        return Ok(out);
    };
    for (registry, entry) in auths {
        // `https://index.docker.io/v1/` style keys name the host too.
        let host = registry
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let field = |name: &str| entry.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let auth = if let Some(token) = field("registrytoken").or_else(|| field("identitytoken")) {
            Auth::Bearer(token)
        } else if let Some(encoded) = field("auth") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            match decoded.as_deref().and_then(|d| d.split_once(':')) {
                Some((user, password)) => Auth::Basic {
                    user: user.to_owned(),
                    password: password.to_owned(),
                },
                None => {
                    tracing::warn!(%registry, "the Docker config's `auth` is not base64 of user:password; skipped");
                    continue;
                }
            }
        } else {
            Auth::from_parts(field("username"), field("password"), None)
        };
        out.insert(normalized(&host), auth);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries_become_credentials() {
        let text = r#"{"auths":{
            "localhost:5000":{"auth":"dXNlcjpwYXNz"},
            "https://ghcr.io/v2/":{"identitytoken":"tok"},
            "bad.example":{"auth":"!!"}
        }}"#;
        let auths = parse_docker_config(text).unwrap();
        assert_eq!(
            auths["localhost:5000"],
            Auth::Basic {
                user: "user".into(),
                password: "pass".into()
            }
        );
        assert_eq!(auths["ghcr.io"], Auth::Bearer("tok".into()));
        assert!(!auths.contains_key("bad.example"));
    }

    #[test]
    fn credentials_go_to_their_registry_only_and_put_wins() {
        let creds = Credentials::new().with_registry("r:1", Auth::Bearer("given".into()));
        assert_eq!(creds.for_registry("r:1"), Auth::Bearer("given".into()));
        assert_eq!(creds.for_registry("r:2"), Auth::Anonymous);
        assert_eq!(creds.for_registry("r"), Auth::Anonymous);
        let hub = Credentials::new().with_registry("Docker.io", Auth::Bearer("hub".into()));
        assert_eq!(
            hub.for_registry("index.docker.io"),
            Auth::Bearer("hub".into())
        );
        creds.put(
            "r:1",
            Auth::Basic {
                user: "u".into(),
                password: "p".into(),
            },
        );
        assert!(matches!(creds.for_registry("r:1"), Auth::Basic { .. }));
        assert!(!format!("{:?}", creds.for_registry("r:1")).contains('p'));
        assert_eq!(
            Auth::from_parts(Some("u".into()), None, None),
            Auth::Anonymous
        );
    }
}
