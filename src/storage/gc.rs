//! Mark-and-sweep garbage collection over a storage root, shared by the
//! offline `regctl gc --root` and the server's online collection.
//!
//! [`plan`] marks every blob reachable from the manifests that are kept and
//! lists what is not; [`sweep`] removes it. The two are separate so the CLI
//! can show the plan and ask before anything is deleted.
//!
//! Writes that race an online collection are protected by [`super::gc_coordinator::GcCoordinator`]:
//! from the moment a collection begins, every digest the server links,
//! checks or stores is recorded as *touched*, and the sweep skips touched
//! digests. Manifest writes hold the coordinator's gate (shared) across
//! "check every referenced blob exists" and "write the links", and the sweep
//! holds it exclusively while it deletes, so a manifest `PUT` either sees its
//! blobs and keeps them, or finds one gone and fails with
//! `MANIFEST_BLOB_UNKNOWN`; it never stores a manifest whose blob is deleted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use super::backend::Leaf;
use super::error::{Result, StorageError};
use super::paths::{self, RepoName, TagName, UploadId};
use super::registry::{Registry, RepositoryScan};
use crate::types::gc::{
    GcOptions, GcPlan, GcReport, GcSummary, LinkKind, PlannedBlob, PlannedLink, PlannedManifest,
    PlannedUpload,
};
use crate::types::time::parse_rfc3339;
use crate::types::{Algorithm, Digest, ManifestOutline};
use bytes::Bytes;
use futures_util::StreamExt;

/// Upload sessions older than this are abandoned and removed.
pub const UPLOAD_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// An upload started more recently than this means something is writing to
/// the root right now (the offline collector refuses to run then).
pub const ACTIVE_UPLOAD_AGE: Duration = Duration::from_secs(10 * 60);

/// Deletions done under one exclusive hold of the gate: short enough that
/// pushes barely wait, long enough that the lock is not taken per blob.
const SWEEP_BATCH: usize = 256;

/// A plan drawn by [`plan`], with what its sweep needs to know.
#[derive(Debug, Clone)]
pub struct Collection {
    pub plan: GcPlan,
    layer_links: Vec<(RepoName, Digest)>,
}

/// A collection in progress: at most one per registry; recording of touched
/// digests stops when it is dropped.
pub struct GcRun<'a> {
    registry: &'a Registry,
    _running: tokio::sync::MutexGuard<'a, ()>,
    /// On a store shared by several servers: the collection lease, through
    /// which the sweep learns what their writes use (`cluster.rs`).
    lease: Option<super::cluster::LeaseGuard>,
}

impl Drop for GcRun<'_> {
    fn drop(&mut self) {
        self.registry.gc().set_recording(false);
    }
}

/// Starts a collection: from here on, writes are recorded as touched.
/// `None` when another collection is running in this process.
///
/// Recording starts under the gate held exclusively, so a write that was
/// already checking and linking (it holds the gate shared) finishes first
/// and the mark sees all of it; a manifest whose tag was not yet written
/// would otherwise look untagged to the mark and be swept after its 201.
pub async fn begin(registry: &Registry) -> Option<GcRun<'_>> {
    let running = registry.gc().try_run()?;
    let gate = registry.gc().exclusive().await;
    registry.gc().set_recording(true);
    drop(gate);
    Some(GcRun {
        registry,
        _running: running,
        lease: None,
    })
}

/// A collection whose plan is drawn: sweep it, or keep everything.
pub struct Planned<'a> {
    run: GcRun<'a>,
    collection: Collection,
}

impl<'a> Planned<'a> {
    /// Starts a collection on `registry` and marks. `None` when another
    /// collection is running in this process.
    pub async fn draw(registry: &'a Registry, opts: &GcOptions) -> Result<Option<Self>> {
        let Some(mut run) = begin(registry).await else {
            return Ok(None);
        };
        if let Some(cluster) = registry.cluster() {
            // Another server collecting holds the lease: busy, as in-process.
            let Some(lease) = cluster.acquire().await? else {
                return Ok(None);
            };
            run.lease = Some(lease);
        }
        let collection = plan(&run, opts).await?;
        Ok(Some(Planned { run, collection }))
    }

