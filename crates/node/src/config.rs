//! Component configuration documents (YAML, JSON, TOML) as one generic tree,
//! and dotted key paths into it.

use serde::Deserialize;
use serde_json::Value;

/// The format of a component's configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigFormat {
    /// YAML (the kubelet's `KubeletConfiguration`, kube-proxy's).
    Yaml,
    /// JSON (Docker's `daemon.json`).
    Json,
    /// TOML (containerd's `config.toml`).
    Toml,
    /// OpenSSH `sshd_config` with `Include` and `Match`.
    Sshd,
}

/// Parses a YAML, JSON or TOML document. `Sshd` documents are parsed by
/// [`crate::sshd`], not here.
pub fn parse_document(format: ConfigFormat, text: &str) -> Result<Value, String> {
    match format {
        ConfigFormat::Yaml => serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string()),
        ConfigFormat::Json => serde_json::from_str::<Value>(text).map_err(|e| e.to_string()),
        ConfigFormat::Toml => toml::from_str::<Value>(text).map_err(|e| e.to_string()),
        ConfigFormat::Sshd => Err("sshd_config is not a tree document".into()),
    }
}

/// A path of keys into a document: `authentication.anonymous.enabled`, or
/// with quoted keys holding dots: `plugins."io.containerd.grpc.v1.cri".x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath(Vec<String>);

impl KeyPath {
    /// Parses a dotted key path; quoted segments (`"…"` or `'…'`) may hold dots.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        let mut current = String::new();
        let mut quote: Option<char> = None;
        let mut just_closed = false;
        for c in text.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => {
                    quote = None;
                    just_closed = true;
                }
                (Some(_), c) => current.push(c),
                (None, '"' | '\'') if current.is_empty() => quote = Some(c),
                (None, '.') => {
                    if current.is_empty() && !just_closed {
                        return Err(format!("empty key in key path `{text}`"));
                    }
                    keys.push(std::mem::take(&mut current));
                    just_closed = false;
                }
                (None, c) => current.push(c),
            }
        }
        if quote.is_some() {
            return Err(format!("unclosed quote in key path `{text}`"));
        }
        if current.is_empty() && !just_closed {
            return Err(format!("empty key in key path `{text}`"));
        }
        keys.push(current);
        Ok(Self(keys))
    }

    /// The value at this path, if every key exists.
    pub fn lookup<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        let mut node = doc;
        for key in &self.0 {
            node = node.as_object()?.get(key)?;
        }
        Some(node)
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if key.contains('.') || key.is_empty() {
                write!(f, "\"{key}\"")?;
            } else {
                f.write_str(key)?;
            }
        }
        Ok(())
    }
}

/// A document value as the strings checks compare: scalars as their text,
/// lists flattened, `null` and empty strings as nothing (unset).
pub fn value_strings(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    flatten(value, &mut out, 0);
    out
}

fn flatten(value: &Value, out: &mut Vec<String>, depth: usize) {
    match value {
        Value::Null => {}
        Value::String(s) if s.is_empty() => {}
        Value::String(s) => out.push(s.clone()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) if depth < 8 => {
            for item in items {
                flatten(item, out, depth + 1);
            }
        }
        other => out.push(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_with_quoted_segments() {
        let path =
            KeyPath::parse(r#"plugins."io.containerd.grpc.v1.cri".disable_apparmor"#).unwrap();
        assert_eq!(
            path.0,
            vec!["plugins", "io.containerd.grpc.v1.cri", "disable_apparmor"]
        );
        assert_eq!(
            path.to_string(),
            r#"plugins."io.containerd.grpc.v1.cri".disable_apparmor"#
        );
        assert!(KeyPath::parse("a..b").is_err());
        assert!(KeyPath::parse("a.\"b").is_err());
        assert!(KeyPath::parse("").is_err());
    }

    #[test]
    fn documents_of_each_format_share_one_tree() {
        let yaml = parse_document(
            ConfigFormat::Yaml,
            "authentication:\n  anonymous:\n    enabled: false\ntlsCipherSuites: [A, B]\n",
        )
        .unwrap();
        let path = KeyPath::parse("authentication.anonymous.enabled").unwrap();
        assert_eq!(value_strings(path.lookup(&yaml).unwrap()), vec!["false"]);
        let ciphers = KeyPath::parse("tlsCipherSuites").unwrap();
        assert_eq!(
            value_strings(ciphers.lookup(&yaml).unwrap()),
            vec!["A", "B"]
        );

        let toml = parse_document(
            ConfigFormat::Toml,
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\ndisable_apparmor = true\n",
        )
        .unwrap();
        let path =
            KeyPath::parse(r#"plugins."io.containerd.grpc.v1.cri".disable_apparmor"#).unwrap();
        assert_eq!(value_strings(path.lookup(&toml).unwrap()), vec!["true"]);

        let json = parse_document(ConfigFormat::Json, r#"{"icc": false, "hosts": []}"#).unwrap();
        assert!(value_strings(KeyPath::parse("hosts").unwrap().lookup(&json).unwrap()).is_empty());
        assert!(parse_document(ConfigFormat::Json, "{").is_err());
        assert!(parse_document(ConfigFormat::Toml, "[[").is_err());
        assert!(parse_document(ConfigFormat::Yaml, "a: [").is_err());
    }
}
