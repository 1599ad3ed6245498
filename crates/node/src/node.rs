//! What the audit knows about the node: its processes, the components the
//! catalog names (found by process, static pod manifest or configuration
//! file), their flags, environment and parsed configuration, and the
//! node's user and group names. Everything is read once, lazily.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use crate::catalog::{Catalog, Component, SettingRef};
use crate::config::{self, ConfigFormat};
use crate::fsroot::NodeRoot;
use crate::process::{self, Flags, Process};
use crate::sshd::{self, SshdConfig};

/// The audited node.
pub struct Node<'a> {
    pub root: NodeRoot,
    catalog: &'a Catalog,
    processes: OnceCell<Vec<Process>>,
    components: HashMap<String, OnceCell<ComponentState>>,
    accounts: OnceCell<Accounts>,
}

/// A component as found on the node.
#[derive(Debug)]
pub struct ComponentState {
    /// How it was found (`process 812`, `static pod manifest …`,
    /// `configuration file …`), or `None` when it is absent.
    pub found_by: Option<String>,
    flags: FlagsState,
    env: BTreeMap<String, String>,
    pub config: ConfigState,
}

#[derive(Debug)]
enum FlagsState {
    None,
    Parsed { flags: Flags, origin: String },
    Broken(String),
}

/// A component's configuration file.
#[derive(Debug)]
pub enum ConfigState {
    /// The component has no configuration file in the catalog.
    NotConfigured,
    /// None of the places looked at has one.
    NotFound {
        looked: Vec<String>,
    },
    Loaded {
        path: String,
        doc: Value,
        /// Drop-in files overriding `doc`, highest precedence last.
        dropins: Vec<(String, Value)>,
    },
    Sshd {
        path: String,
        config: SshdConfig,
    },
    /// The file exists but cannot be read or parsed.
    Broken {
        path: String,
        message: String,
    },
}

impl ConfigState {
    /// The file's node path, when there is one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Loaded { path, .. } | Self::Sshd { path, .. } | Self::Broken { path, .. } => {
                Some(path)
            }
            Self::NotConfigured | Self::NotFound { .. } => None,
        }
    }
}

/// A setting's value as read from the node.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingValue {
    /// The component is not on this node.
    ComponentAbsent(String),
    /// Set: its values and where they came from.
    Found { values: Vec<String>, source: String },
    /// Not set anywhere that was looked at.
    Missing { looked: Vec<String> },
    /// The value cannot be known (configuration file broken).
    Error(String),
}

impl<'a> Node<'a> {
    /// The node at `root`, to be audited with `catalog`'s components.
    pub fn new(root: NodeRoot, catalog: &'a Catalog) -> Self {
        let components = catalog
            .components
            .keys()
            .map(|name| (name.clone(), OnceCell::new()))
            .collect();
        Self {
            root,
            catalog,
            processes: OnceCell::new(),
            components,
            accounts: OnceCell::new(),
        }
    }

    /// Every process with a command line.
    pub fn processes(&self) -> &[Process] {
        self.processes.get_or_init(|| process::scan(&self.root))
    }

    /// A component's state, discovered on first use; `None` for a name the
    /// catalog does not define (validation prevents that).
    pub fn component(&self, name: &str) -> Option<&ComponentState> {
        let spec = self.catalog.components.get(name)?;
        let cell = self.components.get(name)?;
        Some(cell.get_or_init(|| self.discover(spec)))
    }

    /// Whether a component is present on the node.
    pub fn has_component(&self, name: &str) -> bool {
        self.component(name).is_some_and(|c| c.found_by.is_some())
    }

    fn discover(&self, spec: &Component) -> ComponentState {
        let running = self.processes().iter().find_map(|process| {
            spec.processes
                .iter()
                .find_map(|name| process.matches(name))
                .map(|skip| (process, skip))
        });
        let mut found_by = None;
        let mut flags = FlagsState::None;
        let mut env = BTreeMap::new();
        if let Some((process, skip)) = running {
            let origin = format!(
                "{} command line (pid {})",
                process.argv.first().map(String::as_str).unwrap_or("?"),
                process.pid
            );
            found_by = Some(format!("process {}", process.pid));
            flags = FlagsState::Parsed {
                flags: Flags::parse(process.argv.get(skip..).unwrap_or_default()),
                origin,
            };
            env = process::environment(&self.root, process.pid)
                .into_iter()
                .collect();
        } else if let Some(manifest) = spec.manifests.iter().find(|p| self.root.exists(p)) {
            found_by = Some(format!("static pod manifest {manifest}"));
            match self.read_manifest(manifest) {
                Ok((manifest_flags, manifest_env)) => {
                    flags = FlagsState::Parsed {
                        flags: manifest_flags,
                        origin: format!("static pod manifest {manifest}"),
                    };
                    env = manifest_env;
                }
                Err(message) => flags = FlagsState::Broken(message),
            }
        }
        let config = self.load_config(spec, &flags);
        if found_by.is_none()
            && let Some(path) = config.path()
        {
            found_by = Some(format!("configuration file {path}"));
        }
        ComponentState {
            found_by,
            flags,
            env,
            config,
        }
    }

