//! The Kubernetes objects that run the webhook (`portcullis admission manifests`).
//!
//! Availability is designed in: two or more replicas spread over nodes, a
//! PodDisruptionBudget, probes, and webhook configurations that fail closed
//! but exempt the webhook's own namespace and `kube-system`, so a broken
//! webhook can never block its own recovery.

use base64::Engine;
use serde_json::{Value, json};

/// Why manifests could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// An option is out of range.
    #[error("{0}")]
    Invalid(String),
    /// YAML serialization failed.
    #[error("cannot render YAML: {0}")]
    Yaml(String),
}

/// What the API server does when the webhook cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Reject the request (fail closed; the default).
    #[default]
    Fail,
    /// Admit the request unjudged (fail open; only if the policy says so).
    Ignore,
}

impl FailurePolicy {
    /// The value as the webhook configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "Fail",
            Self::Ignore => "Ignore",
        }
    }
}

/// What the manifests are made for.
#[derive(Debug, Clone)]
pub struct ManifestOptions {
    /// Namespace the webhook runs in (exempt from it).
    pub namespace: String,
    /// Name of the Deployment, Service and webhook configurations.
    pub name: String,
    /// Container image of Portcullis.
    pub image: String,
    /// Replicas (two or more).
    pub replicas: u32,
    /// PEM of the CA that signed the serving certificate (`caBundle`).
    pub ca_bundle_pem: String,
    /// Serving certificate and key PEM, when the Secret should be included.
    pub tls: Option<(String, String)>,
    /// The policy file's text, when the ConfigMap should be included.
    pub policy_text: Option<String>,
    /// More namespaces the webhooks skip (the policy's exempt namespaces).
    pub exempt_namespaces: Vec<String>,
    /// `timeoutSeconds` of the webhooks (1 to 30).
    pub timeout_seconds: u32,
    /// `failurePolicy` of the webhooks.
    pub failure_policy: FailurePolicy,
}

impl ManifestOptions {
    /// Defaults: namespace `portcullis-system`, name `portcullis-admission`,
    /// two replicas, a ten-second webhook timeout.
    pub fn new(image: impl Into<String>, ca_bundle_pem: impl Into<String>) -> Self {
        Self {
            namespace: "portcullis-system".into(),
            name: "portcullis-admission".into(),
            image: image.into(),
            replicas: 2,
            ca_bundle_pem: ca_bundle_pem.into(),
            tls: None,
            policy_text: None,
            exempt_namespaces: Vec::new(),
            timeout_seconds: 10,
            failure_policy: FailurePolicy::Fail,
        }
    }
}

/// Port the container listens on (unprivileged).
pub const CONTAINER_PORT: u16 = 8443;
/// Where the policy ConfigMap is mounted.
pub const POLICY_PATH: &str = "/etc/portcullis/policy/policy.yaml";
/// Where the TLS Secret is mounted.
pub const TLS_DIR: &str = "/etc/portcullis/tls";

/// Workload resources the webhooks are registered for: every kind with a pod
/// template, and pods' `ephemeralcontainers` subresource (`kubectl debug`).
const RULES: &[(&str, &[&str])] = &[
    (
        "",
        &["pods", "pods/ephemeralcontainers", "replicationcontrollers"],
    ),
    (
        "apps",
        &["deployments", "replicasets", "statefulsets", "daemonsets"],
    ),
    ("batch", &["jobs", "cronjobs"]),
];

