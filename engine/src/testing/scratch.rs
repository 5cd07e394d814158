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
//!
//! ```
//! use user_engine::testing::scratch;
//!
//! let name = scratch::fresh_name();
//! assert!(name.starts_with("ue_test_"));
//! assert_eq!(scratch::token_of(&name), Some(scratch::run_token()));
//! assert_eq!(scratch::token_of("users"), None);
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

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

/// Emptied scratch a process may hand out again, each item with the place (a server) it lives
/// on, at most `limit` of them.
pub struct Pool<T> {
    entries: Mutex<Vec<(String, T)>>,
    limit: usize,
}

impl<T> Pool<T> {
    /// An empty pool holding at most `limit` items.
    pub const fn new(limit: usize) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            limit,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<(String, T)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An item on `place`, if the pool has one.
    pub fn take(&self, place: &str) -> Option<T> {
        let mut entries = self.entries();
        let at = entries.iter().position(|(p, _)| p == place)?;
        Some(entries.swap_remove(at).1)
    }

    /// Whether the pool holds its limit.
    pub fn is_full(&self) -> bool {
        self.entries().len() >= self.limit
    }

    /// Puts `item` in the pool; gives it back when the pool is full.
    pub fn put(&self, place: &str, item: T) -> Result<(), T> {
        let mut entries = self.entries();
        if entries.len() >= self.limit {
            return Err(item);
        }
        entries.push((place.to_owned(), item));
        Ok(())
    }

    /// Every item, leaving the pool empty.
    pub fn drain(&self) -> Vec<(String, T)> {
        std::mem::take(&mut *self.entries())
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
        assert_eq!(pool.put("a", 1), Ok(()));
        assert_eq!(pool.put("b", 2), Ok(()));
        assert!(pool.is_full());
        assert_eq!(pool.put("a", 3), Err(3));
        assert_eq!(pool.take("c"), None);
        assert_eq!(pool.take("b"), Some(2));
        assert_eq!(pool.drain(), vec![("a".to_owned(), 1)]);
        assert_eq!(pool.take("a"), None);
        assert!(first_time("scratch-test-key"));
        assert!(!first_time("scratch-test-key"));
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