    fn read_manifest(&self, path: &str) -> Result<(Flags, BTreeMap<String, String>), String> {
        #[derive(Deserialize)]
        struct Manifest {
            spec: Option<PodSpec>,
        }
        #[derive(Deserialize)]
        struct PodSpec {
            #[serde(default)]
            containers: Vec<Container>,
        }
        #[derive(Deserialize)]
        struct Container {
            #[serde(default)]
            command: Vec<String>,
            #[serde(default)]
            args: Vec<String>,
            #[serde(default)]
            env: Vec<EnvVar>,
        }
        #[derive(Deserialize)]
        struct EnvVar {
            name: String,
            #[serde(default)]
            value: Option<String>,
        }
        let text = self.root.read_text(path).map_err(|e| e.to_string())?;
        let manifest: Manifest =
            serde_saphyr::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let container = manifest
            .spec
            .and_then(|s| s.containers.into_iter().next())
            .ok_or_else(|| format!("{path}: no container in the pod spec"))?;
        let mut args: Vec<String> = container.command.into_iter().skip(1).collect();
        args.extend(container.args);
        let env = container
            .env
            .into_iter()
            .filter_map(|e| Some((e.name, e.value?)))
            .collect();
        Ok((Flags::parse(&args), env))
    }

    fn load_config(&self, spec: &Component, flags: &FlagsState) -> ConfigState {
        let Some(source) = &spec.config else {
            return ConfigState::NotConfigured;
        };
        let from_flag = match (&source.flag, flags) {
            (Some(flag), FlagsState::Parsed { flags, .. }) => flags.get(flag),
            _ => None,
        };
        let path = match from_flag {
            Some(path) => {
                let path = absolute(path);
                match self.root.stat(&path) {
                    Ok(_) => path,
                    Err(e) if e.is_not_found() => {
                        return ConfigState::Broken {
                            message: format!(
                                "{path}, named by --{}, does not exist on the node (does the process run in a container with its own filesystem?)",
                                source.flag.as_deref().unwrap_or("config")
                            ),
                            path,
                        };
                    }
                    Err(e) => {
                        return ConfigState::Broken {
                            path,
                            message: e.to_string(),
                        };
                    }
                }
            }
            None => match source.paths.iter().find(|p| self.root.exists(p)) {
                Some(path) => path.clone(),
                None => {
                    return ConfigState::NotFound {
                        looked: source.paths.clone(),
                    };
                }
            },
        };
        if source.format == ConfigFormat::Sshd {
            return match sshd::parse(&RootFiles(&self.root), &path) {
                Ok(Some(config)) => ConfigState::Sshd { path, config },
                Ok(None) => ConfigState::NotFound { looked: vec![path] },
                Err(message) => ConfigState::Broken { path, message },
            };
        }
        let text = match self.root.read_text(&path) {
            Ok(text) => text,
            Err(e) => {
                return ConfigState::Broken {
                    path,
                    message: e.to_string(),
                };
            }
        };
        let doc = match config::parse_document(source.format, &text) {
            Ok(doc) => doc,
            Err(message) => {
                return ConfigState::Broken {
                    message: format!("{path}: not valid {:?}: {message}", source.format),
                    path,
                };
            }
        };
        let dropin_dir = match (&source.dropin_flag, flags) {
            (Some(flag), FlagsState::Parsed { flags, .. }) => flags.get(flag).map(absolute),
            _ => None,
        };
        let mut dropins = Vec::new();
        if let Some(dir) = dropin_dir {
            for file in self
                .root
                .glob(&format!("{}/*.conf", dir.trim_end_matches('/')))
            {
                let parsed = self
                    .root
                    .read_text(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|text| config::parse_document(source.format, &text));
                match parsed {
                    Ok(layer) => dropins.push((file, layer)),
                    Err(message) => {
                        return ConfigState::Broken {
                            message: format!("{file}: {message}"),
                            path: file,
                        };
                    }
                }
            }
        }
        ConfigState::Loaded { path, doc, dropins }
    }

