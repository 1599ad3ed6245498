//! The built-in catalog against node roots built in temporary directories:
//! hardened, default and deliberately weak, and hostile ones.

mod fixture;

use std::collections::BTreeSet;

use portcullis_node::{Catalog, Report, Status, audit};

fn run(root: &fixture::Fixture) -> Report {
    let catalog = Catalog::builtin().expect("built-in catalog");
    audit(root.path(), &catalog).expect("audit")
}

fn status(report: &Report, id: &str) -> Status {
    report
        .result(id)
        .unwrap_or_else(|| panic!("no result for {id}"))
        .status
}

#[track_caller]
fn assert_statuses(report: &Report, expected: &[(&str, Status)]) {
    let mut wrong = Vec::new();
    for (id, want) in expected {
        let result = report
            .result(id)
            .unwrap_or_else(|| panic!("no result for {id}"));
        if result.status != *want {
            wrong.push(format!(
                "{id}: expected {want:?}, got {:?} (expected {}; found {})",
                result.status, result.expected, result.found
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn every_kube_bench_node_check_is_in_the_catalog() {
    #[derive(serde::Deserialize)]
    struct Controls {
        groups: Vec<Group>,
    }
    #[derive(serde::Deserialize)]
    struct Group {
        checks: Vec<Check>,
    }
    #[derive(serde::Deserialize)]
    struct Check {
        id: String,
        scored: bool,
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/k8s/kube-bench/cfg/cis-1.12/node.yaml"
    );
    let text = std::fs::read_to_string(path).expect("kube-bench node.yaml");
    let controls: Controls = serde_saphyr::from_str(&text).expect("kube-bench YAML");
    let catalog = Catalog::builtin().unwrap();
    let mut implemented = std::collections::BTreeMap::new();
    for check in &catalog.checks {
        if let Some(b) = &check.benchmark
            && b.name == "CIS Kubernetes Benchmark"
            && b.version == "1.12"
        {
            implemented.insert(b.id.clone(), check);
        }
    }
    let mut missing = Vec::new();
    let mut ids = BTreeSet::new();
    for check in controls.groups.iter().flat_map(|g| &g.checks) {
        ids.insert(check.id.clone());
        match implemented.get(&check.id) {
            None => missing.push(check.id.clone()),
            // Same scoring as kube-bench: a Manual check only warns.
            Some(ours) => assert_eq!(ours.scored, check.scored, "{} scored", check.id),
        }
    }
    assert_eq!(ids.len(), 25, "kube-bench cis-1.12 has 25 node checks");
    assert!(
        missing.is_empty(),
        "kube-bench node checks missing: {missing:?}"
    );
}

#[test]
fn hardened_node_passes() {
    let node = fixture::hardened();
    let report = run(&node);
    let bad: Vec<String> = report
        .results
        .iter()
        .filter(|r| !matches!(r.status, Status::Pass | Status::NotApplicable))
        .map(|r| {
            format!(
                "{} {:?}: expected {}; found {}",
                r.id, r.status, r.expected, r.found
            )
        })
        .collect();
    // 4.2.7: kube-proxy's --hostname-override is not the kubelet's; the
    // kubelet has none, so everything passes.
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
    assert_statuses(
        &report,
        &[
            ("k8s-4.1.1", Status::Pass),
            ("k8s-4.1.5", Status::Pass),
            ("k8s-4.1.7", Status::Pass),
            ("k8s-4.1.9", Status::Pass),
            ("k8s-4.2.1", Status::Pass),
            ("k8s-4.2.12", Status::Pass),
            ("k8s-4.3.1", Status::Pass),
            ("kernel-apparmor-enabled", Status::Pass),
            ("kernel-mac-enforcing", Status::Pass),
            ("kernel-seccomp", Status::Pass),
            ("kernel-sysctl-kernel-keys-root-maxbytes", Status::Pass),
            ("kernel-selinux-enforcing", Status::NotApplicable),
            ("docker-2.2", Status::Pass),
            ("docker-2.7", Status::Pass),
            ("docker-3.24", Status::Pass),
            ("containerd-grpc-tcp-tls", Status::Pass),
            ("containerd-apparmor", Status::Pass),
            ("ssh-permit-root-login", Status::Pass),
            ("ssh-password-authentication", Status::Pass),
            ("ssh-access-limited", Status::Pass),
            ("ssh-x11-forwarding", Status::Pass),
            ("ssh-host-private-keys", Status::Pass),
            // No control plane on a worker.
            ("k8s-1.2.4", Status::NotApplicable),
            ("k8s-2.2", Status::NotApplicable),
        ],
    );
    if node.can_chown {
        assert_eq!(status(&report, "docker-3.15"), Status::Pass);
    }
    let kubelet = report
        .components
        .iter()
        .find(|c| c.name == "kubelet")
        .unwrap();
    assert_eq!(kubelet.found_by.as_deref(), Some("process 812"));
    // The kubelet config came from --config, and the result says so.
    let anon = report.result("k8s-4.2.1").unwrap();
    assert!(
        anon.found
            .contains("authentication.anonymous.enabled in /var/lib/kubelet/config.yaml"),
        "{}",
        anon.found
    );
    assert!(
        anon.read.iter().any(|r| r.contains("pid 812")),
        "{:?}",
        anon.read
    );
    // The effective sshd value comes from the drop-in, not the main file.
    let root_login = report.result("ssh-permit-root-login").unwrap();
    assert!(
        root_login
            .found
            .contains("/etc/ssh/sshd_config.d/10-hardening.conf:1"),
        "{}",
        root_login.found
    );
}

#[test]
fn default_kubeadm_and_debian_node() {
    let report = run(&fixture::default_node());
    assert_statuses(
        &report,
        &[
            // The config file sets these explicitly.
            ("k8s-4.2.1", Status::Pass),
            ("k8s-4.2.2", Status::Pass),
            ("k8s-4.2.3", Status::Pass),
            // Unset, and unset is fine for these (kube-bench's `set: false`).
            ("k8s-4.2.4", Status::Pass),
            ("k8s-4.2.5", Status::Pass),
            ("k8s-4.2.6", Status::Pass),
            ("k8s-4.2.10", Status::Pass),
            ("k8s-4.2.11", Status::Pass),
            // Manual checks whose value is unset: warnings, not failures.
            ("k8s-4.2.9", Status::Warn),
            ("k8s-4.2.12", Status::Warn),
            ("k8s-4.2.13", Status::Warn),
            ("k8s-4.2.14", Status::Warn),
            // kubeadm writes config.yaml 644: CIS wants 600.
            ("k8s-4.1.9", Status::Fail),
            ("k8s-4.1.10", Status::Pass),
            // No kubelet service file, no kube-proxy: not applicable.
            ("k8s-4.1.1", Status::NotApplicable),
            ("k8s-4.1.3", Status::NotApplicable),
            ("k8s-4.3.1", Status::NotApplicable),
            ("k8s-kubelet-protect-kernel-defaults", Status::Fail),
            // No /proc/sys in this root: the sysctls cannot be read.
            ("kernel-sysctl-vm-overcommit-memory", Status::NotApplicable),
            // No Docker, no containerd.
            ("docker-2.2", Status::NotApplicable),
            ("containerd-grpc-tcp-tls", Status::NotApplicable),
            // sshd defaults: root login prohibit-password, passwords allowed.
            ("ssh-permit-root-login", Status::Fail),
            ("ssh-password-authentication", Status::Fail),
            ("ssh-permit-empty-passwords", Status::Pass),
            ("ssh-x11-forwarding", Status::Fail),
            ("ssh-access-limited", Status::Fail),
            ("ssh-max-auth-tries", Status::Fail),
            ("ssh-config-file", Status::Fail),
            ("ssh-host-private-keys", Status::Pass),
            ("ssh-strong-ciphers", Status::Pass),
            ("ssh-client-alive", Status::Warn),
            // Neither SELinux nor AppArmor in this root.
            ("kernel-mac-enforcing", Status::Fail),
        ],
    );
    let root_login = report.result("ssh-permit-root-login").unwrap();
    assert!(
        root_login.found.contains("default prohibit-password"),
        "{}",
        root_login.found
    );
}

#[test]
fn weak_node_fails_where_it_is_weak() {
    let node = fixture::weak();
    let report = run(&node);
    assert_statuses(
        &report,
        &[
            // Flags override the config file (which says AlwaysAllow etc.).
            ("k8s-4.2.1", Status::Fail),
            ("k8s-4.2.2", Status::Fail),
            ("k8s-4.2.3", Status::Fail),
            ("k8s-4.2.4", Status::Warn),
            ("k8s-4.2.5", Status::Warn),
            ("k8s-4.2.6", Status::Fail),
            ("k8s-4.2.7", Status::Warn),
            ("k8s-4.2.10", Status::Fail),
            ("k8s-4.2.11", Status::Warn),
            ("k8s-4.2.12", Status::Warn),
            ("k8s-4.1.1", Status::Fail),
            ("k8s-4.1.3", Status::Warn),
            ("k8s-4.1.4", Status::Pass),
            ("k8s-4.1.5", Status::Fail),
            ("k8s-4.1.9", Status::Fail),
            ("kernel-sysctl-vm-overcommit-memory", Status::Fail),
            ("kernel-sysctl-kernel-panic", Status::Fail),
            ("kernel-sysctl-vm-panic-on-oom", Status::NotApplicable),
            ("kernel-seccomp", Status::Fail),
            // dockerd flags win over daemon.json (icc), TCP without TLS.
            ("docker-2.2", Status::Fail),
            ("docker-2.5", Status::Fail),
            ("docker-2.6", Status::Fail),
            ("docker-2.7", Status::Fail),
            ("docker-2.9", Status::Fail),
            ("docker-2.14", Status::Fail),
            ("docker-2.15", Status::Fail),
            ("docker-2.17", Status::Warn),
            ("docker-2.18", Status::Fail),
            ("docker-3.16", Status::Fail),
            ("docker-3.18", Status::Fail),
            ("containerd-grpc-tcp-tls", Status::Fail),
            ("containerd-apparmor", Status::Fail),
            ("containerd-stream-server-local", Status::Fail),
            // The Include comes first: its PermitRootLogin yes wins.
            ("ssh-permit-root-login", Status::Fail),
            ("ssh-permit-empty-passwords", Status::Fail),
            ("ssh-login-grace-time", Status::Fail),
            ("ssh-max-auth-tries", Status::Fail),
            ("ssh-strong-ciphers", Status::Fail),
            ("ssh-host-private-keys", Status::Fail),
            // Control plane from static pod manifests.
            ("k8s-1.2.4", Status::Fail),
            ("k8s-1.2.24", Status::Fail),
            ("k8s-apiserver-etcd-https", Status::Fail),
            ("k8s-1.1.20", Status::Warn),
            ("k8s-1.1.21", Status::Warn),
            ("k8s-2.1", Status::Fail),
            ("k8s-2.2", Status::Fail),
            ("k8s-2.3", Status::Fail),
            ("k8s-etcd-client-urls-https", Status::Fail),
        ],
    );
    if node.can_chown {
        assert_eq!(status(&report, "k8s-4.1.10"), Status::Fail);
        let owner = report.result("k8s-4.1.10").unwrap();
        assert!(owner.found.contains("owner kube:kube"), "{}", owner.found);
    }
    let anon = report.result("k8s-4.2.1").unwrap();
    assert!(anon.found.contains("--anonymous-auth"), "{}", anon.found);
    let etcd = report.result("k8s-2.2").unwrap();
    assert!(
        etcd.found
            .contains("environment variable ETCD_CLIENT_CERT_AUTH"),
        "{}",
        etcd.found
    );
    let root_login = report.result("ssh-permit-root-login").unwrap();
    assert!(
        root_login
            .found
            .contains("/etc/ssh/conf.d/00-legacy.conf:1"),
        "{}",
        root_login.found
    );
    assert!(report.failures_at(portcullis_node::Level::Critical).count() >= 3);
}

#[test]
fn broken_configs_are_errors_on_their_checks_only() {
    let f = fixture::Fixture::new();
    f.process(812, &["kubelet", "--config=/var/lib/kubelet/config.yaml"])
        .file(
            "/var/lib/kubelet/config.yaml",
            "authentication: [unclosed\n",
            0o600,
        )
        .process(710, &["dockerd", "--anonymous-auth"])
        .file("/etc/docker/daemon.json", "{\"icc\": false,", 0o644)
        .process(700, &["containerd"])
        .file("/etc/containerd/config.toml", "[grpc\n", 0o644)
        .file(
            "/etc/ssh/sshd_config",
            "Include /etc/ssh/loop.conf\n",
            0o600,
        )
        .symlink("/etc/ssh/loop.conf", "/etc/ssh/loop2.conf")
        .symlink("/etc/ssh/loop2.conf", "loop.conf");
    let report = run(&f);
    assert_statuses(
        &report,
        &[
            ("k8s-4.2.1", Status::Error),
            ("k8s-4.2.7", Status::Pass),
            // The file is still there to stat.
            ("k8s-4.1.9", Status::Pass),
            ("docker-2.2", Status::Error),
            ("docker-3.18", Status::Pass),
            ("containerd-grpc-tcp-tls", Status::Error),
            ("ssh-permit-root-login", Status::Error),
        ],
    );
    let kubelet = report.result("k8s-4.2.1").unwrap();
    assert!(
        kubelet.found.contains("/var/lib/kubelet/config.yaml"),
        "{}",
        kubelet.found
    );
    let ssh = report.result("ssh-permit-root-login").unwrap();
    assert!(ssh.found.contains("symbolic links"), "{}", ssh.found);
}

#[test]
fn symlinks_never_lead_outside_the_root() {
    // A secret outside the root that a hostile node points at.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("config.yaml"),
        "authentication:\n  anonymous:\n    enabled: false\n",
    )
    .unwrap();
    let f = fixture::Fixture::new();
    let target = outside.path().join("config.yaml");
    f.process(812, &["kubelet", "--config=/var/lib/kubelet/config.yaml"])
        .symlink("/var/lib/kubelet/config.yaml", target.to_str().unwrap())
        .symlink("/proc/sys", "/proc/sys")
        .symlink("/etc/ssh", "../../../../../..")
        .file("/sshd_config", "PermitRootLogin no\n", 0o600);
    let report = run(&f);
    // The absolute link resolves inside the root, where there is no such file.
    let anon = report.result("k8s-4.2.1").unwrap();
    assert_eq!(anon.status, Status::Error, "{}", anon.found);
    assert!(
        anon.found.contains("does not exist on the node"),
        "{}",
        anon.found
    );
    // A self-referencing /proc/sys is a per-check error, not a crash.
    assert_eq!(status(&report, "kernel-sysctl-kernel-panic"), Status::Error);
    // /etc/ssh -> ../../.. is the root itself: /etc/ssh/sshd_config is /sshd_config.
    assert_eq!(status(&report, "ssh-permit-root-login"), Status::Pass);
}

#[test]
fn unreadable_files_are_errors() {
    let f = fixture::hardened();
    if !f.can_chown {
        // Root reads everything; unprivileged, a 000 file is unreadable.
        f.file(
            "/var/lib/kubelet/config.yaml",
            fixture::KUBELET_HARDENED,
            0o000,
        );
        let report = run(&f);
        assert_eq!(status(&report, "k8s-4.2.1"), Status::Error);
    } else {
        // As root, a directory where a file should be is unreadable.
        std::fs::remove_file(f.host("/etc/docker/daemon.json")).unwrap();
        std::fs::create_dir(f.host("/etc/docker/daemon.json")).unwrap();
        let report = run(&f);
        let icc = report.result("docker-2.2").unwrap();
        assert_eq!(icc.status, Status::Error, "{}", icc.found);
        assert!(icc.found.contains("is a directory"), "{}", icc.found);
    }
}

#[test]
fn a_root_that_is_not_a_directory_is_refused() {
    let catalog = Catalog::builtin().unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    assert!(audit(file.path(), &catalog).is_err());
    assert!(audit(std::path::Path::new("/nonexistent/portcullis"), &catalog).is_err());
}

#[test]
fn kubelet_drop_in_directory_overrides_the_config_file() {
    let f = fixture::Fixture::new();
    f.process(
        812,
        &[
            "/usr/bin/kubelet",
            "--config=/var/lib/kubelet/config.yaml",
            "--config-dir=/etc/kubernetes/kubelet.conf.d",
        ],
    )
    .file(
        "/var/lib/kubelet/config.yaml",
        fixture::KUBELET_HARDENED,
        0o600,
    )
    .file(
        "/etc/kubernetes/kubelet.conf.d/10-debug.conf",
        "authentication:\n  anonymous:\n    enabled: true\nreadOnlyPort: 10255\n",
        0o600,
    )
    .file(
        "/etc/kubernetes/kubelet.conf.d/20-fix.conf",
        "readOnlyPort: 0\n",
        0o600,
    )
    .file(
        "/etc/kubernetes/kubelet.conf.d/README",
        "readOnlyPort: 1\n",
        0o600,
    );
    let report = run(&f);
    let anon = report.result("k8s-4.2.1").unwrap();
    assert_eq!(anon.status, Status::Fail, "{}", anon.found);
    assert!(
        anon.found.contains("kubelet.conf.d/10-debug.conf"),
        "{}",
        anon.found
    );
    let port = report.result("k8s-4.2.4").unwrap();
    assert_eq!(port.status, Status::Pass, "{}", port.found);
    assert!(
        port.found.contains("kubelet.conf.d/20-fix.conf"),
        "{}",
        port.found
    );
    // Keys no drop-in sets still come from the file.
    let authz = report.result("k8s-4.2.2").unwrap();
    assert!(
        authz.found.contains("/var/lib/kubelet/config.yaml"),
        "{}",
        authz.found
    );
}
