//! The context file: defaults for the `WEFT_*` settings (which NATS, which
//! lattice, credentials…) so that they need not be given every time.
//! `~/.config/weft/context` (or the file `WEFT_CONTEXT` names) holds
//! `WEFT_NATS_URL=nats://…` lines, `#` comments allowed. Flags win over the
//! environment, which wins over the file.

use clap::Command;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the context file is.
pub fn path() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("WEFT_CONTEXT") {
        return Some(PathBuf::from(file));
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("weft").join("context"))
}

/// The settings of the context file (none if it does not exist). Lines
/// that are not `WEFT_…=value` are reported and skipped.
pub fn load() -> BTreeMap<String, String> {
    let Some(path) = path() else {
        return BTreeMap::new();
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return BTreeMap::new();
    };
    parse(&text, &path.display().to_string())
}

fn parse(text: &str, origin: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) if key.trim().starts_with("WEFT_") => {
                let value = value.trim().trim_matches('"');
                out.insert(key.trim().to_owned(), value.to_owned());
            }
            _ => eprintln!(
                "warning: {origin}:{}: not a WEFT_NAME=value line; skipped",
                n + 1
            ),
        }
    }
    out
}

/// Makes every flag whose environment variable the context sets default to
/// the context's value, in `command` and all its subcommands.
pub fn apply(command: Command, context: &BTreeMap<String, String>) -> Command {
    if context.is_empty() {
        return command;
    }
    command
        .mut_args(|arg| {
            let value = arg
                .get_env()
                .and_then(|env| env.to_str())
                .and_then(|env| context.get(env));
            match value {
                // clap keeps defaults for the life of the process: the few
                // context values are leaked once, at start.
                Some(v) => arg.default_value(&*Box::leak(v.clone().into_boxed_str())),
                None => arg,
            }
        })
        .mut_subcommands(|sub| apply(sub, context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_lines_are_weft_settings() {
        let ctx = parse(
            "# mine\nWEFT_NATS_URL=nats://10.0.0.1:4222\nWEFT_LATTICE = \"prod\"\nPATH=/x\n",
            "t",
        );
        assert_eq!(ctx["WEFT_NATS_URL"], "nats://10.0.0.1:4222");
        assert_eq!(ctx["WEFT_LATTICE"], "prod");
        assert!(!ctx.contains_key("PATH"));
    }
}
