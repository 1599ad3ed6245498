//! The `admission.k8s.io/v1` AdmissionReview wire format: a request parsed and
//! validated from hostile bytes, and the response that echoes its `uid`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only AdmissionReview version this webhook serves.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The kind of the review object, in requests and responses.
pub const KIND: &str = "AdmissionReview";

/// Why a request body is not a usable AdmissionReview (answered with HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The body is not JSON, or a field has the wrong type.
    #[error("request body is not a valid AdmissionReview: {0}")]
    Json(#[from] serde_json::Error),
    /// `apiVersion` is missing or not `admission.k8s.io/v1`.
    #[error("unsupported apiVersion {found:?}: this webhook serves {API_VERSION} only")]
    ApiVersion {
        /// What the body said (empty when absent).
        found: String,
    },
    /// `kind` is missing or not `AdmissionReview`.
    #[error("unsupported kind {found:?}: expected {KIND}")]
    Kind {
        /// What the body said (empty when absent).
        found: String,
    },
    /// The review has no `request`.
    #[error("AdmissionReview has no request")]
    MissingRequest,
    /// `request.uid` is missing or empty, so no answer could be matched to it.
    #[error("request.uid is missing or empty")]
    MissingUid,
    /// `request.operation` is not one of CREATE, UPDATE, DELETE, CONNECT.
    #[error("request.operation {found:?} is not one of CREATE, UPDATE, DELETE, CONNECT")]
    Operation {
        /// What the body said.
        found: String,
    },
}

impl ReviewError {
    /// A short stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ReviewError::Json(_) => "malformed_json",
            ReviewError::ApiVersion { .. } => "api_version",
            ReviewError::Kind { .. } => "kind",
            ReviewError::MissingRequest => "missing_request",
            ReviewError::MissingUid => "missing_uid",
            ReviewError::Operation { .. } => "operation",
        }
    }
}

/// What the API server asks to do with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A new object.
    Create,
    /// A change to an existing object (`oldObject` holds the previous one).
    Update,
    /// A removal (`object` is null).
    Delete,
    /// `exec`, `attach`, `portforward` and similar connections.
    Connect,
}

impl Operation {
    fn parse(text: &str) -> Result<Self, ReviewError> {
        match text {
            "CREATE" => Ok(Self::Create),
            "UPDATE" => Ok(Self::Update),
            "DELETE" => Ok(Self::Delete),
            "CONNECT" => Ok(Self::Connect),
            other => Err(ReviewError::Operation {
                found: other.chars().take(64).collect(),
            }),
        }
    }

    /// The operation as the API server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Connect => "CONNECT",
        }
    }
}

/// `group`/`version`/`kind` of the object under review.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct GroupVersionKind {
    /// API group (`""` for the core group).
    #[serde(default)]
    pub group: String,
    /// API version.
    #[serde(default)]
    pub version: String,
    /// Kind, e.g. `Pod`.
    #[serde(default)]
    pub kind: String,
}

/// One validated admission request: everything the decision needs, nothing else.
#[derive(Debug, Clone)]
pub struct AdmissionRequest {
    /// Echoed in the response so the API server can match it.
    pub uid: String,
    /// The kind of the object.
    pub kind: GroupVersionKind,
    /// The resource, e.g. `pods`.
    pub resource: String,
    /// The subresource, e.g. `ephemeralcontainers` (empty for the main resource).
    pub sub_resource: String,
    /// Object name (may be empty on CREATE with `generateName`).
    pub name: String,
    /// Namespace of the object (empty for cluster-scoped objects).
    pub namespace: String,
    /// What is being done.
    pub operation: Operation,
    /// The object after the operation (null on DELETE).
    pub object: Option<Value>,
    /// The object before the operation (UPDATE and DELETE).
    pub old_object: Option<Value>,
    /// The API server will not persist the result.
    pub dry_run: bool,
}

#[derive(Deserialize)]
struct RawReview {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    request: Option<RawRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    kind: Option<GroupVersionKind>,
    #[serde(default)]
    resource: Option<RawResource>,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    old_object: Option<Value>,
    #[serde(default)]
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    resource: String,
}

/// Parses and validates an AdmissionReview body.
///
/// Unknown fields are ignored (newer API servers add some); everything the
/// webhook relies on is checked and named in the error when wrong.
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest, ReviewError> {
    let raw: RawReview = serde_json::from_slice(body)?;
    let api_version = raw.api_version.unwrap_or_default();
    if api_version != API_VERSION {
        return Err(ReviewError::ApiVersion {
            found: api_version.chars().take(64).collect(),
        });
    }
    let kind = raw.kind.unwrap_or_default();
    if kind != KIND {
        return Err(ReviewError::Kind {
            found: kind.chars().take(64).collect(),
        });
    }
    let request = raw.request.ok_or(ReviewError::MissingRequest)?;
    let uid = request
        .uid
        .filter(|uid| !uid.is_empty())
        .ok_or(ReviewError::MissingUid)?;
    let operation = Operation::parse(request.operation.as_deref().unwrap_or(""))?;
    Ok(AdmissionRequest {
        uid,
        kind: request.kind.unwrap_or_default(),
        resource: request.resource.map(|r| r.resource).unwrap_or_default(),
        sub_resource: request.sub_resource.unwrap_or_default(),
        name: request.name.unwrap_or_default(),
        namespace: request.namespace.unwrap_or_default(),
        operation,
        object: request.object.filter(|v| !v.is_null()),
        old_object: request.old_object.filter(|v| !v.is_null()),
        dry_run: request.dry_run.unwrap_or(false),
    })
}

