//! SPDX 2.3 JSON documents for an inventory.

use portcullis_inventory::{Inventory, Package};
use serde::Serialize;

use crate::sbom::Subject;

/// An SPDX 2.3 document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub spdx_version: &'static str,
    pub data_license: &'static str,
    #[serde(rename = "SPDXID")]
    pub spdx_id: &'static str,
    pub name: String,
    pub document_namespace: String,
    pub creation_info: CreationInfo,
    pub document_describes: Vec<String>,
    pub packages: Vec<SpdxPackage>,
    pub relationships: Vec<Relationship>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CreationInfo {
    pub created: String,
    pub creators: Vec<String>,
}

/// A package; the image itself is one too.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxPackage {
    pub name: String,
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_info: Option<String>,
    pub download_location: &'static str,
    pub files_analyzed: bool,
    pub license_concluded: &'static str,
    pub license_declared: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_comments: Option<String>,
    pub copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_package_purpose: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_refs: Vec<ExternalRef>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRef {
    pub reference_category: &'static str,
    pub reference_type: &'static str,
    pub reference_locator: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    pub spdx_element_id: String,
    pub relationship_type: &'static str,
    pub related_spdx_element: String,
}

const NOASSERTION: &str = "NOASSERTION";
const SUBJECT_ID: &str = "SPDXRef-Subject";

impl Document {
    /// The document for `inventory` of `subject`; `namespace` makes the
    /// document namespace unique per content.
    pub fn from_inventory(
        subject: &Subject,
        inventory: &Inventory,
        created: &str,
        namespace: &uuid::Uuid,
    ) -> Self {
        let mut packages = vec![SpdxPackage {
            name: subject.name.clone(),
            spdx_id: SUBJECT_ID.into(),
            version_info: subject.digest.clone(),
            download_location: NOASSERTION,
            files_analyzed: false,
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.into(),
            license_comments: None,
            copyright_text: NOASSERTION,
            source_info: None,
            primary_package_purpose: Some("CONTAINER"),
            external_refs: Vec::new(),
        }];
        let mut relationships = vec![Relationship {
            spdx_element_id: "SPDXRef-DOCUMENT".into(),
            relationship_type: "DESCRIBES",
            related_spdx_element: SUBJECT_ID.into(),
        }];
        for (index, package) in inventory.packages.iter().enumerate() {
            let spdx_id = format!("SPDXRef-Package-{index}");
            relationships.push(Relationship {
                spdx_element_id: SUBJECT_ID.into(),
                relationship_type: "CONTAINS",
                related_spdx_element: spdx_id.clone(),
            });
            packages.push(package_of(package, spdx_id));
        }
        Self {
            spdx_version: "SPDX-2.3",
            data_license: "CC0-1.0",
            spdx_id: "SPDXRef-DOCUMENT",
            name: subject.name.clone(),
            document_namespace: format!("https://example.invalid/portcullis/spdx/{namespace}"),
            creation_info: CreationInfo {
                created: created.to_string(),
                creators: vec![format!("Tool: portcullis-{}", env!("CARGO_PKG_VERSION"))],
            },
            document_describes: vec![SUBJECT_ID.into()],
            packages,
            relationships,
        }
    }
}

fn package_of(package: &Package, spdx_id: String) -> SpdxPackage {
    // Package databases spell licences freely ("GPL-2+", "BSD-3-clause and
    // MIT"); only a valid SPDX expression may stand in licenseDeclared, the
    // rest is kept verbatim as a comment.
    let joined = package.licenses.join(" AND ");
    let (license_declared, license_comments) = if package.licenses.is_empty() {
        (NOASSERTION.to_string(), None)
    } else if spdx::Expression::parse(&joined).is_ok() {
        (joined, None)
    } else {
        (NOASSERTION.to_string(), Some(format!("declared: {joined}")))
    };
    let source_info = package
        .source_name
        .as_ref()
        .map(|name| match &package.source_version {
            Some(version) => format!("built from source package {name} {version}"),
            None => format!("built from source package {name}"),
        });
    SpdxPackage {
        name: package.name.clone(),
        spdx_id,
        version_info: Some(package.version.clone()),
        download_location: NOASSERTION,
        files_analyzed: false,
        license_concluded: NOASSERTION,
        license_declared,
        license_comments,
        copyright_text: NOASSERTION,
        source_info,
        primary_package_purpose: None,
        external_refs: vec![ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: package.purl.clone(),
        }],
    }
}
