//! Vulnerability verdicts per image, as the admission path needs them: looked
//! up by digest in a cache, scanned on a miss with bounded concurrency, one
//! scan per digest however many requests wait for it, within a time budget.
//!
//! The scanning itself is behind [`ImageVerdicts`], which the binary
//! implements with the shared scan pipeline; this module only schedules it.
//!
//! A tag resolves to two digests: the one it names in the registry (an index
//! when the image is multi-platform: what a tag is pinned to) and the chosen
//! platform's manifest inside it (what is scanned). A verdict is cached under
//! both, so a Pod naming either digest is judged from the cache. Verdicts are
//! dropped when the vulnerability database is reloaded
//! ([`VerdictCache::reload_if_changed`]): a verdict is only as good as the
//! advisories it was computed with.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use crate::metrics::Metrics;

/// Why no verdict could be had for an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerdictError {
    /// The tag could not be resolved to a digest (registry unreachable, unknown tag).
    #[error("cannot resolve {image} to a digest: {reason}")]
    Resolve {
        /// The image reference.
        image: String,
        /// What the registry client said.
        reason: String,
    },
    /// The image could not be scanned.
    #[error("cannot scan {image}: {reason}")]
    Scan {
        /// The image reference.
        image: String,
        /// What the scanner said.
        reason: String,
    },
}

/// Why what verdicts are computed from (the vulnerability database) could
/// not be reloaded; the previous one keeps serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot reload {what}: {reason}")]
pub struct ReloadError {
    /// What was being reloaded (the database file's path).
    pub what: String,
    /// Why it failed.
    pub reason: String,
}

/// What an image reference resolves to in its registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The digest the reference names, `sha256:…`: the index (manifest list)
    /// of a multi-platform image, else its manifest. Tags are pinned to it so
    /// that every node architecture still pulls its own image.
    pub digest: String,
    /// The manifest of the platform chosen within it, which is what is
    /// scanned (equal to `digest` for a single-platform image).
    pub platform_digest: String,
}

/// The vulnerability database verdicts are computed with, as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// When it was built (RFC 3339, as the database records it).
    pub built: String,
    /// The build time in seconds since the Unix epoch, when `built` parses.
    pub built_unix_seconds: Option<i64>,
    /// Distinct advisories it holds.
    pub advisories: u64,
}

/// The judgement of one image (by digest) against the vulnerability policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    /// The platform manifest digest that was scanned, `sha256:…`.
    pub digest: String,
    /// Findings that fail the policy, one line each (e.g. `CVE-2024-1 critical in openssl 3.0.1`).
    pub denials: Vec<String>,
    /// Findings below the failure threshold worth telling the user.
    pub warnings: Vec<String>,
}

/// Where verdicts come from: registry resolution and image scanning.
///
/// Every call may block (network, decompression, matching, file reads); they
/// run on the blocking thread pool, never on the request path's reactor threads.
pub trait ImageVerdicts: Send + Sync + 'static {
    /// Resolves a tag reference (`nginx:1.27`) through the registry to the
    /// digest it names and the platform manifest that would be scanned.
    fn resolve_digest(&self, image: &str) -> Result<Resolution, VerdictError>;
    /// Scans the image at `digest` (an index is resolved to the configured
    /// platform's manifest) and judges it; the verdict names the manifest scanned.
    fn judge(&self, image: &str, digest: &str) -> Result<ImageVerdict, VerdictError>;
    /// Reloads the vulnerability database when its file changed: `Ok(None)`
    /// when nothing changed, the new database's description when it was
    /// swapped in. On an error the previous database must keep serving.
    fn reload_if_changed(&self) -> Result<Option<DatabaseInfo>, ReloadError> {
        Ok(None)
    }
}

/// A verdict, with the digest the image reference resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The digest the reference names (the pinned digest, or what its tag
    /// resolved to): what a tag is pinned to.
    pub digest: String,
    /// The verdict, computed on the platform manifest it names.
    pub verdict: Arc<ImageVerdict>,
}

/// The outcome of asking for a verdict within a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The verdict is known.
    Ready(Judged),
    /// The budget ran out first; the scan goes on and its result will be cached.
    Pending,
    /// Resolution or scanning failed.
    Failed(VerdictError),
}