/// `status` of a response: why a request was refused.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    /// HTTP-like code the API server passes on to the client (403 for a denial).
    pub code: u16,
    /// The human-readable reason, listing each violation.
    pub message: String,
}

/// The `response` part of an AdmissionReview.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's uid, echoed.
    pub uid: String,
    /// Whether the object may be admitted.
    pub allowed: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Base64 of a JSONPatch (RFC 6902) document, on `/mutate` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// `JSONPatch` when `patch` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
    /// Key/value pairs for the API server's audit log.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
    /// Non-blocking findings shown to the client.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl AdmissionResponse {
    /// An allowing response with nothing else to say.
    pub fn allow(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: true,
            status: None,
            patch: None,
            patch_type: None,
            audit_annotations: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Wraps the response in an AdmissionReview and serializes it.
    pub fn to_review_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Review<'a> {
            api_version: &'static str,
            kind: &'static str,
            response: &'a AdmissionResponse,
        }
        // Serializing plain strings, bools and maps of strings cannot fail.
        serde_json::to_vec(&Review {
            api_version: API_VERSION,
            kind: KIND,
            response: self,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/k8s/admission-reviews/"
        );
        std::fs::read(format!("{path}{rel}")).expect("fixture readable")
    }

    #[test]
    fn parses_a_real_pod_create_capture() {
        let request = parse_review(&fixture("kubewarden-wrapped-v1/pod-create-privileged.json"))
            .expect("valid review");
        assert_eq!(request.uid, "1299d386-525b-4032-98ae-1949f69f9cfc");
        assert_eq!(request.operation, Operation::Create);
        assert_eq!(request.kind.kind, "Pod");
        assert_eq!(request.resource, "pods");
        assert_eq!(request.namespace, "default");
        assert!(!request.dry_run);
        assert!(request.object.is_some());
        assert!(request.old_object.is_none(), "null oldObject is absent");
    }

    #[test]
    fn parses_delete_with_null_object_and_dry_run() {
        let request =
            parse_review(&fixture("derived/deployment-delete-dryrun.json")).expect("valid");
        assert_eq!(request.operation, Operation::Delete);
        assert!(request.object.is_none());
        assert!(request.old_object.is_some());
        assert!(request.dry_run);
    }

    #[test]
    fn all_fields_round_trip_fixture_parses_but_its_operation_is_refused() {
        // Kubernetes' round-trip fixture uses placeholder values everywhere,
        // including the operation, which the webhook must not guess at.
        let err = parse_review(&fixture(
            "k8s-api-roundtrip/admission.k8s.io.v1.AdmissionReview.json",
        ))
        .expect_err("placeholder operation");
        assert!(matches!(err, ReviewError::Operation { ref found } if found == "operationValue"));
    }

    #[test]
    fn v1beta1_is_refused_with_its_version_named() {
        let err = parse_review(&fixture(
            "k8s-api-roundtrip/admission.k8s.io.v1beta1.AdmissionReview.json",
        ))
        .expect_err("v1beta1");
        assert_eq!(
            err.to_string(),
            "unsupported apiVersion \"admission.k8s.io/v1beta1\": this webhook serves admission.k8s.io/v1 only"
        );
    }

    #[test]
    fn bad_bodies_name_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (b"{not json", "malformed_json"),
            (b"[]", "api_version"),
            (b"null", "malformed_json"),
            (br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{}}"#, "kind"),
            (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, "missing_request"),
            (
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#,
                "missing_uid",
            ),
            (
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"","operation":"CREATE"}}"#,
                "missing_uid",
            ),
            (
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}"#,
                "malformed_json",
            ),
        ];
        for (body, label) in cases {
            let err = parse_review(body).expect_err("refused");
            assert_eq!(err.label(), *label, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn deeply_nested_json_is_refused_not_overflowed() {
        let mut body = String::from(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":"#,
        );
        body.push_str(&"[".repeat(100_000));
        let err = parse_review(body.as_bytes()).expect_err("too deep");
        assert_eq!(err.label(), "malformed_json");
    }

    #[test]
    fn response_echoes_uid_and_omits_empty_parts() {
        let json: Value = serde_json::from_slice(&AdmissionResponse::allow("abc").to_review_json())
            .expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": "abc", "allowed": true}
            })
        );
    }
}
