//! Workloads: Kubernetes objects that carry a pod template, found in
//! manifest text or handed over as JSON.

use std::fmt;
use std::sync::Arc;

use crate::model::{ObjectMeta, PodTemplate};
use crate::path::{FieldPath, Segment};
use crate::pss::PodSecurity;
use crate::source::{self, Node, Position};

/// The kinds whose pod template is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
    PodTemplate,
}

impl WorkloadKind {
    /// All kinds, in the order of the documentation.
    pub const ALL: [WorkloadKind; 9] = [
        Self::Pod,
        Self::Deployment,
        Self::ReplicaSet,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::Job,
        Self::CronJob,
        Self::ReplicationController,
        Self::PodTemplate,
    ];

    /// The `kind` as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::Deployment => "Deployment",
            Self::ReplicaSet => "ReplicaSet",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::ReplicationController => "ReplicationController",
            Self::PodTemplate => "PodTemplate",
        }
    }

    /// The kind of an object, when its `apiVersion` is one of Kubernetes'
    /// own groups (a custom resource named `Job` is not a batch Job).
    pub fn from_object(api_version: &str, kind: &str) -> Option<Self> {
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        let found = Self::ALL.into_iter().find(|k| k.as_str() == kind)?;
        let groups: &[&str] = match found {
            Self::Pod | Self::ReplicationController | Self::PodTemplate => &[""],
            Self::Deployment | Self::ReplicaSet | Self::DaemonSet => &["apps", "extensions"],
            Self::StatefulSet => &["apps"],
            Self::Job | Self::CronJob => &["batch"],
        };
        groups.contains(&group).then_some(found)
    }

    /// Where the pod template sits in an object of this kind.
    pub fn template_path(self) -> FieldPath {
        match self {
            Self::Pod => FieldPath::root(),
            Self::PodTemplate => FieldPath::root().key("template"),
            Self::CronJob => FieldPath::root().keys("spec.jobTemplate.spec.template"),
            _ => FieldPath::root().keys("spec.template"),
        }
    }

    /// Whether pods of this kind run to completion (probes do not apply).
    pub fn runs_to_completion(self) -> bool {
        matches!(self, Self::Job | Self::CronJob)
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a workload was read from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The file (as given) or `-` for standard input; empty for objects
    /// handed over as JSON.
    pub file: String,
    /// 0-based index of the document in the file.
    pub document: usize,
    /// Path of the object inside the document (`items[2]` in a `List`).
    pub object_path: FieldPath,
}

/// A Kubernetes object that runs pods: its identity and its pod template.
#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub api_version: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    /// Where the pod template is in the object (`spec.template`, or the root for a Pod).
    pub template_path: FieldPath,
    /// The pod template the checks read.
    pub template: PodTemplate,
    pub origin: Option<Origin>,
    /// The object's tree with positions, when it came from text.
    tree: Option<Arc<Node>>,
}

/// Why an object could not be read as a workload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// Not a mapping with `apiVersion` and `kind` strings.
    #[error("not a Kubernetes object: {0}")]
    NotAnObject(String),
    /// A kind without a pod template, or a custom resource.
    #[error("kind {kind} (apiVersion {api_version}) is not a workload")]
    UnsupportedKind { api_version: String, kind: String },
    /// A field has the wrong type.
    #[error("{path}: {message}")]
    InvalidField { path: FieldPath, message: String },
    /// The object has no pod template where its kind keeps it.
    #[error("{kind} has no pod spec at {path}")]
    MissingTemplate { kind: WorkloadKind, path: FieldPath },
}

impl WorkloadError {
    /// The path of the field at fault, when there is one.
    pub fn path(&self) -> Option<&FieldPath> {
        match self {
            Self::InvalidField { path, .. } | Self::MissingTemplate { path, .. } => Some(path),
            _ => None,
        }
    }
}