    pub fn plan(&self) -> &GcPlan {
        &self.collection.plan
    }

    /// Removes what the plan lists.
    pub async fn sweep(mut self) -> Result<GcReport> {
        let summary = sweep(&self.run, &self.collection).await?;
        if let Some(lease) = self.run.lease.take() {
            lease.release().await?;
        }
        Ok(GcReport {
            plan: self.collection.plan,
            summary,
        })
    }

    /// Removes nothing: the report of a dry run.
    pub fn keep(self) -> GcReport {
        GcReport {
            summary: self.collection.plan.summary(),
            plan: self.collection.plan,
        }
    }
}

fn older_than(modified: SystemTime, cutoff: SystemTime) -> bool {
    modified <= cutoff
}

/// Repositories scanned at once: each scan is a few batched walks on the
/// blocking pool, so a handful keeps both the disk and the parser busy.
const SCAN_CONCURRENCY: usize = 4;

/// One repository as the mark sees it: its manifests (parsed once, only
/// their descriptors' digests), tags, layer links and upload sessions.
struct ScannedRepository {
    name: String,
    repo: RepoName,
    scan: RepositoryScan,
    /// Each revision's outline: `Ok(None)` when its data is missing.
    manifests: Vec<(Digest, std::result::Result<Option<Outline>, String>)>,
    /// Upload sessions: id, when it began, bytes so far.
    uploads: Vec<(UploadId, SystemTime, u64)>,
    /// The manifests' bytes, as read (`None`: missing).
    bytes: Vec<Option<Bytes>>,
}

/// A repository as a collection's mark read it, handed to a reader that
/// wants the same data (`du --root` measures from it instead of reading
/// the root a second time).
#[derive(Debug)]
pub struct RepositoryContents {
    pub name: String,
    /// Tags with a `current/link`, and the digest it holds.
    pub tags: Vec<(TagName, Option<Digest>)>,
    /// Every manifest revision and its bytes (`None`: the data is missing).
    pub manifests: Vec<(Digest, Option<Bytes>)>,
}

/// What the mark needs of a manifest: the blobs and child manifests it
/// names and its subject, read without building a JSON tree.
struct Outline {
    blobs: Vec<Digest>,
    children: Vec<Digest>,
    subject: Option<Digest>,
}

impl Outline {
    fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let o = ManifestOutline::parse(bytes, None).map_err(|e| e.to_string())?;
        Ok(Outline {
            blobs: o.blobs().collect(),
            children: o.children().collect(),
            subject: o.subject().map(|s| s.digest.clone()),
        })
    }
}

async fn scan_repository(registry: &Registry, name: String) -> Result<ScannedRepository> {
    let backend = registry.backend();
    let repo = RepoName::new(&name)?;
    let scan = registry.scan_repository(&repo).await?;
    let digests: Vec<Digest> = scan.revisions.iter().map(|(d, _)| d.clone()).collect();
    let bytes = registry.read_manifests(&digests).await?;
    let manifests = digests
        .into_iter()
        .zip(&bytes)
        .map(|(d, b)| {
            let parsed = match b {
                None => Ok(None),
                Some(b) => Outline::parse(b).map(Some),
            };
            (d, parsed)
        })
        .collect();
    let mut uploads = Vec::new();
    for id in backend.list(&paths::uploads_dir(&repo)).await? {
        let Some(id) = UploadId::parse(&id) else {
            continue;
        };
        let began = upload_started(registry, &repo, &id).await?;
        let size = backend
            .stat(&paths::upload_data(&repo, &id))
            .await?
            .map_or(0, |m| m.size);
        uploads.push((id, began, size));
    }
    Ok(ScannedRepository {
        name,
        repo,
        scan,
        manifests,
        uploads,
        bytes,
    })
}