/// The objects, in the order to apply them.
pub fn documents(options: &ManifestOptions) -> Result<Vec<Value>, ManifestError> {
    for (what, value) in [("namespace", &options.namespace), ("name", &options.name)] {
        if !portcullis_kube::model::is_dns_label(value) {
            return Err(ManifestError::Invalid(format!(
                "{what} {value:?} is not a DNS label (lowercase letters, digits, '-', at most 63)"
            )));
        }
    }
    if options.replicas < 2 {
        return Err(ManifestError::Invalid(format!(
            "replicas must be at least 2 so one pod can be disrupted while the other admits (got {})",
            options.replicas
        )));
    }
    if !(1..=30).contains(&options.timeout_seconds) {
        return Err(ManifestError::Invalid(format!(
            "timeoutSeconds must be between 1 and 30 (got {})",
            options.timeout_seconds
        )));
    }
    if !options
        .ca_bundle_pem
        .contains("-----BEGIN CERTIFICATE-----")
    {
        return Err(ManifestError::Invalid(
            "the CA bundle holds no PEM certificate".into(),
        ));
    }
    let ns = options.namespace.as_str();
    let name = options.name.as_str();
    let labels = json!({"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "portcullis"});
    let selector = json!({"app.kubernetes.io/name": name});
    let b64 = base64::engine::general_purpose::STANDARD;

    let mut docs = vec![
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": ns,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                }
            }
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "automountServiceAccountToken": true
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}]
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]
        }),
    ];
    if let Some((cert, key)) = &options.tls {
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": format!("{name}-tls"), "namespace": ns, "labels": labels},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": b64.encode(cert), "tls.key": b64.encode(key)}
        }));
    }
    if let Some(policy) = &options.policy_text {
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": format!("{name}-policy"), "namespace": ns, "labels": labels},
            "data": {"policy.yaml": policy}
        }));
    }
    let probe = |path: &str, period: u32| {
        json!({
            "httpGet": {"path": path, "port": "https", "scheme": "HTTPS"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": 3
        })
    };
    // Every container of the webhook's pod runs at the restricted level.
    let container_security = json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}
    });
    // The containers that fetch the vulnerability database into the shared
    // cache volume (the init container, then the refresher beside the webhook).
    let vulndb_container = |container: &str, args: &[&str]| {
        json!({
            "name": container,
            "image": options.image,
            "imagePullPolicy": "IfNotPresent",
            "args": args,
            "env": [{"name": "XDG_CACHE_HOME", "value": "/var/cache"}],
            "resources": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "1Gi"}
            },
            "securityContext": container_security,
            "volumeMounts": [{"name": "cache", "mountPath": "/var/cache/portcullis"}]
        })
    };
    // The refresher serves nothing: it is healthy while the database it
    // keeps opens (the image's entrypoint is `/portcullis`).
    let mut vulndb_refresher = vulndb_container(
        "vulndb-refresh",
        &["db", "update", "--every-seconds", "21600"],
    );
    let database_opens = json!({
        "exec": {"command": ["/portcullis", "db", "status"]},
        "periodSeconds": 300,
        "timeoutSeconds": 10,
        "failureThreshold": 3
    });
    vulndb_refresher["readinessProbe"] = database_opens.clone();
    vulndb_refresher["livenessProbe"] = database_opens;
    docs.push(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    // The token is mounted explicitly below (short-lived,
                    // projected) rather than by automount.
                    "automountServiceAccountToken": false,
                    "priorityClassName": "system-cluster-critical",
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "fsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"}
                    },
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [{
                                "weight": 100,
                                "podAffinityTerm": {
                                    "labelSelector": {"matchLabels": selector},
                                    "topologyKey": "kubernetes.io/hostname"
                                }
                            }]
                        }
                    },
                    "topologySpreadConstraints": [{
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": selector}
                    }],
                    // The vulnerability database is fetched before the
                    // webhook starts, then refreshed by the `vulndb-refresh`
                    // container every six hours; the webhook reloads the
                    // file whenever it is replaced (`db update` renames a
                    // new file over it), so a refresh needs no restart.
                    "initContainers": [vulndb_container("vulndb", &["db", "update"])],
                    "containers": [{
                        "name": "webhook",
                        "image": options.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": [
                            "admission", "serve",
                            "--policy", POLICY_PATH,
                            "--tls-cert", format!("{TLS_DIR}/tls.crt"),
                            "--tls-key", format!("{TLS_DIR}/tls.key"),
                            "--listen", format!("0.0.0.0:{CONTAINER_PORT}"),
                            "--shutdown-delay-seconds", "5"
                        ],
                        "env": [
                            {"name": "RUST_LOG", "value": "info"},
                            {"name": "XDG_CACHE_HOME", "value": "/var/cache"}
                        ],
                        "ports": [{"name": "https", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
                        "readinessProbe": probe("/readyz", 5),
                        "livenessProbe": probe("/healthz", 10),
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "512Mi"}
                        },
                        "securityContext": container_security,
                        "volumeMounts": [
                            {"name": "tls", "mountPath": TLS_DIR, "readOnly": true},
                            {"name": "policy", "mountPath": "/etc/portcullis/policy", "readOnly": true},
                            {"name": "cache", "mountPath": "/var/cache/portcullis"},
                            {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}
                        ]
                    }, vulndb_refresher],
                    "volumes": [
                        {"name": "tls", "secret": {"secretName": format!("{name}-tls")}},
                        {"name": "policy", "configMap": {"name": format!("{name}-policy")}},
                        {"name": "cache", "emptyDir": {"sizeLimit": "2Gi"}},
                        {"name": "kube-api-access", "projected": {
                            "defaultMode": 0o444,
                            "sources": [
                                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                            ]
                        }}
                    ]
                }
            }
        }
    }));
    docs.push(json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}}
    }));
    docs.push(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "selector": selector,
            "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]
        }
    }));

    let mut exempt: Vec<&str> = vec![ns, "kube-system"];
    for extra in &options.exempt_namespaces {
        if !exempt.contains(&extra.as_str()) {
            exempt.push(extra);
        }
    }
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(group, resources)| {
            json!({
                "apiGroups": [group],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": resources,
                "scope": "Namespaced"
            })
        })
        .collect();
    let webhook = |hook_name: &str, path: &str| {
        json!({
            "name": hook_name,
            "admissionReviewVersions": ["v1"],
            "clientConfig": {
                "service": {"namespace": ns, "name": name, "path": path, "port": 443},
                "caBundle": b64.encode(&options.ca_bundle_pem)
            },
            "rules": rules,
            "failurePolicy": options.failure_policy.as_str(),
            "matchPolicy": "Equivalent",
            "sideEffects": "None",
            "timeoutSeconds": options.timeout_seconds,
            "namespaceSelector": {
                "matchExpressions": [{
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": exempt
                }]
            }
        })
    };
    let mut mutating = webhook("mutate.portcullis.dev", "/mutate");
    if let Some(hook) = mutating.as_object_mut() {
        hook.insert("reinvocationPolicy".into(), json!("IfNeeded"));
    }
    docs.push(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name, "labels": labels},
        "webhooks": [mutating]
    }));
    docs.push(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": labels},
        "webhooks": [webhook("validate.portcullis.dev", "/validate")]
    }));
    Ok(docs)
}