/// Tuning of the verdict cache.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Most verdicts kept (oldest evicted first).
    pub capacity: usize,
    /// How long a verdict stays valid (new advisories arrive; rescan after this).
    pub verdict_ttl: Duration,
    /// How long a tag → digest resolution is trusted (tags move).
    pub tag_ttl: Duration,
    /// Scans running at the same time.
    pub max_concurrent_scans: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            verdict_ttl: Duration::from_secs(6 * 3600),
            tag_ttl: Duration::from_secs(300),
            max_concurrent_scans: 2,
        }
    }
}

type Flight<V> = watch::Receiver<Option<Result<V, VerdictError>>>;

enum Slot<V> {
    Ready(V, Instant),
    Pending(Flight<V>),
}

/// A keyed cache in which each missing key is computed once: later askers
/// wait on the same flight instead of starting their own.
struct SingleFlight<V: Clone + Send + Sync + 'static> {
    slots: Mutex<Slots<V>>,
    ttl: Duration,
    capacity: usize,
}

/// The entries by key, finished keys oldest first (for eviction), and the
/// generation: [`SingleFlight::clear`] starts a new one, and flights started
/// in an older generation are not cached when they finish.
struct Slots<V> {
    entries: HashMap<String, Slot<V>>,
    order: VecDeque<String>,
    generation: u64,
}

/// A flight this caller must run: finish it with [`SingleFlight::finish`].
struct Started<V> {
    sender: watch::Sender<Option<Result<V, VerdictError>>>,
    generation: u64,
}

enum Found<V> {
    Hit(V),
    Wait(Flight<V>),
    Start(Started<V>, Flight<V>),
}

impl<V: Clone + Send + Sync + 'static> SingleFlight<V> {
    fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            slots: Mutex::new(Slots {
                entries: HashMap::new(),
                order: VecDeque::new(),
                generation: 0,
            }),
            ttl,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots<V>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The finished, unexpired value for `key`, without starting anything.
    fn peek(&self, key: &str) -> Option<V> {
        match self.lock().entries.get(key) {
            Some(Slot::Ready(value, at)) if at.elapsed() < self.ttl => Some(value.clone()),
            _ => None,
        }
    }

    fn find(&self, key: &str) -> Found<V> {
        let mut slots = self.lock();
        match slots.entries.get(key) {
            Some(Slot::Ready(value, at)) if at.elapsed() < self.ttl => {
                return Found::Hit(value.clone());
            }
            Some(Slot::Pending(flight)) => return Found::Wait(flight.clone()),
            _ => {}
        }
        let (sender, receiver) = watch::channel(None);
        slots
            .entries
            .insert(key.to_owned(), Slot::Pending(receiver.clone()));
        let generation = slots.generation;
        Found::Start(Started { sender, generation }, receiver)
    }

    /// Records the outcome of the flight for `key`, and on success the same
    /// value under `alias` too. Outcomes of flights started before the last
    /// [`clear`](Self::clear) are dropped.
    fn finish(
        &self,
        key: &str,
        generation: u64,
        result: &Result<V, VerdictError>,
        alias: Option<String>,
    ) {
        let mut guard = self.lock();
        let slots = &mut *guard;
        if slots.generation != generation {
            return;
        }
        match result {
            Ok(value) => {
                let now = Instant::now();
                for cached_as in std::iter::once(key.to_owned()).chain(alias.filter(|a| a != key)) {
                    slots
                        .entries
                        .insert(cached_as.clone(), Slot::Ready(value.clone(), now));
                    slots.order.push_back(cached_as);
                }
                // Evict the oldest finished entries; pending flights stay.
                while slots.entries.len() > self.capacity {
                    let Some(oldest) = slots.order.pop_front() else {
                        break;
                    };
                    if matches!(slots.entries.get(&oldest), Some(Slot::Ready(..))) && oldest != key
                    {
                        slots.entries.remove(&oldest);
                    }
                }
                // Keys re-finished after expiry appear twice; keep the queue bounded.
                if slots.order.len() > self.capacity.saturating_mul(2) {
                    let entries = &slots.entries;
                    slots.order.retain(|k| entries.contains_key(k));
                }
            }
            // Failures are not cached: the next request tries again.
            Err(_) => {
                slots.entries.remove(key);
            }
        }
    }

    /// Forgets every entry; flights still running finish for their waiters
    /// but are not cached.
    fn clear(&self) {
        let mut slots = self.lock();
        slots.generation = slots.generation.wrapping_add(1);
        slots.entries.clear();
        slots.order.clear();
    }

    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

