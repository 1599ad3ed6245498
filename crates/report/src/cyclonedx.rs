//! CycloneDX 1.6 JSON: the subset of the model Portcullis writes, valid
//! against the official schema (tested with the schema in `shared/fixtures`).
//!
//! The SBOM renderer fills [`Bom::components`]; the scan renderer adds
//! [`Bom::vulnerabilities`].

use serde::Serialize;

/// A CycloneDX document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    pub bom_format: &'static str,
    pub spec_version: &'static str,
    /// `urn:uuid:…`.
    pub serial_number: String,
    pub version: u32,
    pub metadata: Metadata,
    pub components: Vec<Component>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
}

impl Bom {
    /// An empty 1.6 document about `subject`, made by Portcullis at `timestamp`
    /// (RFC 3339).
    pub fn new(serial_number: String, timestamp: String, subject: Component) -> Self {
        Self {
            bom_format: "CycloneDX",
            spec_version: "1.6",
            serial_number,
            version: 1,
            metadata: Metadata {
                timestamp,
                tools: Tools {
                    components: vec![ToolComponent {
                        kind: "application",
                        name: "portcullis",
                        version: env!("CARGO_PKG_VERSION"),
                    }],
                },
                component: subject,
            },
            components: Vec::new(),
            vulnerabilities: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub timestamp: String,
    pub tools: Tools,
    pub component: Component,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tools {
    pub components: Vec<ToolComponent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolComponent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: &'static str,
    pub version: &'static str,
}

/// A component: the image itself, its operating system, or a package.
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// `container`, `operating-system`, `library`, `application`, …
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "bom-ref")]
    pub bom_ref: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// A licence by name (CycloneDX also allows SPDX ids and expressions; a name
/// is always valid, whatever the package database spells).
#[derive(Debug, Clone, Serialize)]
pub struct LicenseChoice {
    pub license: License,
}

#[derive(Debug, Clone, Serialize)]
pub struct License {
    pub name: String,
}

/// A `name`/`value` property.
#[derive(Debug, Clone, Serialize)]
pub struct Property {
    pub name: String,
    pub value: String,
}

impl Property {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A vulnerability affecting components of the BOM.
#[derive(Debug, Clone, Serialize)]
pub struct Vulnerability {
    #[serde(rename = "bom-ref")]
    pub bom_ref: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<VulnerabilitySource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<VulnerabilityReference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratings: Vec<Rating>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<Advisory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    pub affects: Vec<Affects>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VulnerabilitySource {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Another id of the same vulnerability (an alias).
#[derive(Debug, Clone, Serialize)]
pub struct VulnerabilityReference {
    pub id: String,
    pub source: VulnerabilitySource,
}

/// A severity rating; `severity` is one of `critical`, `high`, `medium`,
/// `low`, `info`, `none`, `unknown`.
#[derive(Debug, Clone, Serialize)]
pub struct Rating {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<VulnerabilitySource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub severity: String,
    /// `CVSSv31`, `CVSSv4`, `other`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Advisory {
    pub url: String,
}

/// VEX-style analysis of a vulnerability in this BOM.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// `resolved`, `exploitable`, `in_triage`, `false_positive`, `not_affected`, …
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Affects {
    /// The `bom-ref` of the affected component.
    #[serde(rename = "ref")]
    pub component_ref: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<AffectedVersion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AffectedVersion {
    pub version: String,
    /// `affected`, `unaffected` or `unknown`.
    pub status: &'static str,
}
