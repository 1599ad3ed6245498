//! The Rocky Linux OVAL and Node.js Security WG fixture feeds, read through
//! `ingest::load_path` as `db update --source DIR` reads them: every
//! definition / file is either an advisory or a counted skip, and a few
//! records are checked field by field against the XML / JSON read by hand.

use std::path::PathBuf;

use portcullis_vulndb::ingest::{self, Batch};
use portcullis_vulndb::model::{Advisory, Event, Level, RangeKind};

fn advisories_dir(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/vulndata/advisories"
    ))
    .join(name)
}

fn load(name: &str) -> Batch {
    let path = advisories_dir(name);
    ingest::load_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn find<'a>(batch: &'a Batch, id: &str) -> &'a Advisory {
    batch
        .advisories
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("{id} not read"))
}

fn count_skips(batch: &Batch, needle: &str) -> usize {
    batch
        .skipped
        .iter()
        .filter(|s| s.reason.contains(needle))
        .count()
}

#[test]
fn rocky_oval_every_definition_is_an_advisory_or_a_counted_skip() {
    let batch = load("rocky-oval");
    assert_eq!(batch.documents, 2);
    // PROVENANCE.md: 175 (rlsa-9.xml) + 64 (rlsa-8.xml) definitions. The
    // 64 of `rlsa-8.xml` are an older snapshot of Rocky 9 RLSAs that are all
    // in `rlsa-9.xml` too: 39 unchanged, 25 with other fixed versions, for
    // which the newer snapshot (2024-05-10) is kept.
    let unchanged = count_skips(&batch, "the same definition was read from another file");
    let replaced = count_skips(&batch, "is replaced by this one");
    assert_eq!((unchanged, replaced), (39, 25));
    assert_eq!(batch.advisories.len(), 175);
    assert_eq!(batch.advisories.len() + unchanged + replaced, 175 + 64);
    // One criterion of RLSA-2023:3661 points at a test the file lacks.
    assert_eq!(count_skips(&batch, "test left out"), 1);
    assert_eq!(batch.skipped.len(), 39 + 25 + 1);
    assert!(
        batch
            .advisories
            .iter()
            .flat_map(|a| &a.affected)
            .all(|a| a.ecosystem == "Rocky Linux:9" && a.ranges.len() == 1)
    );

    // RLSA-2023:4030, by hand from rlsa-9.xml: severity Critical, issued and
    // updated 2023-07-19, CVE-2023-3128 in the description, three
    // `rpminfo_test`s with state `0:9.0.9-3.el9_2`.
    let grafana = find(&batch, "RLSA-2023:4030");
    assert_eq!(grafana.aliases, ["CVE-2023-3128"]);
    assert_eq!(
        grafana.summary.as_deref(),
        Some("grafana security update (Critical)")
    );
    assert_eq!(grafana.published.as_deref(), Some("2023-07-19T00:00:00Z"));
    assert_eq!(grafana.modified.as_deref(), Some("2023-07-19T00:00:00Z"));
    let mut packages: Vec<&str> = grafana
        .affected
        .iter()
        .map(|a| a.package.as_str())
        .collect();
    packages.sort();
    assert_eq!(
        packages,
        ["grafana", "grafana-debuginfo", "grafana-debugsource"]
    );
    for affected in &grafana.affected {
        assert_eq!(affected.ranges[0].kind, RangeKind::Ecosystem);
        assert_eq!(
            affected.ranges[0].events,
            [
                Event::Introduced("0".into()),
                Event::Fixed("9.0.9-3.el9_2".into())
            ]
        );
        assert_eq!(
            affected.severity.as_ref().map(|s| s.level),
            Some(Level::Critical)
        );
    }

    // RLSA-2022:5716: rlsa-8.xml (2023-05-08) says grafana 7.5.15-3.el9,
    // rlsa-9.xml (2024-05-10) says 9.0.9-3.el9_2; the newer one is kept.
    let older = find(&batch, "RLSA-2022:5716");
    let grafana_fix: Vec<&str> = older
        .affected
        .iter()
        .filter(|a| a.package == "grafana")
        .map(|a| a.ranges[0].events[1].version())
        .collect();
    assert_eq!(grafana_fix, ["9.0.9-3.el9_2"]);
}

#[test]
fn nswg_npm_advisories_are_read_and_core_ones_skipped_with_reasons() {
    let batch = load("nodejs-security-wg");
    // PROVENANCE.md: 468 npm advisories and 172 core; on disk that is 467
    // advisory files + index.json in vuln/npm and 171 + index.json in
    // vuln/core.
    assert_eq!(batch.documents, 468 + 172);
    let core = count_skips(&batch, "Node.js core advisory");
    let indexes = count_skips(&batch, "index of the Node.js Security WG advisories");
    assert_eq!((core, indexes), (171, 2));
    // Every npm expression in the fixture converts exactly.
    assert_eq!(batch.advisories.len(), 467);
    assert_eq!(batch.skipped.len(), core + indexes);
    assert!(
        batch
            .advisories
            .iter()
            .all(|a| a.id.starts_with("NSWG-ECO-") && a.affected[0].ecosystem == "npm")
    );

    // vuln/npm/1.json: bassmaster, `<=1.5.1`, CVSS:3.0 vector scoring 6.5.
    let bassmaster = find(&batch, "NSWG-ECO-1");
    assert_eq!(bassmaster.aliases, ["CVE-2014-7205"]);
    assert_eq!(
        bassmaster.summary.as_deref(),
        Some("Arbitrary JavaScript Execution")
    );
    assert_eq!(
        bassmaster.published.as_deref(),
        Some("2014-09-27T00:00:00Z")
    );
    assert_eq!(bassmaster.modified.as_deref(), Some("2016-04-28T00:00:00Z"));
    let severity = bassmaster.severity.as_ref().expect("scored");
    assert_eq!((severity.level, severity.score), (Level::Medium, Some(6.5)));
    assert_eq!(bassmaster.affected[0].package, "bassmaster");
    assert_eq!(
        bassmaster.affected[0].ranges[0].events,
        [
            Event::Introduced("0".into()),
            Event::LastAffected("1.5.1".into())
        ]
    );

    // vuln/npm/8.json: express, `<3.11 || >= 4 <4.5` (partial versions, as
    // node-semver desugars them).
    let express = find(&batch, "NSWG-ECO-8");
    assert_eq!(express.aliases, ["CVE-2014-6393"]);
    let events: Vec<&[Event]> = express.affected[0]
        .ranges
        .iter()
        .map(|r| r.events.as_slice())
        .collect();
    assert_eq!(
        events,
        [
            &[
                Event::Introduced("0".into()),
                Event::Fixed("3.11.0-0".into())
            ][..],
            &[
                Event::Introduced("4.0.0".into()),
                Event::Fixed("4.5.0-0".into())
            ][..],
        ]
    );

    // vuln/npm/49.json: mapbox.js, `<1.6.5 || < 2.1.7 > 2.0.0`, no CVE.
    let mapbox = find(&batch, "NSWG-ECO-49");
    assert!(mapbox.aliases.is_empty());
    assert_eq!(mapbox.affected[0].ranges.len(), 2);
    assert_eq!(
        mapbox.affected[0].ranges[1].events,
        [
            Event::Introduced("2.0.1-0".into()),
            Event::Fixed("2.1.7".into())
        ]
    );

    // vuln/npm/359.json: serve-here, `cvss_score: -1` and no vector.
    let serve_here = find(&batch, "NSWG-ECO-359");
    assert_eq!(serve_here.severity, None);
    assert_eq!(serve_here.affected[0].package, "serve-here");
}