/// The mark of one collection, fed one scanned repository at a time.
struct Marker<'o> {
    opts: &'o GcOptions,
    started: SystemTime,
    cutoff: SystemTime,
    plan: GcPlan,
    marked: HashSet<Digest>,
    repos_left_empty: Vec<RepoName>,
}

/// Every layer link of the root, the same for every plan: repositories
/// by index, so 30,000 links do not hold 30,000 copies of their names.
#[derive(Default)]
struct LayerLinks {
    repositories: Vec<RepoName>,
    links: Vec<(usize, Digest)>,
}

impl LayerLinks {
    fn add(&mut self, scanned: &ScannedRepository) {
        if scanned.scan.layers.is_empty() {
            return;
        }
        let index = self.repositories.len();
        self.repositories.push(scanned.repo.clone());
        self.links
            .extend(scanned.scan.layers.iter().map(|(d, _)| (index, d.clone())));
    }
}

impl<'o> Marker<'o> {
    fn new(opts: &'o GcOptions, started: SystemTime) -> Self {
        Marker {
            opts,
            started,
            cutoff: started.checked_sub(opts.min_age).unwrap_or(started),
            plan: GcPlan::default(),
            marked: HashSet::new(),
            repos_left_empty: Vec::new(),
        }
    }

    fn add(&mut self, scanned: &ScannedRepository) {
        let (opts, cutoff, started) = (self.opts, self.cutoff, self.started);
        let plan = &mut self.plan;
        let name = &scanned.name;
        let repo = &scanned.repo;
        plan.repositories_scanned += 1;

        // Every manifest revision, parsed.
        let mut manifests: HashMap<&Digest, Option<&Outline>> = HashMap::new();
        let mut young: HashSet<&Digest> = HashSet::new();
        let link_times: HashMap<&Digest, SystemTime> = scanned
            .scan
            .revisions
            .iter()
            .map(|(d, meta)| (d, meta.modified))
            .collect();
        for (digest, parsed) in &scanned.manifests {
            let parsed = match parsed {
                Ok(Some(m)) => Some(m),
                Ok(None) => {
                    plan.links.push(PlannedLink {
                        repository: name.clone(),
                        kind: LinkKind::Revision,
                        name: digest.to_string(),
                    });
                    continue;
                }
                Err(e) => {
                    plan.warnings.push(format!(
                        "{name}@{digest}: cannot parse the manifest ({e}); every blob linked in {name} is kept"
                    ));
                    None
                }
            };
            if link_times
                .get(digest)
                .is_some_and(|t| !older_than(*t, cutoff))
            {
                young.insert(digest);
            }
            manifests.insert(digest, parsed);
        }

        // Tags, and the ones pointing at nothing. A tag directory without
        // `current/link` is a tag write that never finished: not a tag
        // (registry:2 ignores it too), and the scan leaves it out.
        let mut tagged: Vec<&Digest> = Vec::new();
        for (tag, target) in &scanned.scan.tags {
            match target {
                Some(d) if manifests.contains_key(d) => tagged.push(d),
                Some(_) => plan.links.push(PlannedLink {
                    repository: name.clone(),
                    kind: LinkKind::Tag,
                    name: tag.to_string(),
                }),
                None => {}
            }
        }

        // Which manifests stay: with --delete-untagged, what tags (and
        // young revisions) reach through index children and referrers.
        let kept: HashSet<&Digest> = if opts.delete_untagged {
            let mut by_subject: HashMap<&Digest, Vec<&Digest>> = HashMap::new();
            for (d, m) in &manifests {
                if let Some(s) = m.and_then(|m| m.subject.as_ref()) {
                    by_subject.entry(s).or_default().push(d);
                }
            }
            let mut kept = HashSet::new();
            let mut queue: VecDeque<&Digest> = tagged.iter().chain(&young).copied().collect();
            while let Some(d) = queue.pop_front() {
                let Some((d, m)) = manifests.get_key_value(d) else {
                    continue;
                };
                if !kept.insert(*d) {
                    continue;
                }
                if let Some(m) = m {
                    queue.extend(m.children.iter());
                }
                if let Some(referrers) = by_subject.get(d) {
                    queue.extend(referrers.iter().copied());
                }
            }
            kept
        } else {
            manifests.keys().copied().collect()
        };

        let mut unparseable_kept = false;
        for d in &kept {
            self.marked.insert((*d).clone());
            match manifests.get(d) {
                Some(Some(m)) => {
                    self.marked.extend(m.blobs.iter().cloned());
                    self.marked.extend(m.children.iter().cloned());
                }
                _ => unparseable_kept = true,
            }
        }
        plan.manifests_kept += kept.len();
        let mut deleted: Vec<&Digest> = manifests
            .keys()
            .filter(|d| !kept.contains(*d))
            .copied()
            .collect();
        deleted.sort();
        plan.manifests
            .extend(deleted.iter().map(|d| PlannedManifest {
                repository: name.clone(),
                digest: (*d).clone(),
            }));

        // Layer links: kept unless their blob goes (decided after the mark).
        let mut young_layers = false;
        for (d, meta) in &scanned.scan.layers {
            if unparseable_kept {
                self.marked.insert(d.clone());
            }
            young_layers |= !older_than(meta.modified, cutoff);
        }

        // Upload sessions.
        let mut uploads_left = false;
        for (id, began, size) in &scanned.uploads {
            let age = started.duration_since(*began).unwrap_or_default();
            if age < ACTIVE_UPLOAD_AGE {
                plan.active_uploads.push(format!(
                    "{name} (upload {id} started {} ago)",
                    humantime::format_duration(Duration::from_secs(age.as_secs()))
                ));
            }
            if age >= UPLOAD_MAX_AGE {
                plan.uploads.push(PlannedUpload {
                    repository: name.clone(),
                    id: id.to_string(),
                    size: *size,
                });
            } else {
                uploads_left = true;
            }
        }

        let tags_left = !tagged.is_empty();
        if opts.prune_empty_repos && !tags_left && kept.is_empty() && !uploads_left && !young_layers
        {
            self.repos_left_empty.push(repo.clone());
        }
    }

