//! Path rules inside an image tree: normalising tar names, refusing what
//! climbs out, resolving symlinks without ever leaving the root.

use std::collections::BTreeMap;

/// Symlink hops followed while resolving one path (Linux's limit).
const MAX_HOPS: usize = 40;

/// Normalises a tar entry name to `/a/b`; `Ok(None)` for the root itself.
/// Absolute names and `..` components are refused: no legitimate layer has
/// them, and a naive extractor would write outside its target.
pub(crate) fn normalise_entry(raw: &str) -> Result<Option<String>, String> {
    if raw.starts_with('/') {
        return Err("absolute path".into());
    }
    if raw.contains('\0') {
        return Err("NUL byte in path".into());
    }
    let mut out = String::with_capacity(raw.len() + 1);
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` component".into()),
            part => {
                out.push('/');
                out.push_str(part);
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

/// A hard link's target: a name inside the same archive, by the same rules.
pub(crate) fn normalise_link(raw: &str) -> Result<String, String> {
    match normalise_entry(raw) {
        Ok(Some(path)) => Ok(path),
        Ok(None) => Err("hard link to the root".into()),
        Err(reason) => Err(format!("hard link target {raw:?}: {reason}")),
    }
}

/// Splits `/a/b/c` into (`/a/b`, `c`); the root's children have parent `""`.
pub(crate) fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// `parent` + `/` + `name`.
pub(crate) fn join(parent: &str, name: &str) -> String {
    format!("{parent}/{name}")
}

/// Refuses a symlink whose target, taken from the link's directory, climbs
/// above the root (`/etc/x -> ../../../etc/passwd`).
pub(crate) fn check_symlink(path: &str, target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err("empty symlink target".into());
    }
    if target.contains('\0') {
        return Err("NUL byte in symlink target".into());
    }
    let mut depth: usize = if target.starts_with('/') {
        0
    } else {
        split(path).0.split('/').filter(|p| !p.is_empty()).count()
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("symlink target {target:?} points out of the tree"))?;
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// Resolves `path` through `symlinks` (path → target) in every component, as
/// the kernel would inside a chroot; `None` for a loop. Components of `..`
/// stop at the root.
pub(crate) fn resolve(symlinks: &BTreeMap<String, String>, path: &str) -> Option<String> {
    let mut pending: Vec<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .rev()
        .map(str::to_owned)
        .collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        resolved.push(part);
        let current = format!("/{}", resolved.join("/"));
        if let Some(target) = symlinks.get(&current) {
            hops += 1;
            if hops > MAX_HOPS {
                return None;
            }
            resolved.pop();
            if target.starts_with('/') {
                resolved.clear();
            }
            pending.extend(
                target
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .rev()
                    .map(str::to_owned),
            );
        }
    }
    Some(format!("/{}", resolved.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        assert_eq!(
            normalise_entry("./etc//passwd"),
            Ok(Some("/etc/passwd".into()))
        );
        assert_eq!(normalise_entry("./"), Ok(None));
        assert!(normalise_entry("/etc/passwd").is_err());
        assert!(normalise_entry("a/../../etc/passwd").is_err());
        assert!(normalise_entry("..").is_err());
        assert_eq!(split("/etc/os-release"), ("/etc", "os-release"));
        assert_eq!(split("/etc"), ("", "etc"));
    }

    #[test]
    fn symlink_targets() {
        assert!(check_symlink("/etc/os-release", "../usr/lib/os-release").is_ok());
        assert!(check_symlink("/bin", "usr/bin").is_ok());
        assert!(check_symlink("/etc/alternatives/x", "/usr/bin/x").is_ok());
        assert!(check_symlink("/etc/x", "../../etc/passwd").is_err());
        assert!(check_symlink("/x", "/../etc").is_err());
        assert!(check_symlink("/x", "").is_err());
    }

    #[test]
    fn resolution_follows_every_component() {
        let links: BTreeMap<String, String> = [
            ("/etc/os-release", "../usr/lib/os-release"),
            ("/lib", "usr/lib"),
            ("/var/lib/rpm", "../../usr/lib/sysimage/rpm"),
            ("/loop/a", "b"),
            ("/loop/b", "a"),
            ("/abs", "/usr/lib"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        assert_eq!(
            resolve(&links, "/etc/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(
            resolve(&links, "/lib/apk/db/installed").as_deref(),
            Some("/usr/lib/apk/db/installed")
        );
        assert_eq!(
            resolve(&links, "/var/lib/rpm/rpmdb.sqlite").as_deref(),
            Some("/usr/lib/sysimage/rpm/rpmdb.sqlite")
        );
        assert_eq!(resolve(&links, "/abs/x").as_deref(), Some("/usr/lib/x"));
        assert_eq!(resolve(&links, "/loop/a"), None);
        assert_eq!(
            resolve(&links, "/usr/bin/ls").as_deref(),
            Some("/usr/bin/ls")
        );
    }
}