    /// Reads a setting: flags first (as the kubelet and dockerd let flags
    /// override their file), then the environment, then the file.
    pub fn setting(&self, setting: &SettingRef) -> SettingValue {
        let Some(state) = self.component(&setting.component) else {
            return SettingValue::Error(format!("unknown component {}", setting.component));
        };
        if state.found_by.is_none() {
            return SettingValue::ComponentAbsent(format!("no {} on this node", setting.component));
        }
        let mut looked = Vec::new();
        if !setting.flags.is_empty() {
            let dashed = setting.dashed_flags();
            match &state.flags {
                FlagsState::Parsed { flags, origin } => {
                    let mut values: Vec<String> = flags
                        .values(&setting.flags)
                        .into_iter()
                        .filter_map(|v| match &setting.flag_key {
                            Some(key) => process::map_entry(v, key).map(str::to_string),
                            None => Some(v.to_string()),
                        })
                        .filter(|v| !v.is_empty())
                        .collect();
                    if !setting.repeated && values.len() > 1 {
                        values.drain(..values.len() - 1);
                    }
                    let what = match &setting.flag_key {
                        Some(key) => format!("{dashed} {key}"),
                        None => dashed,
                    };
                    if !values.is_empty() {
                        return SettingValue::Found {
                            values,
                            source: format!("{what} in {origin}"),
                        };
                    }
                    looked.push(format!("{what} in {origin}"));
                }
                FlagsState::Broken(message) => return SettingValue::Error(message.clone()),
                FlagsState::None => {}
            }
        }
        if let Some(name) = &setting.env {
            if let Some(value) = state.env.get(name).filter(|v| !v.is_empty()) {
                return SettingValue::Found {
                    values: vec![value.clone()],
                    source: format!("environment variable {name}"),
                };
            }
            looked.push(format!("environment variable {name}"));
        }
        if !setting.config.is_empty() {
            match &state.config {
                ConfigState::Loaded { path, doc, dropins } => {
                    // The last drop-in that sets a key wins over the file.
                    let layers = dropins
                        .iter()
                        .rev()
                        .map(|(p, d)| (p.as_str(), d))
                        .chain(std::iter::once((path.as_str(), doc)));
                    for (file, layer) in layers {
                        for key in &setting.config {
                            if let Some(value) = key.lookup(layer) {
                                let values = config::value_strings(value);
                                if !values.is_empty() {
                                    return SettingValue::Found {
                                        values,
                                        source: format!("{key} in {file}"),
                                    };
                                }
                            }
                        }
                    }
                    for key in &setting.config {
                        looked.push(format!("{key} in {path}"));
                    }
                }
                ConfigState::Sshd { path, config } => {
                    if let Some(problem) = config.problems.first() {
                        return SettingValue::Error(format!(
                            "effective sshd configuration unknown: {problem}"
                        ));
                    }
                    for key in &setting.config {
                        let keyword = key.to_string();
                        if let Some(found) = config.get(&keyword) {
                            return SettingValue::Found {
                                values: found.values.clone(),
                                source: format!("{keyword} at {}", found.origin),
                            };
                        }
                        looked.push(format!("{keyword} in {path} and its includes"));
                    }
                }
                ConfigState::Broken { message, .. } => {
                    return SettingValue::Error(message.clone());
                }
                ConfigState::NotFound { looked: paths } => {
                    looked.push(format!(
                        "no configuration file (looked at {})",
                        paths.join(", ")
                    ));
                }
                ConfigState::NotConfigured => {}
            }
        }
        SettingValue::Missing { looked }
    }

    /// Where a component's flags came from, for the report's "read" list.
    pub fn flags_origin(&self, component: &str) -> Option<String> {
        match &self.component(component)?.flags {
            FlagsState::Parsed { origin, .. } => Some(origin.clone()),
            _ => None,
        }
    }

    /// `user:group` names of a uid and gid, from the node's own
    /// `/etc/passwd` and `/etc/group` (numbers when unnamed; 0 is `root`).
    pub fn owner_name(&self, uid: u32, gid: u32) -> String {
        let accounts = self.accounts.get_or_init(|| Accounts::read(&self.root));
        let user = accounts.users.get(&uid).cloned().unwrap_or_else(|| {
            if uid == 0 {
                "root".into()
            } else {
                uid.to_string()
            }
        });
        let group = accounts.groups.get(&gid).cloned().unwrap_or_else(|| {
            if gid == 0 {
                "root".into()
            } else {
                gid.to_string()
            }
        });
        format!("{user}:{group}")
    }
}

/// A path from a flag: relative paths are taken from `/`.
pub fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

#[derive(Debug, Default)]
struct Accounts {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl Accounts {
    fn read(root: &NodeRoot) -> Self {
        let table = |path: &str| -> HashMap<u32, String> {
            let Ok(text) = root.read_text(path) else {
                return HashMap::new();
            };
            let mut names = HashMap::new();
            for line in text.lines() {
                let mut fields = line.split(':');
                let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next())
                else {
                    continue;
                };
                if let Ok(id) = id.parse::<u32>() {
                    names.entry(id).or_insert_with(|| name.to_string());
                }
            }
            names
        };
        Self {
            users: table("/etc/passwd"),
            groups: table("/etc/group"),
        }
    }
}

/// `sshd_config` files read through the node root.
struct RootFiles<'a>(&'a NodeRoot);

impl sshd::ConfigFiles for RootFiles<'_> {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        match self.0.read_text(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn glob(&self, pattern: &str) -> Vec<String> {
        // A plain path is read as is, so a loop or an unreadable file is
        // reported by `read` instead of vanishing like a non-match.
        if pattern.split('/').any(crate::glob::has_wildcard) {
            self.0.glob(pattern)
        } else {
            vec![pattern.to_string()]
        }
    }
}