    /// Lists the blobs nothing marked (from the blob store's `ab/HEX`
    /// directories and their `data`) and the layer links that go with them
    /// or point at nothing.
    fn finish(self, blobs: &[(Algorithm, Vec<Leaf>)], layer_links: &LayerLinks) -> Collection {
        let Marker {
            cutoff,
            mut plan,
            marked,
            repos_left_empty,
            ..
        } = self;
        for (algo, leaves) in blobs {
            for leaf in leaves {
                let Some(d) = blob_of(*algo, leaf) else {
                    continue;
                };
                if marked.contains(&d) {
                    continue;
                }
                match leaf.meta.as_ref().filter(|m| !m.is_dir) {
                    Some(meta) if !older_than(meta.modified, cutoff) => {
                        plan.young_blobs_kept += 1;
                        plan.young_bytes_kept += meta.size;
                    }
                    Some(meta) => plan.blobs.push(PlannedBlob {
                        digest: d,
                        size: meta.size,
                    }),
                    // A blob directory without data (an interrupted delete).
                    None => plan.blobs.push(PlannedBlob { digest: d, size: 0 }),
                }
            }
        }
        plan.blobs_marked = marked.len();

        let swept: HashSet<&Digest> = plan.blobs.iter().map(|b| &b.digest).collect();
        let mut swept_links = Vec::new();
        for (index, d) in &layer_links.links {
            let repo = &layer_links.repositories[*index];
            if swept.contains(d) {
                // Goes with its blob: garbage, not damage.
                plan.layer_links_with_blobs += 1;
                swept_links.push((repo.clone(), d.clone()));
            } else if !has_data(blobs, d) {
                plan.links.push(PlannedLink {
                    repository: repo.to_string(),
                    kind: LinkKind::Layer,
                    name: d.to_string(),
                });
                swept_links.push((repo.clone(), d.clone()));
            }
        }
        plan.repositories = repos_left_empty.iter().map(|r| r.to_string()).collect();
        Collection {
            plan,
            layer_links: swept_links,
        }
    }
}

