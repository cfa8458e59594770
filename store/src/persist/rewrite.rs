//! Rewrites: a new snapshot, and the log restarted, without stopping
//! writers for long.
//!
//! # How a background rewrite works (fork-free)
//!
//! 1. Under the engine lock, and only for the time of one `open(2)`: the
//!    writer switches to a new, empty segment `h+1`. Every write from that
//!    instant goes there.
//! 2. On a rewrite thread, with no engine lock: a private engine is built
//!    from the chain `base..=h` exactly as recovery would (snapshot, then
//!    the segments replayed). That is, by construction, the dataset at the
//!    instant of the switch, with no copy of the live keyspace and no pause.
//! 3. The private engine is written as snapshot `h+1` (temp file, fsync,
//!    rename, fsync dir), the manifest is pointed at `h+1`, and the files
//!    below `h+1` are deleted.
//!
//! A crash before step 3's manifest switch leaves the old chain plus the
//! new segment (every write); after it, the new snapshot plus the new
//! segment (every write). See `files.rs` for the invariant.
//!
//! The cost is the CPU of a replay and, for its duration, the memory of a
//! second copy of the dataset (as a forked Redis's copy-on-write at worst).
//! The rewrite thread never takes the engine lock: it reports through
//! [`Shared`], and the engine picks the outcome up under its own lock
//! (`poll`), so closing an engine can wait for a rewrite without deadlock.
//!
//! SAVE is the synchronous variant: it holds the engine lock (as Redis's
//! SAVE blocks the server), switches segments and writes the live
//! databases directly.

use super::files::{self, Manifest};
use super::recovery::{self, End};
use super::snapshot;
use super::OpenError;
use crate::engine::Engine;
use parking_lot::Mutex;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a finished rewrite produced.
#[derive(Debug)]
pub(crate) struct Done {
    /// The new base generation.
    pub base: u64,
    /// Size of the new snapshot.
    pub snapshot_size: u64,
}

/// A finished rewrite's report.
pub(crate) struct Outcome {
    pub result: Result<Done, String>,
    pub secs: i64,
}

/// What the rewrite thread shares with the engine.
#[derive(Default)]
pub(crate) struct Shared {
    done: Mutex<Option<Outcome>>,
    running: AtomicBool,
}

/// A rewrite's inputs: the chain to compact and the generation to write.
pub(crate) struct Job {
    pub dir: PathBuf,
    pub base: u64,
    pub has_snapshot: bool,
    /// The newest segment of the chain to compact.
    pub last: u64,
    /// The segment that took over writes (and the snapshot's generation).
    pub new_gen: u64,
    /// The previous segment's file, to make it durable first.
    pub old_file: Arc<File>,
}

/// The engine's side of rewrites.
pub(crate) struct Rewriter {
    shared: Arc<Shared>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// When the running rewrite started.
    pub started: Option<Instant>,
    /// `dirty` when the running rewrite switched segments.
    pub dirty_at_start: u64,
    /// A BGSAVE SCHEDULE / BGREWRITEAOF waiting for the running one.
    pub scheduled: bool,
    /// Successful rewrites.
    pub rewrites: u64,
    /// Consecutive failures.
    pub failures: u64,
    /// Status of the last rewrite.
    pub last_ok: bool,
    /// Duration of the last rewrite, seconds (-1: none yet).
    pub last_secs: i64,
    /// The last failure's text.
    pub last_error: Option<String>,
    /// How long starting the running rewrite held the engine lock.
    pub lock_hold: Duration,
    /// The longest engine-lock hold of the last finished rewrite.
    pub last_lock_hold: Duration,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter {
            shared: Arc::default(),
            handle: None,
            started: None,
            dirty_at_start: 0,
            scheduled: false,
            rewrites: 0,
            failures: 0,
            last_ok: true,
            last_secs: -1,
            last_error: None,
            lock_hold: Duration::ZERO,
            last_lock_hold: Duration::ZERO,
        }
    }
}

impl Rewriter {
    /// True while a background rewrite runs (or waits to be picked up).
    pub fn in_progress(&self) -> bool {
        self.started.is_some()
    }

    /// Starts `job` on a new thread.
    pub fn spawn(&mut self, job: Job, dirty: u64) -> std::io::Result<()> {
        // The previous rewrite's thread finished long ago (its outcome was
        // taken): joining it is immediate.
        self.wait();
        let shared = self.shared.clone();
        shared.running.store(true, Ordering::Release);
        let handle = std::thread::Builder::new()
            .name("ferrite-rewrite".into())
            .spawn(move || {
                lower_priority();
                let t0 = Instant::now();
                let result = run(&job);
                // Everything the rewrite holds goes before the engine is
                // told: the last close of the compacted segment (unlinked
                // by the commit) frees its blocks, which can take tens of
                // ms, and no one must wait for that under the engine lock.
                drop(job);
                if let Err(e) = &result {
                    eprintln!("ferrite: background rewrite failed: {e}");
                }
                *shared.done.lock() = Some(Outcome {
                    result,
                    secs: t0.elapsed().as_secs() as i64,
                });
                shared.running.store(false, Ordering::Release);
            })?;
        self.handle = Some(handle);
        self.started = Some(Instant::now());
        self.dirty_at_start = dirty;
        Ok(())
    }

