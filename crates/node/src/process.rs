//! Processes of the node (from `<root>/proc/*/cmdline`) and their
//! command-line flags.

use crate::fsroot::NodeRoot;

/// The most bytes of one process's command line (or environment) read.
const MAX_CMDLINE_BYTES: u64 = 256 << 10;
/// Processes looked at, at most.
const MAX_PROCESSES: usize = 100_000;

/// A process and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub argv: Vec<String>,
}

/// Every process of the node with a command line (kernel threads have
/// none), by pid. Empty when the root has no `/proc`.
pub fn scan(root: &NodeRoot) -> Vec<Process> {
    let Ok(entries) = root.list_dir("/proc") else {
        return Vec::new();
    };
    let mut processes: Vec<Process> = entries
        .iter()
        .filter_map(|name| name.parse::<u32>().ok())
        .take(MAX_PROCESSES)
        .filter_map(|pid| {
            let bytes = root
                .read_limited(&format!("/proc/{pid}/cmdline"), MAX_CMDLINE_BYTES, true)
                .ok()?;
            let argv = split_cmdline(&bytes);
            (!argv.is_empty()).then_some(Process { pid, argv })
        })
        .collect();
    processes.sort_by_key(|p| p.pid);
    processes
}

/// The environment of a process (`/proc/<pid>/environ`, readable by root
/// only); empty when unreadable.
pub fn environment(root: &NodeRoot, pid: u32) -> Vec<(String, String)> {
    let Ok(bytes) = root.read_limited(&format!("/proc/{pid}/environ"), MAX_CMDLINE_BYTES, true)
    else {
        return Vec::new();
    };
    bytes
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let text = String::from_utf8_lossy(entry);
            let (key, value) = text.split_once('=')?;
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

/// Splits a NUL-separated command line. A process that rewrote its title
/// into one string (`sshd: /usr/sbin/sshd -D [listener]`) is split on
/// spaces instead.
pub fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let mut argv: Vec<String> = bytes
        .split(|b| *b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    while argv.last().is_some_and(String::is_empty) {
        argv.pop();
    }
    if argv.len() == 1
        && let Some(only) = argv.first()
        && only.contains(' ')
    {
        argv = only.split_whitespace().map(str::to_string).collect();
    }
    argv
}

impl Process {
    /// How many leading arguments name the program when it matches `name`
    /// (`kubelet` → 1, `hyperkube kubelet` → 2), or `None`.
    pub fn matches(&self, name: &str) -> Option<usize> {
        let mut words = name.split_whitespace();
        let program = words.next()?;
        let base = self.argv.first().map(|a| program_name(a))?;
        if base != program {
            return None;
        }
        match words.next() {
            None => Some(1),
            Some(sub) if self.argv.get(1).map(String::as_str) == Some(sub) => Some(2),
            Some(_) => None,
        }
    }
}

/// `/usr/bin/kubelet` → `kubelet`; `sshd:` (a rewritten title) → `sshd`.
fn program_name(arg0: &str) -> &str {
    let base = arg0.rsplit('/').next().unwrap_or(arg0);
    base.trim_end_matches(':')
}

/// Command-line flags in order of appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    entries: Vec<(String, String)>,
}

impl Flags {
    /// Parses flags the way Go's `pflag` and `flag` packages accept them:
    /// `--name=value`, `--name value`, `-name=value`, `-n value`, and a bare
    /// `--name` (a boolean, `true`). Parsing stops at `--`.
    pub fn parse(args: &[String]) -> Self {
        let mut entries = Vec::new();
        let mut i = 0;
        while let Some(arg) = args.get(i) {
            i += 1;
            if arg == "--" {
                break;
            }
            let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                continue;
            };
            if body.is_empty() {
                continue;
            }
            match body.split_once('=') {
                Some((name, value)) => entries.push((name.to_string(), value.to_string())),
                None => {
                    let value = match args.get(i) {
                        Some(next) if !next.starts_with('-') => {
                            i += 1;
                            next.clone()
                        }
                        _ => "true".to_string(),
                    };
                    entries.push((body.to_string(), value));
                }
            }
        }
        Self { entries }
    }

    /// The values given to any of these flag names, in order.
    pub fn values(&self, names: &[String]) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(name, _)| names.iter().any(|n| n == name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The value of the flag whose name is `name`, the last one winning.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The value of `key` in a `key=value,key=value` flag (`--feature-gates`).
pub fn map_entry<'a>(value: &'a str, key: &str) -> Option<&'a str> {
    value
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn flags_in_every_go_spelling() {
        let flags = Flags::parse(&args(&[
            "--config=/var/lib/kubelet/config.yaml",
            "--anonymous-auth",
            "false",
            "--rotate-certificates",
            "--feature-gates=A=true,RotateKubeletServerCertificate=false",
            "-H",
            "unix:///run/docker.sock",
            "-H=tcp://0.0.0.0:2375",
            "-client-cert-auth=true",
            "--anonymous-auth=true",
        ]));
        assert_eq!(flags.get("config"), Some("/var/lib/kubelet/config.yaml"));
        assert_eq!(flags.get("anonymous-auth"), Some("true"));
        assert_eq!(flags.get("rotate-certificates"), Some("true"));
        assert_eq!(flags.get("client-cert-auth"), Some("true"));
        assert_eq!(
            flags.values(&["host".into(), "H".into()]),
            vec!["unix:///run/docker.sock", "tcp://0.0.0.0:2375"]
        );
        let gates = flags.get("feature-gates").unwrap();
        assert_eq!(
            map_entry(gates, "RotateKubeletServerCertificate"),
            Some("false")
        );
        assert_eq!(map_entry(gates, "Missing"), None);
    }

    #[test]
    fn cmdlines_and_program_matching() {
        let kubelet = Process {
            pid: 1,
            argv: split_cmdline(b"/usr/bin/kubelet\0--config=/x\0"),
        };
        assert_eq!(kubelet.matches("kubelet"), Some(1));
        assert_eq!(kubelet.matches("kube-proxy"), None);
        let hyperkube = Process {
            pid: 2,
            argv: split_cmdline(b"hyperkube\0kubelet\0--v=2"),
        };
        assert_eq!(hyperkube.matches("hyperkube kubelet"), Some(2));
        assert_eq!(hyperkube.matches("hyperkube proxy"), None);
        let sshd = Process {
            pid: 3,
            argv: split_cmdline(b"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
        };
        assert_eq!(sshd.matches("sshd"), Some(1));
        assert!(split_cmdline(b"").is_empty());
    }
}
