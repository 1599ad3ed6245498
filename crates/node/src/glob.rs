//! Shell-style matching of one path component (`*`, `?`, `[a-z]`, `[!x]`),
//! as `glob(3)` does for `sshd_config`'s `Include` and for catalog paths.
//! A leading `.` is only matched by a literal `.`.

/// Whether a path component holds a wildcard.
pub fn has_wildcard(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// Whether `name` matches the one-component `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    match_from(&pattern, &name)
}

/// Iterative matcher with one backtrack point for the last `*`, so hostile
/// patterns (`*a*a*a*…`) stay linear-ish instead of exponential.
fn match_from(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some('?') => {
                p += 1;
                n += 1;
                continue;
            }
            Some('[') => {
                if let Some((matched, next)) = class(pattern, p, name.get(n).copied()) {
                    if matched {
                        p = next;
                        n += 1;
                        continue;
                    }
                } else if name.get(n) == Some(&'[') {
                    // An unclosed `[` is a literal.
                    p += 1;
                    n += 1;
                    continue;
                }
            }
            Some(c) if name.get(n) == Some(c) => {
                p += 1;
                n += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sn)) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// Matches `c` against the class starting at `pattern[start] == '['`.
/// Returns whether it matched and the index after `]`, or `None` when the
/// class is not closed.
fn class(pattern: &[char], start: usize, c: Option<char>) -> Option<(bool, usize)> {
    let c = c?;
    let mut i = start + 1;
    let negate = matches!(pattern.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let current = *pattern.get(i)?;
        if current == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|e| *e != ']') {
            let end = *pattern.get(i + 2)?;
            if current <= c && c <= end {
                matched = true;
            }
            i += 3;
        } else {
            if current == c {
                matched = true;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_glob() {
        assert!(matches("*.conf", "10-hardening.conf"));
        assert!(!matches("*.conf", "10-hardening.conf.bak"));
        assert!(!matches("*.conf", ".hidden.conf"));
        assert!(matches(".*", ".hidden"));
        assert!(matches("ssh_host_*_key", "ssh_host_ed25519_key"));
        assert!(!matches("ssh_host_*_key", "ssh_host_ed25519_key.pub"));
        assert!(matches("config-?", "config-1"));
        assert!(matches("[0-9]*", "5foo"));
        assert!(!matches("[!0-9]*", "5foo"));
        assert!(matches("a[", "a["));
        assert!(matches("[]]", "]"));
        assert!(!has_wildcard("/etc/ssh/sshd_config"));
    }

    #[test]
    fn hostile_patterns_finish() {
        let pattern = "*a".repeat(200);
        let name = "a".repeat(199) + "b";
        assert!(!matches(&pattern, &name));
    }
}