fn header(value: &serde_json::Value) -> Result<(String, String), WorkloadError> {
    let serde_json::Value::Object(map) = value else {
        return Err(WorkloadError::NotAnObject(
            "the document is not a mapping".into(),
        ));
    };
    let field = |name: &str| match map.get(name) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => {
            Err(WorkloadError::NotAnObject(format!("`{name}` is missing")))
        }
        Some(_) => Err(WorkloadError::InvalidField {
            path: FieldPath::root().key(name),
            message: "expected a string".into(),
        }),
    };
    Ok((field("apiVersion")?, field("kind")?))
}

fn typed<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    prefix: &FieldPath,
) -> Result<T, WorkloadError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let mut path = prefix.clone();
        for segment in error.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => path.push(Segment::Index(*index)),
                serde_path_to_error::Segment::Map { key } => path.push(Segment::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => {
                    path.push(Segment::Key(variant.clone()))
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        WorkloadError::InvalidField {
            path,
            message: error.into_inner().to_string(),
        }
    })
}

fn at<'v>(value: &'v serde_json::Value, path: &FieldPath) -> Option<&'v serde_json::Value> {
    path.segments()
        .iter()
        .try_fold(value, |v, segment| match segment {
            Segment::Key(k) => v.get(k.as_str()),
            Segment::Index(i) => v.get(*i),
        })
}

impl Workload {
    /// Reads a workload from a Kubernetes object as JSON, such as the
    /// `object` of an AdmissionReview request. Field paths of violations are
    /// then relative to that object; positions are unknown.
    pub fn from_json(value: serde_json::Value) -> Result<Self, WorkloadError> {
        Self::from_value(&value, None, None)
    }

    fn from_value(
        value: &serde_json::Value,
        origin: Option<Origin>,
        tree: Option<Arc<Node>>,
    ) -> Result<Self, WorkloadError> {
        let (api_version, kind_name) = header(value)?;
        let kind = WorkloadKind::from_object(&api_version, &kind_name).ok_or(
            WorkloadError::UnsupportedKind {
                api_version: api_version.clone(),
                kind: kind_name,
            },
        )?;
        let metadata: ObjectMeta = match value.get("metadata") {
            Some(meta) => typed(meta, &FieldPath::root().key("metadata"))?,
            None => ObjectMeta::default(),
        };
        let template_path = kind.template_path();
        let template_value = at(value, &template_path).filter(|v| !v.is_null());
        let Some(template_value) = template_value else {
            return Err(WorkloadError::MissingTemplate {
                kind,
                path: template_path,
            });
        };
        if template_value
            .get("spec")
            .is_none_or(serde_json::Value::is_null)
        {
            return Err(WorkloadError::MissingTemplate {
                kind,
                path: template_path.key("spec"),
            });
        }
        let template: PodTemplate = typed(template_value, &template_path)?;
        Ok(Self {
            kind,
            api_version,
            name: metadata.name,
            namespace: metadata.namespace,
            template_path,
            template,
            origin,
            tree,
        })
    }

    /// `Kind/name` (or `Kind` for an unnamed object).
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(name) => format!("{}/{}", self.kind, name),
            None => self.kind.to_string(),
        }
    }

    /// The path of the pod spec (`spec.template.spec`, or `spec` for a Pod).
    pub fn pod_spec_path(&self) -> FieldPath {
        self.template_path.key("spec")
    }

    /// The position of the field at `path` (relative to the object) in the
    /// source text, or of its nearest ancestor that was written; `None` for
    /// objects that did not come from text.
    pub fn locate(&self, path: &FieldPath) -> Option<Position> {
        self.tree.as_ref().and_then(|tree| tree.locate(path))
    }
}

/// A document of a manifest that is not a workload: reported, not checked.
#[derive(Debug, Clone)]
pub struct SkippedObject {
    pub file: String,
    pub document: usize,
    pub api_version: String,
    pub kind: String,
    pub name: Option<String>,
    pub position: Option<Position>,
    /// For a `v1` `Namespace`: the level its
    /// `pod-security.kubernetes.io/enforce[-version]` labels enforce.
    pub enforce: Option<PodSecurity>,
}