/// The objects as one multi-document YAML stream.
pub fn render_yaml(options: &ManifestOptions) -> Result<String, ManifestError> {
    let mut out = String::new();
    for doc in documents(options)? {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(&doc).map_err(|e| ManifestError::Yaml(e.to_string()))?,
        );
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ManifestOptions {
        let certs = crate::certs::generate(&crate::certs::service_dns_names(
            "portcullis-admission",
            "portcullis-system",
        ))
        .expect("certs");
        ManifestOptions::new(
            "registry.example.internal/portcullis:0.1.0",
            certs.ca_cert_pem,
        )
    }

    fn schema(file: &str) -> jsonschema::Validator {
        let path = format!(
            "{}/../../../shared/fixtures/k8s/schemas/v1.32.2-standalone-strict/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("schema readable");
        let schema: Value = serde_json::from_str(&text).expect("schema json");
        jsonschema::validator_for(&schema).expect("schema compiles")
    }

    #[test]
    fn namespace_and_deployment_validate_against_the_kubernetes_schemas() {
        let docs = documents(&options()).expect("documents");
        let mut checked = 0;
        for (kind, file) in [
            ("Namespace", "namespace-v1.json"),
            ("Deployment", "deployment-apps-v1.json"),
        ] {
            let validator = schema(file);
            for doc in docs.iter().filter(|d| d["kind"] == kind) {
                let errors: Vec<String> = validator
                    .iter_errors(doc)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "{kind}: {errors:#?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 2);
        // The strict schema does catch a misspelt field.
        let mut broken = docs
            .iter()
            .find(|d| d["kind"] == "Deployment")
            .expect("deployment")
            .clone();
        broken["spec"]["replica"] = json!(2);
        assert!(!schema("deployment-apps-v1.json").is_valid(&broken));
    }

    #[test]
    fn the_deployment_template_is_a_pod_that_the_pod_schema_accepts() {
        let docs = documents(&options()).expect("documents");
        let deployment = docs
            .iter()
            .find(|d| d["kind"] == "Deployment")
            .expect("deployment");
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": deployment["spec"]["template"]["metadata"],
            "spec": deployment["spec"]["template"]["spec"],
        });
        let errors: Vec<String> = schema("pod-v1.json")
            .iter_errors(&pod)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        // The database is fetched before the webhook starts and refreshed
        // beside it, into the volume the webhook reads.
        let spec = &deployment["spec"]["template"]["spec"];
        assert_eq!(spec["initContainers"][0]["args"], json!(["db", "update"]));
        let refresher = spec["containers"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == "vulndb-refresh"))
            .expect("refresher container");
        assert_eq!(
            refresher["args"],
            json!(["db", "update", "--every-seconds", "21600"])
        );
        assert_eq!(
            refresher["volumeMounts"][0]["mountPath"],
            "/var/cache/portcullis"
        );
    }

    #[test]
    fn webhooks_fail_closed_and_exempt_their_own_namespace_and_kube_system() {
        let mut opts = options();
        opts.exempt_namespaces = vec!["monitoring".into(), "kube-system".into()];
        let docs = documents(&opts).expect("documents");
        for kind in [
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
        ] {
            let config = docs.iter().find(|d| d["kind"] == kind).expect(kind);
            let hook = &config["webhooks"][0];
            assert_eq!(hook["failurePolicy"], "Fail");
            assert_eq!(hook["sideEffects"], "None");
            assert!(hook["timeoutSeconds"].as_u64().is_some_and(|t| t <= 10));
            assert_eq!(
                hook["namespaceSelector"]["matchExpressions"][0]["values"],
                json!(["portcullis-system", "kube-system", "monitoring"])
            );
            let bundle = hook["clientConfig"]["caBundle"].as_str().expect("caBundle");
            let pem = base64::engine::general_purpose::STANDARD
                .decode(bundle)
                .expect("base64");
            assert!(String::from_utf8_lossy(&pem).starts_with("-----BEGIN CERTIFICATE-----"));
            let resources = hook["rules"][0]["resources"].as_array().expect("resources");
            assert!(resources.contains(&json!("pods/ephemeralcontainers")));
        }
        let deployment = docs
            .iter()
            .find(|d| d["kind"] == "Deployment")
            .expect("deployment");
        assert!(
            deployment["spec"]["replicas"]
                .as_u64()
                .is_some_and(|r| r >= 2)
        );
        assert!(docs.iter().any(|d| d["kind"] == "PodDisruptionBudget"));
    }

    #[test]
    fn bad_options_are_refused_with_the_reason() {
        let mut opts = options();
        opts.replicas = 1;
        assert!(
            documents(&opts)
                .expect_err("1 replica")
                .to_string()
                .contains("at least 2")
        );
        let mut opts = options();
        opts.namespace = "Bad_NS".into();
        assert!(
            documents(&opts)
                .expect_err("bad ns")
                .to_string()
                .contains("DNS label")
        );
        let mut opts = options();
        opts.ca_bundle_pem = "nothing".into();
        assert!(documents(&opts).is_err());
    }

    #[test]
    fn yaml_round_trips_to_the_same_objects() {
        let opts = options();
        let yaml = render_yaml(&opts).expect("yaml");
        let docs = documents(&opts).expect("documents");
        let parsed: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("yaml parses");
        assert_eq!(parsed, docs);
    }
}
