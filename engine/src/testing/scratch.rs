//! Names and cleanup for the scratch a test harness makes on a server — a schema or a database
//! per test — so that nothing outlives its run: not a test that passed, not a run interrupted by
//! a signal, not even a run killed hard.
//!
//! - **Names.** [`fresh_name`] gives `ue_test_<run token>_<n>`. The run token
//!   ([`run_token`]) is the process id and the time of the first call, so two runs never share
//!   one, on one host or several.
//! - **Owner.** While a run has scratch on a server it keeps one session there named after its
//!   token ([`owner_name`]: PostgreSQL's `application_name`, a MySQL named lock). The session
//!   ends when the process does, however it ends.
//! - **Abandoned scratch.** A scratch name whose token has no owner on the server belongs to a run
//!   that is gone; the adapters' `drop_abandoned` drops those, and never one a live run still
//!   owns ([`token_of`] reads the token back).
//! - **Live scratch.** Each piece of scratch registers how to drop itself ([`register`]) for as
//!   long as it exists; [`drop_live`] runs every registered dropper — what a signal handler calls
//!   before the process exits.
//! - **Recycled scratch.** A [`Pool`] keeps emptied scratch for the next test of the same process
//!   (an adapter's pre-migrated schemas); [`first_time`] lets the first one sweep what an earlier
//!   run left.
//! - **Teardown off the test's path.** [`later`] runs a test's teardown (a drop, or emptying for
//!   the pool) on one background thread of the process, so the test ends without waiting for it;
//!   [`settle`] waits for what was handed over, for a run that ends under its own control. A
//!   pool item on its way ([`Pool::expect`]) is waited for by [`Pool::take`] instead of being
//!   made anew. Teardown that a process ending hard never ran leaves scratch without an owner,
//!   which the next run's `drop_abandoned` drops.
//!
//! ```
//! use user_engine::testing::scratch;
//!
//! let name = scratch::fresh_name();
//! assert!(name.starts_with("ue_test_"));
//! assert_eq!(scratch::token_of(&name), Some(scratch::run_token()));
//! assert_eq!(scratch::token_of("users"), None);
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// What every scratch name starts with.
pub const PREFIX: &str = "ue_test_";

/// What every owner session's name starts with.
pub const OWNER_PREFIX: &str = "ue_owner_";

/// This process's run token: its id and the time of the first call (milliseconds since the epoch,
/// in hexadecimal), e.g. `4242t19a1f0c2b3e`. It holds no `_`.
pub fn run_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("{}t{millis:x}", std::process::id())
    })
}

/// A scratch name no other call in any run returns: `ue_test_<run token>_<n>`. At most 40
/// characters, a valid unquoted identifier on PostgreSQL and MySQL.
pub fn fresh_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{PREFIX}{}_{}",
        run_token(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The run token `name` carries, or `None` when it is not a scratch name. A name from before run
/// tokens (`ue_test_<pid>_<n>_<nanos>`) reads as a token that no owner holds.
pub fn token_of(name: &str) -> Option<&str> {
    let (token, n) = name.strip_prefix(PREFIX)?.rsplit_once('_')?;
    (!token.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(token)
}

/// The name of the owner session of the run with `token`: `ue_owner_<token>`.
pub fn owner_name(token: &str) -> String {
    format!("{OWNER_PREFIX}{token}")
}

type Dropper = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Live {
    entries: BTreeMap<u64, (String, Dropper)>,
    next: u64,
    /// Set by [`drop_live`]: the run is ending, so nothing new is made.
    closed: bool,
}

fn live() -> std::sync::MutexGuard<'static, Live> {
    static LIVE: OnceLock<Mutex<Live>> = OnceLock::new();
    LIVE.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn insert(live: &mut Live, name: String, dropper: Dropper) -> Registration {
    let id = live.next;
    live.next += 1;
    live.entries.insert(id, (name, dropper));
    Registration { id }
}

/// Registers how to drop one piece of scratch that exists already, for [`drop_live`]; the
/// returned guard unregisters it (drop it when the scratch is gone). After [`drop_live`] has run
/// the dropper runs at once instead.
pub fn register(
    name: impl Into<String>,
    dropper: impl Fn() + Send + Sync + 'static,
) -> Registration {
    let mut live = live();
    if live.closed {
        drop(live);
        dropper();
        return Registration { id: u64::MAX };
    }
    insert(&mut live, name.into(), Box::new(dropper))
}

/// Makes one piece of scratch with `make` and registers its `dropper`, as one step that
/// [`drop_live`] cannot come between: scratch is either made and dropped by it, or never made.
/// `None`, without calling `make`, once [`drop_live`] has run (the run is ending). Creations on
/// several threads take turns.
pub fn create<T, E>(
    name: impl Into<String>,
    make: impl FnOnce() -> Result<T, E>,
    dropper: impl Fn() + Send + Sync + 'static,
) -> Option<Result<(T, Registration), E>> {
    let mut live = live();
    if live.closed {
        return None;
    }
    Some(make().map(|made| (made, insert(&mut live, name.into(), Box::new(dropper)))))
}

/// Runs the dropper of every piece of scratch registered now, and unregisters it; from then on
/// [`create`] makes nothing and [`register`] drops at once. Returns the names it dropped, in
/// registration order. Meant for the end of a run (a signal handler); safe to call from any
/// thread. A dropper that fails says so on stderr (one that panics is caught) and the rest still
/// run.
pub fn drop_live() -> Vec<String> {
    let taken = {
        let mut live = live();
        live.closed = true;
        std::mem::take(&mut live.entries)
    };
    taken
        .into_values()
        .map(|(name, dropper)| {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(&dropper)).is_err() {
                eprintln!("could not drop scratch {name}: its dropper panicked");
            }
            name
        })
        .collect()
}

/// Keeps one piece of scratch registered with [`drop_live`] while it lives.
#[derive(Debug)]
#[must_use = "dropping the registration at once unregisters the scratch"]
pub struct Registration {
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        live().entries.remove(&self.id);
    }
}