/// A document that could not be read: its place and what is wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}{}: document {}: {message}", .position.map(|p| format!(":{p}")).unwrap_or_default(), .document + 1)]
pub struct DocumentError {
    pub file: String,
    /// 0-based index of the document in the file.
    pub document: usize,
    pub position: Option<Position>,
    pub message: String,
}

/// Everything found in one manifest text.
#[derive(Debug, Default)]
pub struct LoadedDocuments {
    pub workloads: Vec<Workload>,
    pub skipped: Vec<SkippedObject>,
    pub errors: Vec<DocumentError>,
    /// Number of YAML documents read (empty ones excluded).
    pub documents: usize,
}

impl LoadedDocuments {
    /// Adds the results of another text.
    pub fn extend(&mut self, other: LoadedDocuments) {
        self.workloads.extend(other.workloads);
        self.skipped.extend(other.skipped);
        self.errors.extend(other.errors);
        self.documents += other.documents;
    }
}

/// Most objects a `List` may nest (`List` of `List`s …) before it is refused.
const MAX_LIST_DEPTH: usize = 8;

/// Reads every document of a manifest text (YAML with any number of
/// documents, or JSON): workloads, skipped objects of other kinds, and one
/// error per unreadable document. `origin` names the text in errors (a file
/// path or `-`). No IO: the caller reads the text.
pub fn load_documents(text: &str, origin: &str) -> LoadedDocuments {
    let mut loaded = LoadedDocuments::default();
    for raw in source::parse_documents(text) {
        loaded.documents += 1;
        match raw.node {
            Ok(Some(node)) => {
                let origin = Origin {
                    file: origin.to_owned(),
                    document: raw.index,
                    object_path: FieldPath::root(),
                };
                collect_object(Arc::new(node), origin, 0, &mut loaded);
            }
            Ok(None) => {}
            Err(error) => loaded.errors.push(DocumentError {
                file: origin.to_owned(),
                document: raw.index,
                position: error.position.or(Some(Position {
                    line: raw.first_line,
                    column: 1,
                })),
                message: error.message,
            }),
        }
    }
    loaded
}