    /// Takes the outcome of a finished rewrite, if there is one.
    pub fn take_outcome(&mut self) -> Option<Outcome> {
        if self.started.is_none() || self.shared.running.load(Ordering::Acquire) {
            return None;
        }
        let out = self.shared.done.lock().take()?;
        // The thread is not joined here (this runs under the engine lock):
        // it has nothing left to do but return, and is joined by the next
        // `spawn` or `wait`.
        self.started = None;
        self.last_secs = out.secs;
        match &out.result {
            Ok(_) => {
                self.rewrites += 1;
                self.failures = 0;
                self.last_ok = true;
                self.last_error = None;
            }
            Err(e) => {
                self.failures += 1;
                self.last_ok = false;
                self.last_error = Some(e.clone());
            }
        }
        Some(out)
    }

    /// Waits for the running rewrite's thread to finish.
    pub fn wait(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Rewriter {
    fn drop(&mut self) {
        self.wait();
    }
}

/// Nice value of the rewrite thread: writers (and the VM's schedulers)
/// preempt it at once when they have work, so on a small device a rewrite
/// takes longer rather than delaying commands.
#[cfg(target_os = "linux")]
const REWRITE_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`REWRITE_NICE`].
#[cfg(target_os = "linux")]
fn lower_priority() {
    extern "C" {
        fn setpriority(which: i32, who: u32, prio: i32) -> i32;
    }
    // SAFETY: the C library's setpriority, with plain integers. On Linux
    // the nice value is per thread: PRIO_PROCESS (0) with `who` 0 changes
    // the calling thread only. A failure leaves the priority as it was.
    unsafe {
        setpriority(0, 0, REWRITE_NICE);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Moves `ms` back so that the engine's clock reads 0 while loading:
/// nothing expires during a replay (Redis's rule while loading).
pub(crate) const SUSPEND_MS: i64 = 1 << 50;

/// Builds an engine holding the dataset of the chain `base..=last` of
/// `dir`. Every segment must be whole (a rewrite never repairs).
pub(crate) fn rebuild(
    dir: &Path,
    base: u64,
    has_snapshot: bool,
    last: u64,
) -> Result<Arc<Engine>, OpenError> {
    let engine = Engine::new();
    engine.clock.advance(-SUSPEND_MS);
    {
        let mut st = engine.lock();
        st.propagation.loading = true;
        if has_snapshot {
            snapshot::load(&files::snapshot_path(dir, base), &mut st.dbs, 0)?;
        }
        let mut replayer = recovery::Replayer::new(&engine);
        for gen in base..=last {
            let path = files::segment_path(dir, gen);
            let file = File::open(&path).map_err(|e| OpenError::io(&path, e))?;
            let len = file.metadata().map_err(|e| OpenError::io(&path, e))?.len();
            if len == 0 {
                continue;
            }
            // SAFETY: the segment is no longer written (writes moved on).
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| OpenError::io(&path, e))?;
            let parsed = recovery::replay_segment(&mut replayer, &mut st, &map, &path)?;
            match parsed.end {
                End::Clean => {}
                End::Torn => {
                    return Err(OpenError::Corrupt {
                        file: path,
                        offset: parsed.good_len as u64,
                        message: "torn record in a finished segment".into(),
                    })
                }
                End::Corrupt { offset, message } => {
                    return Err(OpenError::Corrupt {
                        file: path,
                        offset: offset as u64,
                        message,
                    })
                }
            }
        }
        for db in st.dbs.iter_mut() {
            db.shrink_to_fit();
        }
        st.propagation.loading = false;
    }
    Ok(engine)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Points the manifest at `new_gen` and deletes the files it replaced.
pub(crate) fn commit(dir: &Path, old_base: u64, last: u64, new_gen: u64) -> std::io::Result<()> {
    Manifest {
        base: new_gen,
        has_snapshot: true,
    }
    .write(dir)?;
    let _ = std::fs::remove_file(files::snapshot_path(dir, old_base));
    for gen in old_base..=last {
        let _ = std::fs::remove_file(files::segment_path(dir, gen));
    }
    files::fsync_dir(dir)
}

fn run(job: &Job) -> Result<Done, String> {
    job.old_file.sync_data().map_err(|e| e.to_string())?;
    let engine =
        rebuild(&job.dir, job.base, job.has_snapshot, job.last).map_err(|e| e.to_string())?;
    let size = {
        let st = engine.lock();
        snapshot::write_dbs(
            &files::snapshot_path(&job.dir, job.new_gen),
            &st.dbs,
            now_ms(),
        )
        .map_err(|e| format!("writing the snapshot: {e}"))?
    };
    drop(engine);
    commit(&job.dir, job.base, job.last, job.new_gen)
        .map_err(|e| format!("switching the manifest: {e}"))?;
    Ok(Done {
        base: job.new_gen,
        snapshot_size: size,
    })
}
