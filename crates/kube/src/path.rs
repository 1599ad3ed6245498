//! Field paths in Kubernetes' notation: `spec.containers[0].securityContext`.

use std::fmt;
use std::str::FromStr;

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path from the root of an object to one of its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    /// The empty path (the object itself).
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path followed by a mapping key.
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_owned()));
        next
    }

    /// This path followed by dotted keys (`"securityContext.privileged"`).
    pub fn keys(&self, dotted: &str) -> Self {
        let mut next = self.clone();
        next.0.extend(
            dotted
                .split('.')
                .filter(|s| !s.is_empty())
                .map(|s| Segment::Key(s.to_owned())),
        );
        next
    }

    /// This path followed by a sequence index.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// This path followed by all of `other`.
    pub fn join(&self, other: &FieldPath) -> Self {
        let mut next = self.clone();
        next.0.extend(other.0.iter().cloned());
        next
    }

    /// The steps of the path.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the root path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn push(&mut self, segment: Segment) {
        self.0.push(segment);
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.0 {
            match segment {
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Key(k) if k.is_empty() || k.contains(['.', '[', ']']) => {
                    write!(f, "[{k:?}]")?
                }
                Segment::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
            }
            first = false;
        }
        Ok(())
    }
}

impl serde::Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A path that is not in `a.b[0].c` notation.
#[derive(Debug, thiserror::Error)]
#[error("invalid field path {0:?}")]
pub struct InvalidPath(String);

impl FromStr for FieldPath {
    type Err = InvalidPath;

    /// Parses the plain notation (keys without dots or brackets).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut path = FieldPath::root();
        for part in s.split('.').filter(|p| !p.is_empty()) {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                path.0.push(Segment::Key(key.to_owned()));
            }
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped
                    .find(']')
                    .ok_or_else(|| InvalidPath(s.to_owned()))?;
                let index = stripped[..end]
                    .parse()
                    .map_err(|_| InvalidPath(s.to_owned()))?;
                path.0.push(Segment::Index(index));
                rest = &stripped[end + 1..];
            }
            if !rest.is_empty() {
                return Err(InvalidPath(s.to_owned()));
            }
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_kubernetes_notation() {
        let path: FieldPath = "spec.containers[0].securityContext.capabilities.add[2]"
            .parse()
            .unwrap();
        assert_eq!(
            path.to_string(),
            "spec.containers[0].securityContext.capabilities.add[2]"
        );
        assert_eq!(path.segments().len(), 7);
        let annotated = FieldPath::root()
            .keys("metadata.annotations")
            .key("container.apparmor.security.beta.kubernetes.io/a");
        assert_eq!(
            annotated.to_string(),
            "metadata.annotations[\"container.apparmor.security.beta.kubernetes.io/a\"]"
        );
    }
}
