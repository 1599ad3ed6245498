//! Times opening the vulnerability database and matching 10,000 packages
//! (release build; used by `bench/scan.sh`).
//!
//!   cargo run --release -p portcullis-matcher --example match_timing -- DB [patched]
//!
//! The packages are real keys of the database (Alpine v3.20 origins and
//! language packages), each at a version old enough to fall inside most
//! ranges, so every package does the full lookup-and-evaluate work.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use portcullis_inventory::{Distro, Ecosystem, Inventory, Location, Package};
use portcullis_matcher::match_inventory;
use portcullis_vulndb::db::Database;

/// User and system CPU time of this process so far (Linux `/proc/self/stat`).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is parenthesised and may hold spaces.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The last `fixed` event of the key's records, in record order.
fn last_fix(db: &Database, ecosystem: &str, name: &str) -> Option<String> {
    let records = db.affected(ecosystem, name).ok()?;
    records
        .iter()
        .flat_map(|r| &r.ranges)
        .flat_map(|r| &r.events)
        .rev()
        .find_map(|e| match e {
            portcullis_vulndb::model::Event::Fixed(v) => Some(v.to_string()),
            _ => None,
        })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: match_timing DB [patched]")?;
    let path = std::path::Path::new(&path);
    let opens: Vec<Duration> = (0..30)
        .map(|_| {
            let start = Instant::now();
            let db = Database::open(path);
            let elapsed = start.elapsed();
            drop(db);
            elapsed
        })
        .collect();
    let db = Database::open(path)?;
    let mut packages = Vec::new();
    let keys: Vec<(String, String)> = db
        .keys()
        .filter(|(e, _)| matches!(*e, "Alpine:v3.20" | "PyPI" | "Go" | "crates.io"))
        .map(|(e, p)| (e.to_string(), p.to_string()))
        .collect();
    if keys.is_empty() {
        return Err("the database has no Alpine v3.20, PyPI, Go or crates.io records".into());
    }
    let patched = std::env::args().nth(2).as_deref() == Some("patched");
    for i in 0..10_000 {
        let (ecosystem, name) = &keys[i % keys.len()];
        let (eco, oldest) = match ecosystem.as_str() {
            "Alpine:v3.20" => (Ecosystem::Alpine, "0.1-r0"),
            "PyPI" => (Ecosystem::PyPI, "0.1"),
            "Go" => (Ecosystem::Go, "v0.0.1"),
            _ => (Ecosystem::CratesIo, "0.0.1"),
        };
        // "patched": the last fixed version any record names (a maintained
        // image: every range evaluated, few findings); else the oldest
        // version (every package hit by every advisory: the worst case).
        let version = if patched {
            last_fix(&db, ecosystem, name).unwrap_or_else(|| oldest.to_string())
        } else {
            oldest.to_string()
        };
        packages.push(Package {
            ecosystem: eco,
            name: name.clone(),
            version: version.clone(),
            arch: None,
            source_name: None,
            source_version: None,
            licenses: Vec::new(),
            purl: format!("pkg:generic/{name}@{version}"),
            location: Location {
                layer: None,
                path: format!("/pkg/{i}"),
            },
        });
    }
    let inventory = Inventory {
        distro: Some(Distro {
            id: "alpine".into(),
            version_id: Some("3.20.3".into()),
            ..Distro::default()
        }),
        packages,
    };
    let mut findings = 0;
    let cpu_before = process_cpu();
    let matches: Vec<Duration> = (0..11)
        .map(|_| {
            let start = Instant::now();
            let report = match_inventory(&inventory, &db);
            let elapsed = start.elapsed();
            findings = report.map(|r| r.findings.len()).unwrap_or(0);
            elapsed
        })
        .collect();
    // CPU time per match (all threads), steadier than wall time when other
    // work shares the machine; /proc's tick is 10 ms, so over 11 runs.
    let cpu_per_match = process_cpu().saturating_sub(cpu_before) / 11;
    let size = std::fs::metadata(path)?.len();
    println!(
        "| database open ({:.1} MiB, {} advisories; median of 30) | {:.2} ms | |",
        size as f64 / 1048576.0,
        db.metadata().advisories,
        median(opens).as_secs_f64() * 1e3
    );
    let scenario = if patched {
        "patched versions"
    } else {
        "oldest versions, worst case"
    };
    println!(
        "| match 10,000 packages, {scenario} ({} distinct keys, {findings} findings; median of 11) | {:.2} ms | {:.0} ms CPU |",
        keys.len().min(10_000),
        median(matches).as_secs_f64() * 1e3,
        cpu_per_match.as_secs_f64() * 1e3
    );
    Ok(())
}
