//! Vulnerability verdicts per image, as the admission path needs them: looked
//! up by digest in a cache, scanned on a miss with bounded concurrency, one
//! scan per digest however many requests wait for it, within a time budget.
//!
//! The scanning itself is behind [`ImageVerdicts`], which the binary
//! implements with the shared scan pipeline; this module only schedules it.

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

/// The judgement of one image (by digest) against the vulnerability policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    /// The manifest digest that was scanned, `sha256:…`.
    pub digest: String,
    /// Findings that fail the policy, one line each (e.g. `CVE-2024-1 critical in openssl 3.0.1`).
    pub denials: Vec<String>,
    /// Findings below the failure threshold worth telling the user.
    pub warnings: Vec<String>,
}

/// Where verdicts come from: registry resolution and image scanning.
///
/// Both calls may block (network, decompression, matching); they run on the
/// blocking thread pool, never on the request path's reactor threads.
pub trait ImageVerdicts: Send + Sync + 'static {
    /// Resolves a tag reference (`nginx:1.27`) to its manifest digest through the registry.
    fn resolve_digest(&self, image: &str) -> Result<String, VerdictError>;
    /// Scans the image at `digest` and judges it.
    fn judge(&self, image: &str, digest: &str) -> Result<ImageVerdict, VerdictError>;
}

/// The outcome of asking for a verdict within a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The verdict is known.
    Ready(Arc<ImageVerdict>),
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

/// The entries by key, and finished keys oldest first (for eviction).
type Slots<V> = (HashMap<String, Slot<V>>, VecDeque<String>);

enum Found<V> {
    Hit(V),
    Wait(Flight<V>),
    Start(watch::Sender<Option<Result<V, VerdictError>>>, Flight<V>),
}

impl<V: Clone + Send + Sync + 'static> SingleFlight<V> {
    fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            slots: Mutex::new((HashMap::new(), VecDeque::new())),
            ttl,
            capacity: capacity.max(1),
        }
    }

    fn find(&self, key: &str) -> Found<V> {
        let mut guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let (slots, _) = &mut *guard;
        match slots.get(key) {
            Some(Slot::Ready(value, at)) if at.elapsed() < self.ttl => {
                return Found::Hit(value.clone());
            }
            Some(Slot::Pending(flight)) => return Found::Wait(flight.clone()),
            _ => {}
        }
        let (sender, receiver) = watch::channel(None);
        slots.insert(key.to_owned(), Slot::Pending(receiver.clone()));
        Found::Start(sender, receiver)
    }

    fn finish(&self, key: &str, result: &Result<V, VerdictError>) {
        let mut guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let (slots, order) = &mut *guard;
        match result {
            Ok(value) => {
                slots.insert(key.to_owned(), Slot::Ready(value.clone(), Instant::now()));
                order.push_back(key.to_owned());
                // Evict the oldest finished entries; pending flights stay.
                while slots.len() > self.capacity {
                    let Some(oldest) = order.pop_front() else {
                        break;
                    };
                    if matches!(slots.get(&oldest), Some(Slot::Ready(..))) && oldest != key {
                        slots.remove(&oldest);
                    }
                }
                // Keys re-finished after expiry appear twice; keep the queue bounded.
                if order.len() > self.capacity.saturating_mul(2) {
                    order.retain(|k| slots.contains_key(k));
                }
            }
            // Failures are not cached: the next request tries again.
            Err(_) => {
                slots.remove(key);
            }
        }
    }

    fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).0.len()
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
    digests: Arc<SingleFlight<String>>,
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
        let digest = match pinned_digest(image) {
            Some(digest) => digest.to_owned(),
            None => match self.resolve(image, deadline).await {
                Some(Ok(digest)) => digest,
                Some(Err(error)) => return Lookup::Failed(error),
                None => return self.budget_exceeded(),
            },
        };
        match self.verdicts.find(&digest) {
            Found::Hit(verdict) => {
                self.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Ready(verdict)
            }
            Found::Wait(flight) => {
                self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
                self.settle(wait_for(flight, deadline).await)
            }
            Found::Start(sender, flight) => {
                self.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
                let source = Arc::clone(&self.source);
                let slots = Arc::clone(&self.scan_slots);
                let metrics = Arc::clone(&self.metrics);
                let image = image.to_owned();
                let key = digest.clone();
                let scan = async move {
                    // The semaphore is never closed, so acquiring only waits.
                    let _permit = slots.acquire_owned().await;
                    let started = Instant::now();
                    let scanned_image = image.clone();
                    let result = tokio::task::spawn_blocking(move || {
                        source.judge(&scanned_image, &digest).map(Arc::new)
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
                Self::run_flight(&self.verdicts, key, sender, scan);
                self.settle(wait_for(flight, deadline).await)
            }
        }
    }

    async fn resolve(
        &self,
        image: &str,
        deadline: Instant,
    ) -> Option<Result<String, VerdictError>> {
        match self.digests.find(image) {
            Found::Hit(digest) => Some(Ok(digest)),
            Found::Wait(flight) => wait_for(flight, deadline).await,
            Found::Start(sender, flight) => {
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
                Self::run_flight(&self.digests, image.to_owned(), sender, resolve);
                wait_for(flight, deadline).await
            }
        }
    }

    /// Runs `work` for `key` in its own task: the result is cached (or the
    /// slot cleared on failure) and every waiter woken, even when the request
    /// that started it has given up.
    fn run_flight<V: Clone + Send + Sync + 'static>(
        cache: &Arc<SingleFlight<V>>,
        key: String,
        sender: watch::Sender<Option<Result<V, VerdictError>>>,
        work: impl Future<Output = Result<V, VerdictError>> + Send + 'static,
    ) {
        let cache = Arc::clone(cache);
        tokio::spawn(async move {
            let result = work.await;
            cache.finish(&key, &result);
            // No receiver left is fine: the result is cached for the next one.
            let _ = sender.send(Some(result));
        });
    }

    fn settle(&self, waited: Option<Result<Arc<ImageVerdict>, VerdictError>>) -> Lookup {
        match waited {
            Some(Ok(verdict)) => Lookup::Ready(verdict),
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

    /// Verdicts currently cached or in flight.
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
        fn resolve_digest(&self, image: &str) -> Result<String, VerdictError> {
            self.resolves.fetch_add(1, Ordering::SeqCst);
            Ok(digest_of(image))
        }

        fn judge(&self, image: &str, digest: &str) -> Result<ImageVerdict, VerdictError> {
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
                digest: digest.to_owned(),
                denials: if image.contains("vulnerable") {
                    vec![format!("CVE-2024-0001 critical in {image}")]
                } else {
                    Vec::new()
                },
                warnings: Vec::new(),
            })
        }
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
                matches!(lookup, Lookup::Ready(ref v) if v.denials.is_empty()),
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
            matches!(retry, Lookup::Ready(ref v) if v.denials.len() == 1),
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
}