async fn wait_for<V: Clone>(
    mut flight: Flight<V>,
    deadline: Instant,
) -> Option<Result<V, VerdictError>> {
    let waited = tokio::time::timeout_at(
        tokio::time::Instant::from_std(deadline),
        flight.wait_for(Option::is_some),
    )
    .await;
    match waited {
        Ok(Ok(value)) => value.clone(),
        // Budget ran out, or the flight's task vanished (runtime shutting down).
        Ok(Err(_)) | Err(_) => None,
    }
}

/// The verdict cache in front of an [`ImageVerdicts`] source.
pub struct VerdictCache {
    source: Arc<dyn ImageVerdicts>,
    digests: Arc<SingleFlight<Resolution>>,
    verdicts: Arc<SingleFlight<Arc<ImageVerdict>>>,
    scan_slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for VerdictCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictCache")
            .field("verdicts", &self.verdicts.len())
            .field("tags", &self.digests.len())
            .finish()
    }
}

/// The digest an image reference pins, if it pins one (`name@sha256:…`).
pub fn pinned_digest(image: &str) -> Option<&str> {
    let (_, digest) = image.rsplit_once('@')?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digest)
}

impl VerdictCache {
    /// A cache over `source`.
    pub fn new(
        source: Arc<dyn ImageVerdicts>,
        settings: &CacheSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            source,
            digests: Arc::new(SingleFlight::new(settings.tag_ttl, settings.capacity)),
            verdicts: Arc::new(SingleFlight::new(settings.verdict_ttl, settings.capacity)),
            scan_slots: Arc::new(Semaphore::new(settings.max_concurrent_scans.max(1))),
            metrics,
        }
    }

    /// The verdict for `image`, waiting at most until `deadline`. Work started
    /// for it goes on after the deadline so that a retry finds it cached.
    pub async fn verdict(&self, image: &str, deadline: Instant) -> Lookup {
        let (digest, platform_digest) = match pinned_digest(image) {
            // A pinned digest may name an index: the scan resolves it to the
            // platform manifest, under which the verdict is cached too.
            Some(digest) => (digest.to_owned(), None),
            None => match self.resolve(image, deadline).await {
                Some(Ok(resolution)) => (resolution.digest, Some(resolution.platform_digest)),
                Some(Err(error)) => return Lookup::Failed(error),
                None => return self.budget_exceeded(),
            },
        };
        // The platform manifest may have been judged already, named by its
        // own digest or through another index that holds it.
        if let Some(verdict) = platform_digest
            .as_deref()
            .filter(|platform| *platform != digest)
            .and_then(|platform| self.verdicts.peek(platform))
        {
            self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Lookup::Ready(Judged { digest, verdict });
        }
        match self.verdicts.find(&digest) {
            Found::Hit(verdict) => {
                self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Ready(Judged { digest, verdict })
            }
            Found::Wait(flight) => {
                self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
                self.settle(digest, wait_for(flight, deadline).await)
            }
            Found::Start(started, flight) => {
                self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
                let source = Arc::clone(&self.source);
                let slots = Arc::clone(&self.scan_slots);
                let metrics = Arc::clone(&self.metrics);
                let image = image.to_owned();
                let scanned_digest = digest.clone();
                let scan = async move {
                    // The semaphore is never closed, so acquiring only waits.
                    let _permit = slots.acquire_owned().await;
                    let started = Instant::now();
                    let scanned_image = image.clone();
                    let result = tokio::task::spawn_blocking(move || {
                        source.judge(&scanned_image, &scanned_digest).map(Arc::new)
                    })
                    .await
                    .unwrap_or_else(|join| {
                        Err(VerdictError::Scan {
                            image,
                            reason: format!("scanner task failed: {join}"),
                        })
                    });
                    metrics.scan(
                        if result.is_ok() { "ok" } else { "error" },
                        started.elapsed(),
                    );
                    result
                };
                // Cached under the platform manifest's digest as well.
                let alias = |verdict: &Arc<ImageVerdict>| Some(verdict.digest.clone());
                Self::run_flight(&self.verdicts, digest.clone(), started, scan, alias);
                self.settle(digest, wait_for(flight, deadline).await)
            }
        }
    }

    async fn resolve(
        &self,
        image: &str,
        deadline: Instant,
    ) -> Option<Result<Resolution, VerdictError>> {
        match self.digests.find(image) {
            Found::Hit(resolution) => Some(Ok(resolution)),
            Found::Wait(flight) => wait_for(flight, deadline).await,
            Found::Start(started, flight) => {
                let source = Arc::clone(&self.source);
                let owned = image.to_owned();
                let resolve = async move {
                    let reference = owned.clone();
                    tokio::task::spawn_blocking(move || source.resolve_digest(&reference))
                        .await
                        .unwrap_or_else(|join| {
                            Err(VerdictError::Resolve {
                                image: owned,
                                reason: format!("resolver task failed: {join}"),
                            })
                        })
                };
                Self::run_flight(&self.digests, image.to_owned(), started, resolve, |_| None);
                wait_for(flight, deadline).await
            }
        }
    }

    /// Runs `work` for `key` in its own task: the result is cached (also
    /// under the key `alias` gives it, if any; or the slot cleared on
    /// failure) and every waiter woken, even when the request that started
    /// it has given up.
    fn run_flight<V: Clone + Send + Sync + 'static>(
        cache: &Arc<SingleFlight<V>>,
        key: String,
        started: Started<V>,
        work: impl Future<Output = Result<V, VerdictError>> + Send + 'static,
        alias: impl FnOnce(&V) -> Option<String> + Send + 'static,
    ) {
        let cache = Arc::clone(cache);
        tokio::spawn(async move {
            let result = work.await;
            let alias = result.as_ref().ok().and_then(alias);
            cache.finish(&key, started.generation, &result, alias);
            // No receiver left is fine: the result is cached for the next one.
            let _ = started.sender.send(Some(result));
        });
    }

    fn settle(
        &self,
        digest: String,
        waited: Option<Result<Arc<ImageVerdict>, VerdictError>>,
    ) -> Lookup {
        match waited {
            Some(Ok(verdict)) => Lookup::Ready(Judged { digest, verdict }),
            Some(Err(error)) => Lookup::Failed(error),
            None => self.budget_exceeded(),
        }
    }

    fn budget_exceeded(&self) -> Lookup {
        self.metrics
            .scan_budget_exceeded
            .fetch_add(1, Ordering::Relaxed);
        Lookup::Pending
    }

    /// Asks the source to reload its vulnerability database if the file
    /// changed. A new database drops every cached verdict (scans still
    /// running with the old one are not cached either); a database that
    /// fails to load is logged as an error and the old one keeps serving.
    /// Called on the server's file reload period.
    pub async fn reload_if_changed(&self) {
        let source = Arc::clone(&self.source);
        let outcome = tokio::task::spawn_blocking(move || source.reload_if_changed())
            .await
            .unwrap_or_else(|join| {
                Err(ReloadError {
                    what: "the vulnerability database".into(),
                    reason: format!("reload task failed: {join}"),
                })
            });
        match outcome {
            Ok(None) => {}
            Ok(Some(database)) => {
                let dropped = self.verdicts.len();
                self.verdicts.clear();
                self.metrics.vulndb_loaded(&database);
                self.metrics.vulndb_reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    built = %database.built,
                    advisories = database.advisories,
                    dropped_verdicts = dropped,
                    "vulnerability database reloaded; cached verdicts dropped"
                );
            }
            Err(error) => {
                self.metrics
                    .vulndb_reload_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "vulnerability database not reloaded; the previous one keeps serving");
            }
        }
    }

    /// Verdicts currently cached or in flight (a verdict cached under both
    /// an index and its platform manifest counts twice).
    pub fn len(&self) -> usize {
        self.verdicts.len()
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scanner that really takes time: it hashes the reference to make a
    /// digest and sleeps for the scan, counting calls and concurrency.
    struct SlowScanner {
        scan_time: Duration,
        resolves: AtomicUsize,
        scans: AtomicUsize,
        running: AtomicUsize,
        most_running: AtomicUsize,
        failures_left: AtomicUsize,
        /// Bumped by a reload: the database the next scans use.
        database: AtomicUsize,
        /// What the next `reload_if_changed` reports.
        next_reload: Mutex<Option<Result<Option<DatabaseInfo>, ReloadError>>>,
    }

    impl SlowScanner {
        fn new(scan_time: Duration) -> Arc<Self> {
            Arc::new(Self {
                scan_time,
                resolves: AtomicUsize::new(0),
                scans: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                most_running: AtomicUsize::new(0),
                failures_left: AtomicUsize::new(0),
                database: AtomicUsize::new(0),
                next_reload: Mutex::new(None),
            })
        }
    }

    fn digest_of(text: &str) -> String {
        // FNV-1a stretched to 64 hex digits: deterministic, distinct per reference.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!(
            "sha256:{:016x}{:016x}{:016x}{:016x}",
            hash,
            hash ^ 1,
            hash ^ 2,
            hash ^ 3
        )
    }

    impl ImageVerdicts for SlowScanner {
        fn resolve_digest(&self, image: &str) -> Result<Resolution, VerdictError> {
            self.resolves.fetch_add(1, Ordering::SeqCst);
            // Every tag names an index holding an amd64 manifest.
            Ok(Resolution {
                digest: digest_of(image),
                platform_digest: platform_of(&digest_of(image)),
            })
        }

        fn reload_if_changed(&self) -> Result<Option<DatabaseInfo>, ReloadError> {
            let next = self
                .next_reload
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let outcome = next.unwrap_or(Ok(None));
            if let Ok(Some(_)) = outcome {
                self.database.fetch_add(1, Ordering::SeqCst);
            }
            outcome
        }

        fn judge(&self, image: &str, digest: &str) -> Result<ImageVerdict, VerdictError> {
            // A scan uses the database loaded when it starts, as the real one does.
            let database = self.database.load(Ordering::SeqCst);
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_running.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(self.scan_time);
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.scans.fetch_add(1, Ordering::SeqCst);
            if self
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(VerdictError::Scan {
                    image: image.to_owned(),
                    reason: "registry returned 503".into(),
                });
            }
            Ok(ImageVerdict {
                // A digest named by a tag is an index: its amd64 manifest is scanned.
                digest: if pinned_digest(image).is_some() {
                    digest.to_owned()
                } else {
                    platform_of(digest)
                },
                denials: if image.contains("vulnerable") {
                    vec![format!("CVE-2024-0001 critical in {image}")]
                } else {
                    Vec::new()
                },
                warnings: vec![format!("judged with database {database}")],
            })
        }
    }

    /// The amd64 manifest inside the index `digest`.
    fn platform_of(digest: &str) -> String {
        digest_of(&format!("{digest} linux/amd64"))
    }

    fn cache(
        scanner: &Arc<SlowScanner>,
        settings: CacheSettings,
    ) -> (Arc<VerdictCache>, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::default());
        let source: Arc<dyn ImageVerdicts> = scanner.clone();
        (
            Arc::new(VerdictCache::new(source, &settings, Arc::clone(&metrics))),
            metrics,
        )
    }

    fn later(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn pinned_digests_are_recognised_strictly() {
        let hex = "a".repeat(64);
        assert_eq!(
            pinned_digest(&format!("nginx@sha256:{hex}")),
            Some(format!("sha256:{hex}").as_str())
        );
        assert_eq!(pinned_digest("nginx:1.27"), None);
        assert_eq!(pinned_digest("nginx@sha256:abc"), None);
        assert_eq!(pinned_digest(&format!("nginx@sha512:{hex}")), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_scan_per_digest_however_many_wait() {
        let scanner = SlowScanner::new(Duration::from_millis(200));
        let (cache, metrics) = cache(&scanner, CacheSettings::default());
        let mut waiting = Vec::new();
        for _ in 0..64 {
            let cache = Arc::clone(&cache);
            waiting.push(tokio::spawn(async move {
                cache.verdict("registry.example/app:1.0", later(5000)).await
            }));
        }
        for handle in waiting {
            let lookup = handle.await.expect("task");
            assert!(
                matches!(lookup, Lookup::Ready(ref j) if j.verdict.denials.is_empty()),
                "{lookup:?}"
            );
        }
        assert_eq!(
            scanner.resolves.load(Ordering::SeqCst),
            1,
            "one registry resolution"
        );
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 1, "one scan");
        assert_eq!(metrics.scans_total(), 1);
        // Now cached: no more work, counted as a hit.
        let again = cache.verdict("registry.example/app:1.0", later(10)).await;
        assert!(matches!(again, Lookup::Ready(_)));
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 1);
        assert!(metrics.cache_hits.load(Ordering::Relaxed) >= 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn budget_runs_out_but_the_scan_finishes_for_the_retry() {
        let scanner = SlowScanner::new(Duration::from_millis(300));
        let (cache, metrics) = cache(&scanner, CacheSettings::default());
        let image = "registry.example/vulnerable:2";
        let started = Instant::now();
        assert_eq!(cache.verdict(image, later(50)).await, Lookup::Pending);
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "answered within the budget"
        );
        assert_eq!(metrics.scan_budget_exceeded.load(Ordering::Relaxed), 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let retry = cache.verdict(image, later(10)).await;
        assert!(
            matches!(retry, Lookup::Ready(ref j) if j.verdict.denials.len() == 1),
            "{retry:?}"
        );
        assert_eq!(
            scanner.scans.load(Ordering::SeqCst),
            1,
            "the retry did not rescan"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scans_run_at_most_the_configured_number_at_once() {
        let scanner = SlowScanner::new(Duration::from_millis(100));
        let settings = CacheSettings {
            max_concurrent_scans: 2,
            ..CacheSettings::default()
        };
        let (cache, _) = cache(&scanner, settings);
        let mut waiting = Vec::new();
        for i in 0..6 {
            let cache = Arc::clone(&cache);
            waiting.push(tokio::spawn(async move {
                cache
                    .verdict(&format!("registry.example/app{i}:1"), later(5000))
                    .await
            }));
        }
        for handle in waiting {
            assert!(matches!(handle.await.expect("task"), Lookup::Ready(_)));
        }
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 6);
        assert_eq!(scanner.most_running.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_reported_and_not_cached() {
        let scanner = SlowScanner::new(Duration::from_millis(5));
        scanner.failures_left.store(1, Ordering::SeqCst);
        let (cache, metrics) = cache(&scanner, CacheSettings::default());
        let first = cache.verdict("registry.example/flaky:1", later(2000)).await;
        assert!(
            matches!(first, Lookup::Failed(VerdictError::Scan { .. })),
            "{first:?}"
        );
        let second = cache.verdict("registry.example/flaky:1", later(2000)).await;
        assert!(matches!(second, Lookup::Ready(_)), "{second:?}");
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 2);
        let text = metrics.render();
        assert!(
            text.contains("portcullis_admission_scans_total{outcome=\"error\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_admission_scans_total{outcome=\"ok\"} 1"),
            "{text}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn digest_pinned_images_skip_resolution_and_the_cache_stays_bounded() {
        let scanner = SlowScanner::new(Duration::ZERO);
        let settings = CacheSettings {
            capacity: 3,
            ..CacheSettings::default()
        };
        let (cache, _) = cache(&scanner, settings);
        for i in 0..10 {
            let image = format!("registry.example/app@{}", digest_of(&i.to_string()));
            assert!(matches!(
                cache.verdict(&image, later(2000)).await,
                Lookup::Ready(_)
            ));
        }
        assert_eq!(scanner.resolves.load(Ordering::SeqCst), 0);
        assert!(cache.len() <= 3, "{}", cache.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_verdicts_are_rescanned() {
        let scanner = SlowScanner::new(Duration::ZERO);
        let settings = CacheSettings {
            verdict_ttl: Duration::from_millis(50),
            ..CacheSettings::default()
        };
        let (cache, _) = cache(&scanner, settings);
        let image = format!("app@{}", digest_of("x"));
        assert!(matches!(
            cache.verdict(&image, later(2000)).await,
            Lookup::Ready(_)
        ));
        assert!(matches!(
            cache.verdict(&image, later(2000)).await,
            Lookup::Ready(_)
        ));
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(matches!(
            cache.verdict(&image, later(2000)).await,
            Lookup::Ready(_)
        ));
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 2);
    }

    fn ready(lookup: Lookup) -> Judged {
        match lookup {
            Lookup::Ready(judged) => judged,
            other => panic!("expected a verdict, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_verdict_is_found_by_the_index_digest_and_by_the_platform_digest() {
        let scanner = SlowScanner::new(Duration::from_millis(20));
        let (cache, metrics) = cache(&scanner, CacheSettings::default());
        let tag = "registry.example/multi:1";
        let index = digest_of(tag);
        let amd64 = platform_of(&index);
        let judged = ready(cache.verdict(tag, later(5000)).await);
        assert_eq!(judged.digest, index, "a tag is pinned to its index");
        assert_eq!(
            judged.verdict.digest, amd64,
            "the platform manifest was scanned"
        );
        // A Pod already pinned to the index, or to the amd64 manifest, is
        // judged from the same verdict, and keeps the digest it names.
        let by_index = ready(
            cache
                .verdict(&format!("registry.example/multi@{index}"), later(10))
                .await,
        );
        assert_eq!(by_index.digest, index);
        assert_eq!(by_index.verdict.digest, amd64);
        let by_platform = ready(
            cache
                .verdict(&format!("registry.example/multi@{amd64}"), later(10))
                .await,
        );
        assert_eq!(by_platform.digest, amd64);
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 1, "scanned once");
        assert_eq!(metrics.cache_hits.load(Ordering::Relaxed), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tag_whose_platform_manifest_was_judged_needs_no_scan() {
        let scanner = SlowScanner::new(Duration::ZERO);
        let (cache, _) = cache(&scanner, CacheSettings::default());
        let tag = "registry.example/multi:2";
        let amd64 = platform_of(&digest_of(tag));
        ready(
            cache
                .verdict(&format!("registry.example/multi@{amd64}"), later(5000))
                .await,
        );
        let judged = ready(cache.verdict(tag, later(5000)).await);
        assert_eq!(judged.digest, digest_of(tag));
        assert_eq!(judged.verdict.digest, amd64);
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reloaded_database_drops_cached_verdicts_and_a_failed_reload_keeps_them() {
        let scanner = SlowScanner::new(Duration::ZERO);
        let (cache, metrics) = cache(&scanner, CacheSettings::default());
        let image = "registry.example/app:3";
        let first = ready(cache.verdict(image, later(5000)).await);
        assert_eq!(first.verdict.warnings, ["judged with database 0"]);

        // Nothing changed: the verdict stays cached.
        cache.reload_if_changed().await;
        ready(cache.verdict(image, later(5000)).await);
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 1);

        // A broken file: an error counted, the old verdicts (and database) stay.
        *scanner.next_reload.lock().expect("lock") = Some(Err(ReloadError {
            what: "/db/vulndb.bin".into(),
            reason: "checksum mismatch".into(),
        }));
        cache.reload_if_changed().await;
        ready(cache.verdict(image, later(5000)).await);
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 1);
        assert_eq!(metrics.vulndb_reload_errors.load(Ordering::Relaxed), 1);

        // A new database: verdicts are computed again, with it.
        *scanner.next_reload.lock().expect("lock") = Some(Ok(Some(DatabaseInfo {
            built: "2026-11-29T09:00:00Z".into(),
            built_unix_seconds: Some(1_795_942_800),
            advisories: 7,
        })));
        cache.reload_if_changed().await;
        let after = ready(cache.verdict(image, later(5000)).await);
        assert_eq!(after.verdict.warnings, ["judged with database 1"]);
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 2);
        assert_eq!(metrics.vulndb_reloads.load(Ordering::Relaxed), 1);
        let text = metrics.render();
        assert!(
            text.contains("portcullis_admission_vulndb_built_timestamp_seconds 1795942800"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_admission_vulndb_advisories 7"),
            "{text}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scan_running_across_a_reload_answers_its_waiters_but_is_not_cached() {
        let scanner = SlowScanner::new(Duration::from_millis(300));
        let (cache, _) = cache(&scanner, CacheSettings::default());
        let image = "registry.example/app:4";
        let waiting = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.verdict(image, later(5000)).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        *scanner.next_reload.lock().expect("lock") = Some(Ok(Some(DatabaseInfo {
            built: "2026-11-29T09:00:00Z".into(),
            built_unix_seconds: None,
            advisories: 1,
        })));
        cache.reload_if_changed().await;
        let old = ready(waiting.await.expect("task"));
        assert_eq!(old.verdict.warnings, ["judged with database 0"]);
        let new = ready(cache.verdict(image, later(5000)).await);
        assert_eq!(new.verdict.warnings, ["judged with database 1"]);
        assert_eq!(scanner.scans.load(Ordering::SeqCst), 2);
    }
}
