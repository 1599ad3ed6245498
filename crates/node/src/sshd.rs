//! The effective global `sshd_config`, as `sshd -T` would print it without a
//! connection: `Include` files expanded in place (globs sorted, relative
//! paths under `/etc/ssh`), the first value of a keyword wins, and lines
//! inside `Match` blocks are left out — except after `Match all`, which
//! applies to every connection. A `Match` in an included file ends with
//! that file, as in OpenSSH's `servconf.c`.

use std::collections::BTreeMap;

/// How many `Include`s deep sshd follows (OpenSSH's `SERVCONF_MAX_DEPTH`).
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Lines read over all included files at most, so a hostile include graph
/// (each file including itself via globs) stays bounded.
pub const MAX_TOTAL_LINES: usize = 200_000;

/// Keywords whose lines add up instead of the first one winning.
const ACCUMULATING: &[&str] = &[
    "acceptenv",
    "allowgroups",
    "allowusers",
    "denygroups",
    "denyusers",
    "hostcertificate",
    "hostkey",
    "listenaddress",
    "port",
];

/// Where sshd's configuration files come from (a node root, or memory in
/// tests and fuzzing).
pub trait ConfigFiles {
    /// Reads a file; `Err` carries a message naming the file.
    fn read(&self, path: &str) -> Result<Option<String>, String>;
    /// Expands a glob into existing paths, sorted.
    fn glob(&self, pattern: &str) -> Vec<String>;
}

/// One effective setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The words of the value (unquoted); several lines' worth for
    /// accumulating keywords.
    pub values: Vec<String>,
    /// `file:line` of the first line that set it.
    pub origin: String,
}

/// The effective global configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshdConfig {
    /// Keyword (lower case) → setting.
    pub settings: BTreeMap<String, Setting>,
    /// Every file read, in order.
    pub files: Vec<String>,
    /// Problems that make the effective view uncertain (unreadable include,
    /// include depth exceeded); sshd itself would refuse to start.
    pub problems: Vec<String>,
}

impl SshdConfig {
    /// The effective value of a keyword (any case).
    pub fn get(&self, keyword: &str) -> Option<&Setting> {
        self.settings.get(&keyword.to_ascii_lowercase())
    }
}

/// Parses the main file and everything it includes. Returns `None` when the
/// main file does not exist.
pub fn parse(files: &dyn ConfigFiles, main_path: &str) -> Result<Option<SshdConfig>, String> {
    let Some(text) = files.read(main_path)? else {
        return Ok(None);
    };
    let mut parser = Parser {
        files,
        config: SshdConfig::default(),
        lines: 0,
    };
    parser.parse_text(main_path, &text, 0, true);
    Ok(Some(parser.config))
}

/// Parses one file's text alone (no includes are followed); used by the
/// fuzz target and tests.
pub fn parse_text(path: &str, text: &str) -> SshdConfig {
    struct NoFiles;
    impl ConfigFiles for NoFiles {
        fn read(&self, _: &str) -> Result<Option<String>, String> {
            Ok(None)
        }
        fn glob(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
    }
    let mut parser = Parser {
        files: &NoFiles,
        config: SshdConfig::default(),
        lines: 0,
    };
    parser.parse_text(path, text, 0, true);
    parser.config
}

struct Parser<'a> {
    files: &'a dyn ConfigFiles,
    config: SshdConfig,
    lines: usize,
}

impl Parser<'_> {
    /// `can_match` is false inside an inactive `Match` of an including file:
    /// then nothing in this file applies, not even after `Match all`.
    fn parse_text(&mut self, path: &str, text: &str, depth: usize, can_match: bool) {
        self.config.files.push(path.to_string());
        let mut active = can_match;
        for (index, line) in text.lines().enumerate() {
            self.lines += 1;
            if self.lines > MAX_TOTAL_LINES {
                self.config
                    .problems
                    .push(format!("more than {MAX_TOTAL_LINES} configuration lines"));
                return;
            }
            let Some((keyword, args)) = split_line(line) else {
                continue;
            };
            let origin = format!("{path}:{}", index + 1);
            match keyword.as_str() {
                "match" => {
                    let all = args.len() == 1
                        && args.first().is_some_and(|a| a.eq_ignore_ascii_case("all"));
                    active = can_match && all;
                }
                "include" => {
                    for pattern in &args {
                        self.include(pattern, depth, active, &origin);
                    }
                }
                _ if !active => {}
                _ if ACCUMULATING.contains(&keyword.as_str()) => {
                    self.config
                        .settings
                        .entry(keyword)
                        .or_insert_with(|| Setting {
                            values: Vec::new(),
                            origin,
                        })
                        .values
                        .extend(args);
                }
                _ => {
                    self.config.settings.entry(keyword).or_insert(Setting {
                        values: args,
                        origin,
                    });
                }
            }
        }
    }

    fn include(&mut self, pattern: &str, depth: usize, active: bool, origin: &str) {
        if depth + 1 > MAX_INCLUDE_DEPTH {
            self.config.problems.push(format!(
                "{origin}: Include nested deeper than {MAX_INCLUDE_DEPTH} (a loop?)"
            ));
            return;
        }
        let pattern = if pattern.starts_with('/') {
            pattern.to_string()
        } else {
            format!("/etc/ssh/{pattern}")
        };
        // A pattern that matches nothing is not an error for sshd.
        for path in self.files.glob(&pattern) {
            match self.files.read(&path) {
                Ok(Some(text)) => self.parse_text(&path, &text, depth + 1, active),
                Ok(None) => {}
                Err(message) => self
                    .config
                    .problems
                    .push(format!("{origin}: Include {path}: {message}")),
            }
            if self.lines > MAX_TOTAL_LINES {
                return;
            }
        }
    }
}