/// Teardown handed to [`later`] and not yet finished, at most this many; past it, [`later`] runs
/// the job on the calling thread, so a slow server holds tests up rather than piling work up.
pub const LATER_LIMIT: usize = 8;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Jobs {
    queue: VecDeque<Job>,
    /// Queued or running, on the teardown thread or on a caller's.
    unfinished: usize,
    /// The teardown thread, once started.
    worker: Option<std::thread::ThreadId>,
}

struct Later {
    jobs: Mutex<Jobs>,
    changed: Condvar,
}

fn later_jobs() -> &'static Later {
    static LATER: OnceLock<Later> = OnceLock::new();
    LATER.get_or_init(|| Later {
        jobs: Mutex::default(),
        changed: Condvar::new(),
    })
}

impl Later {
    fn lock(&self) -> std::sync::MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The worker: runs the jobs in turn, for the life of the process.
    fn work(&'static self) {
        loop {
            let job = {
                let mut jobs = self.lock();
                loop {
                    if let Some(job) = jobs.queue.pop_front() {
                        break job;
                    }
                    jobs = self
                        .changed
                        .wait(jobs)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            run_job(job);
            self.lock().unfinished -= 1;
            self.changed.notify_all();
        }
    }
}

/// Runs one teardown job; one that panics says so and the rest still run.
fn run_job(job: Job) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
        eprintln!("a test teardown panicked; its scratch is left for drop_abandoned");
    }
}

/// Runs `job` — a test's teardown — after the call returns, on the process's one teardown
/// thread, in the order handed over. It runs on the calling thread instead, at once, when
/// [`LATER_LIMIT`] jobs are unfinished, when no thread can be started, or when the caller is the
/// teardown thread itself. A job keeps the scratch's [`Registration`] until the scratch is gone,
/// so [`drop_live`] still drops what is waiting.
pub fn later(job: impl FnOnce() + Send + 'static) {
    let later = later_jobs();
    let mut jobs = later.lock();
    let here = std::thread::current().id();
    let mut inline = jobs.unfinished >= LATER_LIMIT || jobs.worker == Some(here);
    if !inline && jobs.worker.is_none() {
        match std::thread::Builder::new()
            .name("user-engine-teardown".into())
            .spawn(|| later_jobs().work())
        {
            Ok(worker) => jobs.worker = Some(worker.thread().id()),
            Err(_) => inline = true,
        }
    }
    // Counted while it runs wherever it runs, so `settle` waits for it too.
    jobs.unfinished += 1;
    if inline {
        drop(jobs);
        run_job(Box::new(job));
        later.lock().unfinished -= 1;
    } else {
        jobs.queue.push_back(Box::new(job));
        drop(jobs);
    }
    later.changed.notify_all();
}

