//! Renders an [`Inventory`] as a table, Portcullis JSON, CycloneDX 1.6 or
//! SPDX 2.3.

use std::collections::HashMap;

use portcullis_inventory::{Inventory, Package};
use serde::Serialize;

use crate::cyclonedx::{self, Bom, Component, LicenseChoice, Property};
use crate::spdx;
use crate::table::Table;

/// What the SBOM describes: the image (or filesystem) as the user named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// The reference as given, e.g. `oci:images/oci:debian12-full`.
    pub name: String,
    /// The manifest digest when the subject is an image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// When and as what a document is made; fixed by the caller so output can be
/// reproducible (`SOURCE_DATE_EPOCH`).
#[derive(Debug, Clone)]
pub struct DocumentInfo {
    /// RFC 3339 UTC timestamp, e.g. `2026-11-29T06:00:00Z`.
    pub created: String,
}

/// Portcullis's own JSON: the subject, its distribution and packages.
pub fn json(subject: &Subject, inventory: &Inventory) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        subject: &'a Subject,
        #[serde(flatten)]
        inventory: &'a Inventory,
    }
    crate::pretty_json(&Document { subject, inventory })
}

/// A table of packages: name, version, ecosystem, source and where found.
pub fn table(inventory: &Inventory) -> String {
    let mut table = Table::new(["NAME", "VERSION", "TYPE", "SOURCE", "LAYER", "PATH"]);
    for package in &inventory.packages {
        let source = match (&package.source_name, &package.source_version) {
            (Some(name), Some(version)) if name != &package.name || version != &package.version => {
                format!("{name} {version}")
            }
            (Some(name), None) if name != &package.name => name.clone(),
            _ => String::new(),
        };
        let layer = package
            .location
            .layer
            .as_deref()
            .map(short_digest)
            .unwrap_or_default();
        table.row([
            package.name.clone(),
            package.version.clone(),
            package.ecosystem.purl_type().to_string(),
            source,
            layer,
            package.location.path.clone(),
        ]);
    }
    let mut out = String::new();
    if let Some(distro) = &inventory.distro {
        let name = distro.pretty_name.clone().unwrap_or_else(|| {
            format!(
                "{} {}",
                distro.id,
                distro.version_id.as_deref().unwrap_or("")
            )
        });
        out.push_str(&format!("OS: {}\n", name.trim()));
    }
    out.push_str(&format!("{} packages\n\n", inventory.packages.len()));
    out.push_str(&table.render());
    out
}

/// CycloneDX 1.6 JSON.
pub fn cyclonedx(subject: &Subject, inventory: &Inventory, info: &DocumentInfo) -> String {
    crate::pretty_json(&cyclonedx_bom(subject, inventory, info))
}

/// The CycloneDX document, for renderers that add to it (vulnerabilities).
/// Component `bom-ref`s are the packages' purls, made unique with a `#n`
/// suffix when a purl repeats; [`component_refs`] gives them by package index.
pub fn cyclonedx_bom(subject: &Subject, inventory: &Inventory, info: &DocumentInfo) -> Bom {
    let subject_component = Component {
        kind: "container",
        bom_ref: "subject".into(),
        name: subject.name.clone(),
        version: subject.digest.clone(),
        purl: None,
        licenses: Vec::new(),
        properties: Vec::new(),
    };
    let mut bom = Bom::new(
        serial_number(subject, inventory),
        info.created.clone(),
        subject_component,
    );
    if let Some(distro) = &inventory.distro {
        bom.components.push(Component {
            kind: "operating-system",
            bom_ref: "os".into(),
            name: distro.id.clone(),
            version: distro.version_id.clone(),
            purl: None,
            licenses: Vec::new(),
            properties: distro
                .pretty_name
                .iter()
                .map(|pretty| Property::new("portcullis:distro:pretty-name", pretty.as_str()))
                .collect(),
        });
    }
    for (package, bom_ref) in inventory.packages.iter().zip(component_refs(inventory)) {
        bom.components.push(package_component(package, bom_ref));
    }
    bom
}

/// The `bom-ref` of each package of `inventory`, in order (see [`cyclonedx_bom`]).
pub fn component_refs(inventory: &Inventory) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    inventory
        .packages
        .iter()
        .map(|package| {
            let count = seen.entry(package.purl.as_str()).or_default();
            *count += 1;
            if *count == 1 {
                package.purl.clone()
            } else {
                format!("{}#{}", package.purl, count)
            }
        })
        .collect()
}

fn package_component(package: &Package, bom_ref: String) -> Component {
    let mut properties = Vec::new();
    if let Some(arch) = &package.arch {
        properties.push(Property::new("portcullis:package:arch", arch.as_str()));
    }
    if let Some(source) = &package.source_name {
        properties.push(Property::new(
            "portcullis:package:source-name",
            source.as_str(),
        ));
    }
    if let Some(version) = &package.source_version {
        properties.push(Property::new(
            "portcullis:package:source-version",
            version.as_str(),
        ));
    }
    if let Some(layer) = &package.location.layer {
        properties.push(Property::new("portcullis:location:layer", layer.as_str()));
    }
    properties.push(Property::new(
        "portcullis:location:path",
        package.location.path.as_str(),
    ));
    Component {
        kind: "library",
        bom_ref,
        name: package.name.clone(),
        version: Some(package.version.clone()),
        purl: Some(package.purl.clone()),
        licenses: package
            .licenses
            .iter()
            .map(|name| LicenseChoice {
                license: cyclonedx::License { name: name.clone() },
            })
            .collect(),
        properties,
    }
}

/// SPDX 2.3 JSON.
pub fn spdx(subject: &Subject, inventory: &Inventory, info: &DocumentInfo) -> String {
    crate::pretty_json(&spdx::Document::from_inventory(
        subject,
        inventory,
        &info.created,
        &namespace_id(subject, inventory),
    ))
}

/// A serial number that is the same for the same subject and packages, so
/// documents of one image can be compared across runs.
fn serial_number(subject: &Subject, inventory: &Inventory) -> String {
    format!("urn:uuid:{}", namespace_id(subject, inventory))
}

fn namespace_id(subject: &Subject, inventory: &Inventory) -> uuid::Uuid {
    let mut key = format!(
        "{}\n{}\n",
        subject.name,
        subject.digest.as_deref().unwrap_or("")
    );
    for package in &inventory.packages {
        key.push_str(&package.purl);
        key.push('\n');
    }
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes())
}

fn short_digest(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    hex.chars().take(12).collect()
}