/// The blob an `ab/HEX` directory of the blob store holds, if it is one.
fn blob_of(algo: Algorithm, leaf: &Leaf) -> Option<Digest> {
    let (shard, hex) = leaf.dir.split_once('/')?;
    let d = Digest::new(algo, hex).ok()?;
    (d.hex().get(..2) == Some(shard)).then_some(d)
}

/// Whether the blob store holds `d`'s data: `blobs` are sorted by their
/// `ab/HEX` directory.
fn has_data(blobs: &[(Algorithm, Vec<Leaf>)], d: &Digest) -> bool {
    let Some((_, leaves)) = blobs.iter().find(|(a, _)| *a == d.algorithm()) else {
        return false;
    };
    let dir = format!("{}/{}", d.hex().get(..2).unwrap_or_default(), d.hex());
    leaves
        .binary_search_by(|l| l.dir.as_str().cmp(&dir))
        .is_ok_and(|i| leaves[i].meta.as_ref().is_some_and(|m| !m.is_dir))
}

/// Marks, then lists everything the collection would remove.
pub async fn plan(run: &GcRun<'_>, opts: &GcOptions) -> Result<Collection> {
    let mut plans = plans(run, std::slice::from_ref(opts), None).await?;
    plans.pop().ok_or_else(|| invalid_plan("no plan drawn"))
}

/// Several plans (one per options, e.g. with and without
/// `delete_untagged`) from one walk of the root: the storage is read once,
/// each repository a few batched walks, several repositories at a time.
/// Each repository's contents also go to `contents` (when given) as soon
/// as it is marked; the walk waits while the receiver is behind.
pub async fn plans(
    run: &GcRun<'_>,
    options: &[GcOptions],
    contents: Option<&tokio::sync::mpsc::Sender<RepositoryContents>>,
) -> Result<Vec<Collection>> {
    let registry = run.registry;
    let started = SystemTime::now();
    let mut markers: Vec<Marker<'_>> = options.iter().map(|o| Marker::new(o, started)).collect();
    let mut layer_links = LayerLinks::default();
    let mut scans = futures_util::stream::iter(registry.scan_repositories().await?)
        .map(|name| scan_repository(registry, name))
        .buffered(SCAN_CONCURRENCY);
    while let Some(scanned) = scans.next().await {
        let scanned = scanned?;
        for marker in &mut markers {
            marker.add(&scanned);
        }
        layer_links.add(&scanned);
        if let Some(contents) = contents {
            let manifests = scanned.manifests.into_iter().map(|(d, _)| d);
            let repository = RepositoryContents {
                name: scanned.name,
                tags: scanned.scan.tags,
                manifests: manifests.zip(scanned.bytes).collect(),
            };
            // A receiver that gave up only misses the rest.
            let _ = contents.send(repository).await;
        }
    }
    // Sweep candidates come from the blob store's `ab/HEX/data`, read
    // after the mark.
    let mut blobs = Vec::new();
    for algo in [Algorithm::Sha256, Algorithm::Sha512] {
        let leaves = registry
            .backend()
            .leaves(&paths::blobs_dir(algo.as_str()), 2, "data", 0)
            .await?;
        blobs.push((algo, leaves));
    }
    Ok(markers
        .into_iter()
        .map(|m| m.finish(&blobs, &layer_links))
        .collect())
}

async fn upload_started(registry: &Registry, repo: &RepoName, id: &UploadId) -> Result<SystemTime> {
    let backend = registry.backend();
    if let Some(text) = backend.get(&paths::upload_started_at(repo, id)).await?
        && let Ok(text) = std::str::from_utf8(&text)
        && let Some(t) = parse_rfc3339(text)
    {
        return Ok(t);
    }
    Ok(backend
        .stat(&paths::upload_dir(repo, id))
        .await?
        .map_or(SystemTime::UNIX_EPOCH, |m| m.modified))
}