/// Waits until no job handed to [`later`] is unfinished: for a run that ends under its own
/// control (a command, a benchmark) once its tests are done, so that it leaves nothing behind.
/// On the teardown thread itself (a job that settles) it returns at once.
pub fn settle() {
    let later = later_jobs();
    let mut jobs = later.lock();
    if jobs.worker == Some(std::thread::current().id()) {
        return;
    }
    while jobs.unfinished > 0 {
        jobs = later
            .changed
            .wait(jobs)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

/// How long [`Pool::take`] waits for an item on its way before giving up on it.
const INCOMING_PATIENCE: Duration = Duration::from_secs(10);

struct PoolEntries<T> {
    items: Vec<(String, T)>,
    /// Places with an item on its way ([`Pool::expect`]), once per item.
    incoming: Vec<String>,
}

/// Emptied scratch a process may hand out again, each item with the place (a server) it lives
/// on, at most `limit` of them, counting those on their way. An item goes in through the room
/// [`Pool::expect`] keeps for it, so teardown that empties scratch off a test's path
/// ([`later`]) can tell a test waiting in [`Pool::take`] that it is coming.
pub struct Pool<T> {
    entries: Mutex<PoolEntries<T>>,
    arrived: Condvar,
    limit: usize,
}

impl<T> Pool<T> {
    /// An empty pool holding at most `limit` items.
    pub const fn new(limit: usize) -> Self {
        Self {
            entries: Mutex::new(PoolEntries {
                items: Vec::new(),
                incoming: Vec::new(),
            }),
            arrived: Condvar::new(),
            limit,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, PoolEntries<T>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An item on `place`, if the pool has one or one is on its way there (then this waits for
    /// it, up to 10 s).
    pub fn take(&self, place: &str) -> Option<T> {
        let mut entries = self.entries();
        let deadline = std::time::Instant::now() + INCOMING_PATIENCE;
        loop {
            if let Some(at) = entries.items.iter().position(|(p, _)| p == place) {
                return Some(entries.items.swap_remove(at).1);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || !entries.incoming.iter().any(|p| p == place) {
                return None;
            }
            entries = self
                .arrived
                .wait_timeout(entries, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Room for one item on its way to `place` (emptied by teardown that runs [`later`]), or
    /// `None` when the pool is full. Until the returned [`Incoming`] is put or dropped,
    /// [`Pool::take`] on `place` waits for it rather than answering `None`.
    pub fn expect(&self, place: &str) -> Option<Incoming<'_, T>> {
        let mut entries = self.entries();
        if entries.items.len() + entries.incoming.len() >= self.limit {
            return None;
        }
        entries.incoming.push(place.to_owned());
        Some(Incoming {
            pool: self,
            place: place.to_owned(),
            arrived: false,
        })
    }

    /// Every item, leaving the pool empty (items on their way arrive later).
    pub fn drain(&self) -> Vec<(String, T)> {
        std::mem::take(&mut self.entries().items)
    }

    /// Ends one expectation of an item on `place`, with the item or without it.
    fn arrive(&self, place: &str, item: Option<T>) {
        let mut entries = self.entries();
        if let Some(at) = entries.incoming.iter().position(|p| p == place) {
            entries.incoming.swap_remove(at);
        }
        if let Some(item) = item {
            entries.items.push((place.to_owned(), item));
        }
        drop(entries);
        self.arrived.notify_all();
    }
}

/// An item on its way to a [`Pool`]: put it there, or drop this to say it will not come.
#[must_use = "dropping it at once says the item will not come"]
pub struct Incoming<'p, T> {
    pool: &'p Pool<T>,
    place: String,
    arrived: bool,
}

impl<T> Incoming<'_, T> {
    /// Puts the item in the pool, in the room this kept for it.
    pub fn put(mut self, item: T) {
        self.arrived = true;
        self.pool.arrive(&self.place, Some(item));
    }
}

impl<T> Drop for Incoming<'_, T> {
    fn drop(&mut self) {
        if !self.arrived {
            self.pool.arrive(&self.place, None);
        }
    }
}

/// Whether this is the first call with `key` in this process (`true` once per key): for work
/// done once per server, such as sweeping what an earlier run left there.
pub fn first_time(key: &str) -> bool {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    if seen.iter().any(|k| k == key) {
        return false;
    }
    seen.push(key.to_owned());
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn a_pool_gives_back_what_it_holds_by_place_and_refuses_past_its_limit() {
        let pool = Pool::new(2);
        pool.expect("a").expect("room").put(1);
        pool.expect("b").expect("room").put(2);
        assert!(pool.expect("a").is_none(), "full");
        assert_eq!(pool.take("c"), None);
        assert_eq!(pool.take("b"), Some(2));
        assert_eq!(pool.drain(), vec![("a".to_owned(), 1)]);
        assert_eq!(pool.take("a"), None);
        assert!(first_time("scratch-test-key"));
        assert!(!first_time("scratch-test-key"));
    }

    #[test]
    fn a_pool_waits_for_an_item_on_its_way_and_counts_it_against_its_limit() {
        let pool = Pool::new(2);
        let coming = pool.expect("a").expect("room for one");
        let dropped = pool.expect("a").expect("room for two");
        assert!(pool.expect("b").is_none(), "items on their way take room");
        drop(dropped);
        let freed = pool.expect("b");
        assert!(freed.is_some(), "an item that will not come frees its room");
        drop(freed);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                coming.put(5);
            });
            assert_eq!(pool.take("b"), None, "nothing is on its way to b: no wait");
            assert_eq!(
                pool.take("a"),
                Some(5),
                "take waits for the item on its way"
            );
        });
        let never = pool.expect("a").expect("room");
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                drop(never);
            });
            assert_eq!(
                pool.take("a"),
                None,
                "an item that will not come ends the wait"
            );
        });
    }

    #[test]
    fn later_runs_jobs_in_turn_off_the_calling_thread_and_settle_waits_for_them() {
        let caller = std::thread::current().id();
        let ran = Arc::new(Mutex::new(Vec::new()));
        for n in 0..3 {
            let ran = Arc::clone(&ran);
            later(move || {
                // The first job is slow: settle must still wait for all three.
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(50));
                }
                ran.lock().unwrap().push((n, std::thread::current().id()));
            });
        }
        later(|| panic!("a teardown that fails"));
        let after = Arc::clone(&ran);
        later(move || {
            // A job that settles or hands over teardown of its own does not wait for itself.
            settle();
            let inner = Arc::clone(&after);
            later(move || inner.lock().unwrap().push((4, std::thread::current().id())));
            after.lock().unwrap().push((3, std::thread::current().id()));
        });
        settle();
        let ran = ran.lock().unwrap();
        let order: Vec<u32> = ran.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            order,
            [0, 1, 2, 4, 3],
            "in turn, and past a job that panicked"
        );
        assert!(ran.iter().all(|(_, thread)| *thread != caller));
    }

    #[test]
    fn names_are_fresh_and_carry_the_run_token() {
        let a = fresh_name();
        let b = fresh_name();
        assert_ne!(a, b);
        assert!(a.len() <= 40, "{a}");
        assert!(!run_token().contains('_'));
        assert_eq!(token_of(&a), Some(run_token()));
        assert_eq!(owner_name(run_token()), format!("ue_owner_{}", run_token()));
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
    }

    #[test]
    fn old_and_foreign_names_read_as_expected() {
        assert_eq!(token_of("ue_test_4242_3_0a1b2c3d"), Some("4242_3"));
        assert_eq!(token_of("ue_test_"), None);
        assert_eq!(token_of("ue_test_x_"), None);
        assert_eq!(token_of("public"), None);
    }

    /// One test only: `drop_live` closes the registry for the rest of the process.
    #[test]
    fn live_scratch_is_dropped_once_and_nothing_is_made_after() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&dropped);
        let (made, kept) = create(
            "scratch-made",
            || Ok::<_, ()>(7),
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
            },
        )
        .expect("the registry is open")
        .unwrap();
        assert_eq!(made, 7);
        let gone = register("scratch-unregistered", || panic!("unregistered, never run"));
        drop(gone);
        let panics = register("scratch-whose-dropper-panics", || {
            panic!("a dropper that fails")
        });
        assert_eq!(
            drop_live(),
            ["scratch-made", "scratch-whose-dropper-panics"]
        );
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert!(drop_live().is_empty(), "each dropper runs once");
        let never = create(
            "scratch-late",
            || -> Result<(), ()> { panic!("never made") },
            || {},
        );
        assert!(never.is_none(), "nothing is made once the run is ending");
        let counter = Arc::clone(&dropped);
        let late = register("scratch-late", move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            2,
            "a late registration drops at once"
        );
        drop((kept, panics, late));
    }
}