/// Splits a line into its lower-case keyword and its arguments, as sshd's
/// tokenizer does: `Keyword value`, `Keyword=value`, double quotes group
/// words, a word starting with `#` starts a comment.
fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line.get(..end)?.to_ascii_lowercase();
    let mut rest = line.get(end..)?.trim_start();
    if let Some(after) = rest.strip_prefix('=') {
        rest = after.trim_start();
    }
    Some((keyword, words(rest)))
}

fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in text.chars() {
        if quoted {
            if c == '"' {
                quoted = false;
            } else {
                current.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                in_word = true;
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MemFiles(HashMap<&'static str, &'static str>);

    impl ConfigFiles for MemFiles {
        fn read(&self, path: &str) -> Result<Option<String>, String> {
            match self.0.get(path) {
                Some(&"UNREADABLE") => Err("permission denied".into()),
                Some(text) => Ok(Some((*text).to_string())),
                None => Ok(None),
            }
        }
        fn glob(&self, pattern: &str) -> Vec<String> {
            let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
            let mut found: Vec<String> = self
                .0
                .keys()
                .filter(|p| {
                    p.rsplit_once('/')
                        .is_some_and(|(d, n)| d == dir && crate::glob::matches(name, n))
                })
                .map(|p| (*p).to_string())
                .collect();
            found.sort();
            found
        }
    }

    fn values(config: &SshdConfig, keyword: &str) -> Vec<String> {
        config
            .get(keyword)
            .map(|s| s.values.clone())
            .unwrap_or_default()
    }

    #[test]
    fn includes_first_value_wins_and_match_blocks() {
        let files = MemFiles(HashMap::from([
            (
                "/etc/ssh/sshd_config",
                "# Debian layout\nInclude /etc/ssh/sshd_config.d/*.conf\n\
                 PermitRootLogin yes\nPasswordAuthentication yes\nAllowUsers alice\n\
                 Match User bob\n  PasswordAuthentication yes\n  X11Forwarding yes\n\
                 Match all\nMaxAuthTries=3\n",
            ),
            (
                "/etc/ssh/sshd_config.d/10-hardening.conf",
                "permitrootlogin no\nPasswordAuthentication \"no\" # trailing\nAllowUsers ops\n",
            ),
            (
                "/etc/ssh/sshd_config.d/20-match.conf",
                "Match Address 10.0.0.0/8\nPermitEmptyPasswords yes\n",
            ),
            (
                "/etc/ssh/sshd_config.d/30-after.conf",
                "PermitEmptyPasswords no\n",
            ),
        ]));
        let config = parse(&files, "/etc/ssh/sshd_config").unwrap().unwrap();
        assert_eq!(values(&config, "PermitRootLogin"), vec!["no"]);
        assert_eq!(values(&config, "passwordauthentication"), vec!["no"]);
        // AllowUsers lines add up.
        assert_eq!(values(&config, "AllowUsers"), vec!["ops", "alice"]);
        // The Match in 20-match.conf ended with that file.
        assert_eq!(values(&config, "PermitEmptyPasswords"), vec!["no"]);
        // X11Forwarding only inside Match User bob: not global.
        assert!(config.get("X11Forwarding").is_none());
        // After `Match all` settings are global again.
        assert_eq!(values(&config, "MaxAuthTries"), vec!["3"]);
        assert_eq!(
            config.get("PermitRootLogin").unwrap().origin,
            "/etc/ssh/sshd_config.d/10-hardening.conf:1"
        );
        assert!(config.problems.is_empty());
    }

    #[test]
    fn relative_includes_loops_and_unreadable_files() {
        let files = MemFiles(HashMap::from([
            (
                "/etc/ssh/sshd_config",
                "Include loop.conf\nInclude bad.conf\n",
            ),
            ("/etc/ssh/loop.conf", "Include loop.conf\nPort 2222\n"),
            ("/etc/ssh/bad.conf", "UNREADABLE"),
        ]));
        let config = parse(&files, "/etc/ssh/sshd_config").unwrap().unwrap();
        assert!(config.problems.iter().any(|p| p.contains("deeper")));
        assert!(
            config
                .problems
                .iter()
                .any(|p| p.contains("permission denied"))
        );
        assert_eq!(values(&config, "Port").len(), MAX_INCLUDE_DEPTH);
    }

    #[test]
    fn include_inside_match_is_conditional() {
        let files = MemFiles(HashMap::from([
            (
                "/etc/ssh/sshd_config",
                "Match User admin\nInclude /etc/ssh/admin.conf\n",
            ),
            ("/etc/ssh/admin.conf", "Match all\nPermitRootLogin yes\n"),
        ]));
        let config = parse(&files, "/etc/ssh/sshd_config").unwrap().unwrap();
        assert!(config.get("PermitRootLogin").is_none());
        assert!(parse(&files, "/etc/ssh/missing").unwrap().is_none());
    }

    #[test]
    fn tokenizer() {
        assert_eq!(split_line("   # comment"), None);
        assert_eq!(
            split_line("Banner \"/etc/issue net\""),
            Some(("banner".into(), vec!["/etc/issue net".into()]))
        );
        assert_eq!(
            split_line("Ciphers=aes256-gcm@openssh.com,aes128-ctr"),
            Some((
                "ciphers".into(),
                vec!["aes256-gcm@openssh.com,aes128-ctr".into()]
            ))
        );
        assert_eq!(
            split_line("Port 22 #x"),
            Some(("port".into(), vec!["22".into()]))
        );
        let config = parse_text("x", "\u{0}\nPermitRootLogin\n=\n\"\n");
        assert!(config.get("permitrootlogin").is_some());
    }
}