/// Removes what `plan` lists, re-checking each item against writes made
/// since the plan was drawn.
pub async fn sweep(run: &GcRun<'_>, collection: &Collection) -> Result<GcSummary> {
    let plan = &collection.plan;
    let registry = run.registry;
    let backend = registry.backend();
    let coord = registry.gc();
    let mut summary = GcSummary::default();
    let phase = Phase::start();

    for batch in plan.manifests.chunks(SWEEP_BATCH) {
        let used_elsewhere = used_by_other_servers(run, batch.iter().map(|m| &m.digest)).await?;
        let _gate = coord.exclusive().await;
        let mut keys = Vec::new();
        let mut tags: HashMap<&str, Vec<TagName>> = HashMap::new();
        for m in batch {
            if coord.is_touched(&m.digest) || used_elsewhere.contains(&m.digest) {
                summary.skipped_in_use += 1;
                continue;
            }
            let repo = RepoName::new(&m.repository)?;
            if !tags.contains_key(m.repository.as_str()) {
                let names = backend.list(&paths::tags_dir(&repo)).await?;
                let names = names.iter().filter_map(|t| TagName::new(t).ok()).collect();
                tags.insert(&m.repository, names);
            }
            // Every trace of it in tag histories, then the revision.
            for tag in tags.get(m.repository.as_str()).into_iter().flatten() {
                keys.push(paths::tag_index_dir(&repo, tag, &m.digest));
            }
            keys.push(paths::revision_dir(&repo, &m.digest));
            summary.manifests_removed += 1;
        }
        backend.delete_many_with_leaf(keys, "link").await?;
    }
    phase.done("manifests");

    for link in &plan.links {
        let repo = RepoName::new(&link.repository)?;
        let _gate = coord.exclusive().await;
        let removed = match link.kind {
            LinkKind::Revision => {
                let d: Digest = link.name.parse().map_err(invalid_plan)?;
                if backend.stat(&paths::blob_data(&d)).await?.is_none() && !coord.is_touched(&d) {
                    backend.delete(&paths::revision_dir(&repo, &d)).await?;
                    true
                } else {
                    false
                }
            }
            LinkKind::Tag => {
                let tag = TagName::new(&link.name)?;
                let target = registry
                    .read_link(&paths::tag_current_link(&repo, &tag))
                    .await?;
                let still_dangling = match &target {
                    Some(d) => registry.resolve_digest(&repo, d).await?.is_none(),
                    None => true,
                };
                if still_dangling {
                    backend.delete(&paths::tag_dir(&repo, &tag)).await?;
                    registry.forget_tags(&repo);
                }
                still_dangling
            }
            // Layer links go with their blobs, below.
            LinkKind::Layer => continue,
        };
        if removed {
            summary.links_removed += 1;
        } else {
            summary.skipped_in_use += 1;
        }
    }

    phase.done("links");
    let mut bytes = 0;
    // In digest order a batch of 256 falls in one or two `ab/` shard
    // directories, and the delete threads then queue on that directory's
    // lock (10,000 repositories: 28 s for the blobs); ordered by the hex
    // after the shard, a batch spreads over all 256.
    let mut blobs: Vec<&PlannedBlob> = plan.blobs.iter().collect();
    blobs.sort_unstable_by(|a, b| a.digest.hex().get(2..).cmp(&b.digest.hex().get(2..)));
    for batch in blobs.chunks(SWEEP_BATCH) {
        let used_elsewhere = used_by_other_servers(run, batch.iter().map(|b| &b.digest)).await?;
        let _gate = coord.exclusive().await;
        let mut keys = Vec::new();
        for blob in batch {
            if coord.is_touched(&blob.digest) || used_elsewhere.contains(&blob.digest) {
                summary.skipped_in_use += 1;
                continue;
            }
            keys.push(paths::blob_dir(&blob.digest));
            summary.blobs_removed += 1;
            bytes += blob.size;
        }
        backend.delete_many_with_leaf(keys, "data").await?;
        for blob in batch {
            registry.forget_blob(&blob.digest);
        }
    }
    summary.bytes_freed = Some(bytes);
    phase.done("blobs");

    for batch in collection.layer_links.chunks(SWEEP_BATCH) {
        let _gate = coord.exclusive().await;
        let present = backend
            .stat_many(batch.iter().map(|(_, d)| paths::blob_data(d)).collect())
            .await?;
        let mut keys = Vec::new();
        for ((repo, d), meta) in batch.iter().zip(present) {
            if meta.is_some() {
                summary.skipped_in_use += 1;
                continue;
            }
            keys.push(paths::layer_dir(repo, d));
            summary.links_removed += 1;
        }
        backend.delete_many_with_leaf(keys, "link").await?;
    }

    phase.done("layer links");
    for upload in &plan.uploads {
        let repo = RepoName::new(&upload.repository)?;
        let id = UploadId::parse(&upload.id).ok_or_else(|| invalid_plan("upload id"))?;
        backend.delete(&paths::upload_dir(&repo, &id)).await?;
        summary.uploads_removed += 1;
    }

    for name in &plan.repositories {
        let repo = RepoName::new(name)?;
        let _gate = coord.exclusive().await;
        if !registry.tags(&repo).await?.is_empty() || !registry.revisions(&repo).await?.is_empty() {
            summary.skipped_in_use += 1;
            continue;
        }
        remove_repository(registry, &repo).await?;
        summary.repositories_removed += 1;
    }
    phase.done("uploads and repositories");
    Ok(summary)
}

