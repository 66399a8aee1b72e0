//! Parsing of human-written sizes and durations on the command line.

use std::time::Duration;

/// Parses `30s`, `500ms`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 30s, 500ms or 2m"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}`; use ms, s, m or h"
            ));
        }
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 * 365.0 {
        return Err(format!("`{s}` is out of range; give a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `67108864`, `64MiB`, `64M`, `512KiB`, `1GiB` into bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    weft_capability::config::parse_size(s)
}

/// Parses `KEY=VALUE` (labels, constraints, config values); the value may
/// contain `=`, the key may not be empty.
pub fn parse_pair(s: &str) -> Result<(String, String), String> {
    weft_capability::config::Config::parse_pair(s).ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 fortnights").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("2g"), Ok(2 << 30));
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("99999999999999999999GiB").is_err());
        assert!(parse_bytes("18446744073709551615GiB").is_err());
    }
}