fn collect_object(node: Arc<Node>, origin: Origin, depth: usize, loaded: &mut LoadedDocuments) {
    let value = node.to_json();
    let error = |loaded: &mut LoadedDocuments, position: Option<Position>, message: String| {
        loaded.errors.push(DocumentError {
            file: origin.file.clone(),
            document: origin.document,
            position,
            message: if origin.object_path.is_root() {
                message
            } else {
                format!("{}: {message}", origin.object_path)
            },
        });
    };
    let (api_version, kind) = match header(&value) {
        Ok(h) => h,
        Err(e) => {
            let position = e.path().and_then(|p| node.locate(p)).or(node.position);
            return error(loaded, position, e.to_string());
        }
    };
    if kind == "List"
        || (kind.ends_with("List") && value.get("items").is_some_and(serde_json::Value::is_array))
    {
        if depth >= MAX_LIST_DEPTH {
            return error(
                loaded,
                node.position,
                format!("{kind} nested more than {MAX_LIST_DEPTH} deep"),
            );
        }
        let items = match &node.value {
            source::NodeValue::Mapping(_) => node.get("items"),
            _ => None,
        };
        match items.map(|n| &n.value) {
            Some(source::NodeValue::Sequence(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let origin = Origin {
                        object_path: origin.object_path.key("items").index(i),
                        ..origin.clone()
                    };
                    collect_object(Arc::new(item.clone()), origin, depth + 1, loaded);
                }
            }
            Some(source::NodeValue::Null) | None => {}
            Some(_) => {
                let at = node.get("items").and_then(|n| n.position);
                error(loaded, at, "items: expected a sequence".into());
            }
        }
        return;
    }
    match Workload::from_value(&value, Some(origin.clone()), Some(node.clone())) {
        Ok(workload) => loaded.workloads.push(workload),
        Err(WorkloadError::UnsupportedKind { api_version, kind }) => {
            loaded.skipped.push(SkippedObject {
                file: origin.file.clone(),
                document: origin.document,
                name: value
                    .pointer("/metadata/name")
                    .and_then(|n| n.as_str())
                    .map(str::to_owned),
                enforce: (api_version == "v1" && kind == "Namespace")
                    .then(|| value.pointer("/metadata/labels")?.as_object())
                    .flatten()
                    .and_then(crate::pss::enforced_by_labels),
                api_version,
                kind,
                position: node.position,
            })
        }
        Err(e) => {
            let position = e.path().and_then(|p| node.locate(p)).or(node.position);
            let name = value
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .unwrap_or("(unnamed)");
            error(
                loaded,
                position,
                format!("{kind} {name} ({api_version}): {e}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pod_templates_of_every_kind() {
        let text = "\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: '@daily'
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    template:
      spec:
        containers: [{name: web, image: nginx}]
";
        let loaded = load_documents(text, "test.yaml");
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert_eq!(loaded.workloads.len(), 2);
        assert_eq!(loaded.workloads[0].kind, WorkloadKind::CronJob);
        assert_eq!(loaded.workloads[0].template.spec.containers[0].name, "c");
        assert_eq!(loaded.workloads[1].display_name(), "Deployment/web");
        let path: FieldPath = "spec.template.spec.containers[0].image".parse().unwrap();
        assert_eq!(
            loaded.workloads[1].locate(&path),
            Some(Position {
                line: 25,
                column: 41
            })
        );
        assert_eq!(loaded.skipped.len(), 1);
        assert_eq!(loaded.skipped[0].kind, "ConfigMap");
    }

    #[test]
    fn wrong_field_type_names_the_field_and_line() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    securityContext:\n      privileged: yes please\n";
        let loaded = load_documents(text, "bad.yaml");
        assert_eq!(loaded.errors.len(), 1);
        let error = &loaded.errors[0];
        assert_eq!(error.position.map(|p| p.line), Some(8));
        assert!(
            error
                .message
                .contains("spec.containers[0].securityContext.privileged"),
            "{}",
            error.message
        );
    }

    #[test]
    fn custom_resources_with_workload_names_are_skipped() {
        let text =
            "apiVersion: batch.volcano.sh/v1alpha1\nkind: Job\nmetadata: {name: v}\nspec: {}\n";
        let loaded = load_documents(text, "crd.yaml");
        assert!(loaded.workloads.is_empty());
        assert_eq!(loaded.skipped.len(), 1);
    }

    #[test]
    fn from_json_reads_admission_objects() {
        let value = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "prod"},
            "spec": {"template": {"spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}
        });
        let workload = Workload::from_json(value).unwrap();
        assert_eq!(workload.namespace.as_deref(), Some("prod"));
        assert_eq!(workload.locate(&FieldPath::root()), None);
        let missing = Workload::from_json(serde_json::json!({"apiVersion": "v1", "kind": "Pod"}))
            .unwrap_err();
        assert!(matches!(missing, WorkloadError::MissingTemplate { .. }));
    }

    #[test]
    fn namespaces_carry_the_level_their_labels_enforce() {
        let text = "\
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  labels:
    pod-security.kubernetes.io/enforce: baseline
    pod-security.kubernetes.io/enforce-version: v1.29
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {pod-security.kubernetes.io/enforce: strict}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain, labels: {team: web}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, labels: {pod-security.kubernetes.io/enforce: baseline}}
";
        let loaded = load_documents(text, "ns.yaml");
        let levels: Vec<(Option<&str>, Option<String>)> = loaded
            .skipped
            .iter()
            .map(|s| (s.name.as_deref(), s.enforce.map(|p| p.to_string())))
            .collect();
        assert_eq!(
            levels,
            [
                (Some("legacy"), Some("baseline:v1.29".to_owned())),
                // An invalid level enforces restricted, as PSA does.
                (Some("shop"), Some("restricted:latest".to_owned())),
                (Some("plain"), None),
                (Some("c"), None),
            ]
        );
    }
}