/// Logs how long each step of a sweep took (`REGCTL_LOG=debug`).
struct Phase(std::cell::Cell<std::time::Instant>);

impl Phase {
    fn start() -> Self {
        Phase(std::cell::Cell::new(std::time::Instant::now()))
    }

    fn done(&self, what: &str) {
        let now = std::time::Instant::now();
        let took = now - self.0.replace(now);
        tracing::debug!(target: "regctl::gc", step = what, seconds = took.as_secs_f64(), "sweep step done");
    }
}

/// On a store shared by several servers: publishes a batch as being swept
/// and returns what their writes announced using (empty otherwise).
async fn used_by_other_servers<'d>(
    run: &GcRun<'_>,
    batch: impl Iterator<Item = &'d Digest>,
) -> Result<HashSet<Digest>> {
    match &run.lease {
        Some(lease) => lease.sweeping(&batch.collect::<Vec<_>>()).await,
        None => Ok(HashSet::new()),
    }
}

fn invalid_plan(what: impl std::fmt::Display) -> StorageError {
    StorageError::Io(std::io::Error::other(format!(
        "the collection plan holds an invalid entry: {what}"
    )))
}

/// Removes a repository's own directories, then the directories above it
/// that hold nothing else, leaving nested repositories (`a/b` under `a`).
async fn remove_repository(registry: &Registry, repo: &RepoName) -> Result<()> {
    let backend = registry.backend();
    let dir = paths::repo_dir(repo);
    for own in ["_manifests", "_layers", "_uploads"] {
        backend.delete(&format!("{dir}/{own}")).await?;
    }
    registry.forget_tags(repo);
    registry.forget_repositories();
    let root = paths::repositories_root();
    let mut current = dir;
    while current != root && current.starts_with(&root) {
        if !backend.list(&current).await?.is_empty() {
            break;
        }
        backend.delete(&current).await?;
        match current.rfind('/') {
            Some(i) => current.truncate(i),
            None => break,
        }
        if backend
            .stat(&format!("{current}/_manifests"))
            .await?
            .is_some()
        {
            break;
        }
    }
    Ok(())
}
