//! Call sequences through the C ABI, as a careless C program would make
//! them: create, configure, acquire, extend, release, start and stop
//! elections, free; with NULL, handles of another type, handles already
//! freed (double frees, use after free or after stop), strings that are not
//! UTF-8, absurd numbers.
//!
//! The nodes are local and answer at once, so no input waits on a network:
//! a fake Redis in this process that grants everything
//! (`redlead_harness::FakeServer`, so locks are held and elections won), a
//! closed loopback port (refused at once), a missing unix socket, and URL
//! strings without a `:` (which never parse as a URL, so never dial). Waits
//! are at most 63 ms, or above the 24 h cap (rejected).
//!
//! The contract (ffi/src/boundary.rs): NULL, another handle type and a use
//! of one of the last 1024 handles freed are detected; so a handle is used
//! after its free only within the input that freed it (well under 1024
//! frees). Strings the library returns are freed once. Oracles: no panic
//! (libFuzzer aborts on one, even where the boundary would catch it), no
//! memory error (AddressSanitizer), no leak (LeakSanitizer, at exit), every
//! status one of `redlead_status`, and an error object exactly when a call
//! failed and asked for one.
#![no_main]

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use redlead_ffi::cancel::*;
use redlead_ffi::client::*;
use redlead_ffi::closure::{redlead_event, redlead_event_closure, redlead_lost_closure};
use redlead_ffi::config::*;
use redlead_ffi::election::*;
use redlead_ffi::error::*;
use redlead_ffi::lock::*;
use redlead_harness::FakeServer;

fn granting_node() -> String {
    static NODE: OnceLock<FakeServer> = OnceLock::new();
    NODE.get_or_init(|| FakeServer::start(|_| None)).url()
}

#[derive(Arbitrary, Debug)]
enum Text {
    Null,
    /// C sees the bytes up to the first NUL; not necessarily UTF-8.
    Bytes(Vec<u8>),
    Short(u8),
}

impl Text {
    fn c(&self) -> Option<CString> {
        match self {
            Text::Null => None,
            Text::Bytes(b) => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                Some(CString::new(&b[..end]).unwrap())
            }
            Text::Short(n) => Some(CString::new(format!("r{n}")).unwrap()),
        }
    }
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(null(), |s| s.as_ptr())
}

#[derive(Arbitrary, Debug)]
enum Url {
    Granting,
    Closed,
    MissingSocket,
    ClosedTls,
    WithPassword,
    /// Kept only when it has no ':', so it can never name a host to dial.
    Raw(Text),
}

impl Url {
    fn c(&self) -> Option<CString> {
        let text = |s: String| Some(CString::new(s).unwrap());
        match self {
            Url::Granting => text(granting_node()),
            Url::Closed => text("redis://127.0.0.1:1".into()),
            Url::MissingSocket => text("redis+unix:///nonexistent/redlead-fuzz.sock".into()),
            Url::ClosedTls => text("rediss://127.0.0.1:1".into()),
            Url::WithPassword => text("redis://user:pw@127.0.0.1:1/3".into()),
            Url::Raw(t) => t.c().filter(|s| !s.as_bytes().contains(&b':')),
        }
    }
}

/// Which handle an argument gets.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Pick {
    Null,
    Live(u8),
    /// One freed earlier in this input (a double free, a use after free).
    Freed(u8),
    /// A live handle of another type.
    Other(u8),
}

/// A duration in ms: small (no wait worth speaking of) or absurd.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ms {
    Small(u8),
    Any(u64),
}

impl Ms {
    fn ms(self) -> u64 {
        match self {
            Ms::Small(n) => u64::from(n),
            Ms::Any(n) => n,
        }
    }
    /// For waits: at most 63 ms, or over the 24 h cap.
    fn wait(self) -> u64 {
        match self {
            Ms::Small(n) => u64::from(n % 64),
            Ms::Any(n) => 86_400_001u64.saturating_add(n % 1000),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Setting {
    NodeTimeout(Ms),
    Drift(f64),
    RetryCount(u32),
    RetryDelay(Ms),
    RetryJitter(Ms),
    KeyPrefix(Text),
    RootCa(Text),
    ClientCert(Text, Text),
    HashTag(u8),
    ConnectTimeout(Ms),
    RuntimeThreads(u8),
}

#[derive(Arbitrary, Debug)]
enum ElectionSetting {
    Ttl(Ms),
    Renew(Ms),
    Retry(Ms),
    Jitter(Ms),
    StopTimeout(Ms),
    Margin(Ms),
}

#[derive(Arbitrary, Debug)]
enum Op {
    ConfigNew,
    ConfigSet(Pick, Setting, bool),
    ConfigFree(Pick),
    ElectionConfigNew,
    ElectionConfigSet(Pick, ElectionSetting, bool),
    ElectionConfigFree(Pick),
    OptionsNew,
    OptionsFenced(Pick, u8),
    OptionsOwner(Pick, Text),
    OptionsAutoExtend(Pick, Ms, u32, Ms),
    OptionsFree(Pick),
    CancelNew,
    CancelCancel(Pick),
    CancelFree(Pick),
    ClientNew {
        urls: Vec<Url>,
        null_array: bool,
        config: Pick,
        null_out: bool,
    },
    ClientPing(Pick),
    ClientHolder(Pick, Text),
    ClientFree(Pick),
    TryAcquire(Pick, Text, Ms, u32),
    Acquire(Pick, Text, Ms, Ms, u32),
    AcquireWith(Pick, Text, Ms, Ms, Pick, Pick),
    Extend(Pick, Ms),
    Release(Pick),
    OnLost(Pick, bool),
    LockQuery(Pick),
    LockFree(Pick),
    ElectionStart {
        client: Pick,
        resource: Text,
        id: Text,
        config: Pick,
        with_call: bool,
    },
    ElectionQuery(Pick),
    ElectionLeader(Pick, u16, bool),
    ElectionResign(Pick),
    ElectionFree(Pick),
    OutcomesQuery(Pick, u8),
    OutcomesFree(Pick),
    ErrorQuery(Pick, u8),
    ErrorFree(Pick),
    StatusText(u8),
}

struct Pool<T> {
    live: Vec<*mut T>,
    freed: Vec<*mut T>,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool {
            live: Vec::new(),
            freed: Vec::new(),
        }
    }
}

impl<T> Pool<T> {
    fn add(&mut self, p: *mut T) {
        if !p.is_null() {
            self.live.push(p);
        }
    }
    /// The handle for `pick`; `others` are live handles of other types.
    fn get(&self, pick: Pick, others: &[*mut c_void]) -> *mut T {
        let nth = |v: &[*mut T], i: u8| {
            if v.is_empty() {
                null_mut()
            } else {
                v[usize::from(i) % v.len()]
            }
        };
        match pick {
            Pick::Null => null_mut(),
            Pick::Live(i) => nth(&self.live, i),
            Pick::Freed(i) => nth(&self.freed, i),
            Pick::Other(_) if others.is_empty() => null_mut(),
            Pick::Other(i) => others[usize::from(i) % others.len()].cast(),
        }
    }
    /// Notes that `p` was passed to its free function.
    fn freed(&mut self, p: *mut T) {
        if let Some(i) = self.live.iter().position(|&x| x == p) {
            self.freed.push(self.live.swap_remove(i));
        }
    }
}

#[derive(Default)]
struct World {
    configs: Pool<redlead_config>,
    election_configs: Pool<redlead_election_config>,
    options: Pool<redlead_lock_options>,
    cancels: Pool<redlead_cancel>,
    clients: Pool<redlead_client>,
    locks: Pool<redlead_lock>,
    elections: Pool<redlead_election>,
    outcomes: Pool<redlead_outcomes>,
    errors: Pool<redlead_error>,
}

impl World {
    /// Live handles of every type but `T`'s pool `except`.
    fn others(&self, except: usize) -> Vec<*mut c_void> {
        let pools: [Vec<*mut c_void>; 9] = [
            self.configs.live.iter().map(|p| p.cast()).collect(),
            self.election_configs
                .live
                .iter()
                .map(|p| p.cast())
                .collect(),
            self.options.live.iter().map(|p| p.cast()).collect(),
            self.cancels.live.iter().map(|p| p.cast()).collect(),
            self.clients.live.iter().map(|p| p.cast()).collect(),
            self.locks.live.iter().map(|p| p.cast()).collect(),
            self.elections.live.iter().map(|p| p.cast()).collect(),
            self.outcomes.live.iter().map(|p| p.cast()).collect(),
            self.errors.live.iter().map(|p| p.cast()).collect(),
        ];
        pools
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != except)
            .flat_map(|(_, v)| v)
            .collect()
    }
}

macro_rules! pick {
    ($world:ident . $pool:ident [$index:expr], $pick:expr) => {{
        let others = $world.others($index);
        $world.$pool.get($pick, &others)
    }};
}

/// Runs a call that takes `error_out`, checks that an error object comes
/// exactly with a failure, and keeps it.
fn call(
    world: &mut World,
    f: impl FnOnce(*mut *mut redlead_error) -> redlead_status,
) -> redlead_status {
    let mut error: *mut redlead_error = null_mut();
    let status = f(&mut error);
    assert!(STATUSES.contains(&status), "status out of range");
    assert_eq!(
        status == redlead_status::REDLEAD_OK,
        error.is_null(),
        "{status:?} with error object {error:?}"
    );
    if !error.is_null() {
        let message = redlead_error_message(error);
        assert!(!message.is_null());
        let _ = unsafe { CStr::from_ptr(message) }.to_bytes().len();
        world.errors.add(error);
    }
    status
}

const STATUSES: [redlead_status; 12] = {
    use redlead_status::*;
    [
        REDLEAD_OK,
        REDLEAD_NOT_ACQUIRED,
        REDLEAD_LOST,
        REDLEAD_ERR_INVALID_ARGUMENT,
        REDLEAD_ERR_CONNECTION,
        REDLEAD_ERR_TIMEOUT,
        REDLEAD_ERR_CLOSED,
        REDLEAD_ERR_FORKED,
        REDLEAD_ERR_WRONG_THREAD,
        REDLEAD_ERR_PANIC,
        REDLEAD_ERR_INTERNAL,
        REDLEAD_ERR_CANCELLED,
    ]
};

unsafe extern "C" fn on_event(_: *mut c_void, event: *const redlead_event) {
    assert!(!event.is_null());
}
unsafe extern "C" fn on_lost(_: *mut c_void) {}
unsafe extern "C" fn on_drop(_: *mut c_void) {}

fn read_c(p: *const c_char) {
    if !p.is_null() {
        let _ = unsafe { CStr::from_ptr(p) }.to_bytes().len();
    }
}

fn run(world: &mut World, op: &Op) {
    use redlead_status::REDLEAD_OK;
    match op {
        Op::ConfigNew => world.configs.add(redlead_config_new()),
        Op::ConfigSet(p, setting, null_error) => {
            let c = pick!(world.configs[0], *p);
            let mut run_setter = |f: &dyn Fn(*mut *mut redlead_error) -> redlead_status| {
                if *null_error {
                    assert!(STATUSES.contains(&f(null_mut())));
                } else {
                    call(world, f);
                }
            };
            match setting {
                Setting::NodeTimeout(ms) => {
                    run_setter(&|e| redlead_config_set_node_timeout_ms(c, ms.ms(), e))
                }
                Setting::Drift(d) => run_setter(&|e| redlead_config_set_drift_factor(c, *d, e)),
                Setting::RetryCount(n) => run_setter(&|e| redlead_config_set_retry_count(c, *n, e)),
                Setting::RetryDelay(ms) => {
                    run_setter(&|e| redlead_config_set_retry_delay_ms(c, ms.ms(), e))
                }
                Setting::RetryJitter(ms) => {
                    run_setter(&|e| redlead_config_set_retry_jitter_ms(c, ms.ms(), e))
                }
                Setting::KeyPrefix(t) => {
                    let s = t.c();
                    run_setter(&|e| redlead_config_set_key_prefix(c, ptr(&s), e))
                }
                Setting::RootCa(t) => {
                    let s = t.c();
                    run_setter(&|e| redlead_config_set_tls_root_ca_pem(c, ptr(&s), e))
                }
                Setting::ClientCert(cert, key) => {
                    let (cert, key) = (cert.c(), key.c());
                    run_setter(&|e| {
                        redlead_config_set_tls_client_cert_pem(c, ptr(&cert), ptr(&key), e)
                    })
                }
                Setting::HashTag(b) => run_setter(&|e| redlead_config_set_key_hash_tag(c, *b, e)),
                Setting::ConnectTimeout(ms) => {
                    run_setter(&|e| redlead_config_set_connect_timeout_ms(c, ms.ms(), e))
                }
                Setting::RuntimeThreads(n) => {
                    run_setter(&|e| redlead_config_set_runtime_threads(c, u32::from(*n), e))
                }
            }
        }
        Op::ConfigFree(p) => {
            let c = pick!(world.configs[0], *p);
            redlead_config_free(c);
            world.configs.freed(c);
        }
        Op::ElectionConfigNew => world.election_configs.add(redlead_election_config_new()),
        Op::ElectionConfigSet(p, setting, null_error) => {
            let c = pick!(world.election_configs[1], *p);
            let f = |e: *mut *mut redlead_error| match setting {
                ElectionSetting::Ttl(ms) => redlead_election_config_set_ttl_ms(c, ms.ms(), e),
                ElectionSetting::Renew(ms) => {
                    redlead_election_config_set_renew_interval_ms(c, ms.ms(), e)
                }
                ElectionSetting::Retry(ms) => {
                    redlead_election_config_set_retry_interval_ms(c, ms.ms(), e)
                }
                ElectionSetting::Jitter(ms) => {
                    redlead_election_config_set_retry_jitter_ms(c, ms.ms(), e)
                }
                ElectionSetting::StopTimeout(ms) => {
                    redlead_election_config_set_stop_timeout_ms(c, ms.ms(), e)
                }
                ElectionSetting::Margin(ms) => {
                    redlead_election_config_set_step_down_margin_ms(c, ms.ms(), e)
                }
            };
            if *null_error {
                assert!(STATUSES.contains(&f(null_mut())));
            } else {
                call(world, f);
            }
        }
        Op::ElectionConfigFree(p) => {
            let c = pick!(world.election_configs[1], *p);
            redlead_election_config_free(c);
            world.election_configs.freed(c);
        }
        Op::OptionsNew => world.options.add(redlead_lock_options_new()),
        Op::OptionsFenced(p, b) => {
            let o = pick!(world.options[2], *p);
            call(world, |e| redlead_lock_options_set_fenced(o, *b, e));
        }
        Op::OptionsOwner(p, t) => {
            let o = pick!(world.options[2], *p);
            let s = t.c();
            call(world, |e| redlead_lock_options_set_owner(o, ptr(&s), e));
        }
        Op::OptionsAutoExtend(p, hold, n, interval) => {
            let o = pick!(world.options[2], *p);
            call(world, |e| {
                redlead_lock_options_set_auto_extend(o, hold.ms(), *n, interval.ms(), e)
            });
        }
        Op::OptionsFree(p) => {
            let o = pick!(world.options[2], *p);
            redlead_lock_options_free(o);
            world.options.freed(o);
        }
        Op::CancelNew => world.cancels.add(redlead_cancel_new()),
        Op::CancelCancel(p) => {
            let c = pick!(world.cancels[3], *p);
            call(world, |e| redlead_cancel_cancel(c, e));
            let _ = redlead_cancel_is_cancelled(c);
        }
        Op::CancelFree(p) => {
            let c = pick!(world.cancels[3], *p);
            redlead_cancel_free(c);
            world.cancels.freed(c);
        }
        Op::ClientNew {
            urls,
            null_array,
            config,
            null_out,
        } => {
            let strings: Vec<Option<CString>> = urls.iter().take(7).map(Url::c).collect();
            let pointers: Vec<*const c_char> = strings.iter().map(ptr).collect();
            let array = if *null_array {
                null()
            } else {
                pointers.as_ptr()
            };
            let config = pick!(world.configs[0], *config);
            let mut client: *mut redlead_client = null_mut();
            let out = if *null_out {
                null_mut()
            } else {
                &mut client as *mut _
            };
            let status = call(world, |e| {
                redlead_client_new(array, pointers.len(), config, out, e)
            });
            if *null_out {
                assert_ne!(status, REDLEAD_OK, "a client with nowhere to put it");
            } else {
                assert_eq!(status == REDLEAD_OK, !client.is_null());
            }
            world.clients.add(client);
        }
        Op::ClientPing(p) => {
            let c = pick!(world.clients[4], *p);
            let mut outcomes: *mut redlead_outcomes = null_mut();
            call(world, |e| redlead_client_ping(c, &mut outcomes, e));
            world.outcomes.add(outcomes);
        }
        Op::ClientHolder(p, resource) => {
            let c = pick!(world.clients[4], *p);
            let r = resource.c();
            let (mut held, mut owner): (u8, *mut c_char) = (0, null_mut());
            call(world, |e| {
                redlead_client_holder(c, ptr(&r), &mut held, &mut owner, e)
            });
            read_c(owner);
            redlead_string_free(owner);
        }
        Op::ClientFree(p) => {
            let c = pick!(world.clients[4], *p);
            redlead_client_free(c);
            world.clients.freed(c);
        }
        Op::TryAcquire(p, resource, ttl, flags) => {
            let c = pick!(world.clients[4], *p);
            let r = resource.c();
            let mut lock: *mut redlead_lock = null_mut();
            call(world, |e| {
                redlead_lock_try_acquire(c, ptr(&r), ttl.ms(), *flags, &mut lock, e)
            });
            world.locks.add(lock);
        }
        Op::Acquire(p, resource, ttl, wait, flags) => {
            let c = pick!(world.clients[4], *p);
            let r = resource.c();
            let mut lock: *mut redlead_lock = null_mut();
            call(world, |e| {
                redlead_lock_acquire(c, ptr(&r), ttl.ms(), wait.wait(), *flags, &mut lock, e)
            });
            world.locks.add(lock);
        }
        Op::AcquireWith(p, resource, ttl, wait, options, cancel) => {
            let c = pick!(world.clients[4], *p);
            let o = pick!(world.options[2], *options);
            let k = pick!(world.cancels[3], *cancel);
            let r = resource.c();
            let mut lock: *mut redlead_lock = null_mut();
            call(world, |e| {
                redlead_lock_acquire_with(c, ptr(&r), ttl.ms(), wait.wait(), o, k, &mut lock, e)
            });
            world.locks.add(lock);
        }
        Op::Extend(p, ttl) => {
            let l = pick!(world.locks[5], *p);
            call(world, |e| redlead_lock_extend(l, ttl.ms(), e));
        }
        Op::Release(p) => {
            let l = pick!(world.locks[5], *p);
            call(world, |e| redlead_lock_release(l, e));
        }
        Op::OnLost(p, with_call) => {
            let l = pick!(world.locks[5], *p);
            let closure = redlead_lost_closure {
                context: null_mut(),
                call: with_call.then_some(on_lost as unsafe extern "C" fn(*mut c_void)),
                drop: Some(on_drop),
            };
            call(world, |e| redlead_lock_on_lost(l, closure, e));
        }
        Op::LockQuery(p) => {
            let l = pick!(world.locks[5], *p);
            let _ = (
                redlead_lock_validity_ms(l),
                redlead_lock_is_held(l),
                redlead_lock_fencing_token(l),
                redlead_lock_extensions(l),
            );
        }
        Op::LockFree(p) => {
            let l = pick!(world.locks[5], *p);
            redlead_lock_free(l);
            world.locks.freed(l);
        }
        Op::ElectionStart {
            client,
            resource,
            id,
            config,
            with_call,
        } => {
            let c = pick!(world.clients[4], *client);
            let k = pick!(world.election_configs[1], *config);
            let (r, i) = (resource.c(), id.c());
            let closure = redlead_event_closure {
                context: null_mut(),
                call: with_call
                    .then_some(on_event as unsafe extern "C" fn(*mut c_void, *const redlead_event)),
                drop: Some(on_drop),
            };
            let mut election: *mut redlead_election = null_mut();
            call(world, |e| {
                redlead_election_start(c, ptr(&r), ptr(&i), k, closure, &mut election, e)
            });
            world.elections.add(election);
        }
        Op::ElectionQuery(p) => {
            let el = pick!(world.elections[6], *p);
            let _ = (
                redlead_election_is_leader(el),
                redlead_election_term(el),
                redlead_election_transitions(el),
                redlead_election_is_healthy(el),
            );
        }
        Op::ElectionLeader(p, len, null_buf) => {
            let el = pick!(world.elections[6], *p);
            let mut buf = vec![0 as c_char; usize::from(*len % 600)];
            let (b, n) = if *null_buf {
                (null_mut(), usize::from(*len))
            } else {
                (buf.as_mut_ptr(), buf.len())
            };
            let mut needed = 0usize;
            let status = call(world, |e| redlead_election_leader(el, b, n, &mut needed, e));
            if status == REDLEAD_OK && !b.is_null() && n > 0 {
                assert!(buf.contains(&0), "the leader's name is not terminated");
            }
        }
        Op::ElectionResign(p) => {
            let el = pick!(world.elections[6], *p);
            let mut resigned = 0u8;
            call(world, |e| redlead_election_resign(el, &mut resigned, e));
        }
        Op::ElectionFree(p) => {
            let el = pick!(world.elections[6], *p);
            call(world, |e| redlead_election_free(el, e));
            world.elections.freed(el);
        }
        Op::OutcomesQuery(p, index) => {
            let o = pick!(world.outcomes[7], *p);
            let n = redlead_outcomes_count(o);
            let (mut node, mut message): (*const c_char, *const c_char) = (null(), null());
            let mut outcome = redlead_outcome::REDLEAD_OUTCOME_OK;
            let index = usize::from(*index) % (n + 2);
            call(world, |e| {
                redlead_outcomes_get(o, index, &mut node, &mut outcome, &mut message, e)
            });
            read_c(node);
            read_c(message);
        }
        Op::OutcomesFree(p) => {
            let o = pick!(world.outcomes[7], *p);
            redlead_outcomes_free(o);
            world.outcomes.freed(o);
        }
        Op::ErrorQuery(p, index) => {
            let err = pick!(world.errors[8], *p);
            let _ = redlead_error_code(err);
            read_c(redlead_error_message(err));
            let n = redlead_error_node_count(err);
            let (mut node, mut message): (*const c_char, *const c_char) = (null(), null());
            let mut outcome = redlead_outcome::REDLEAD_OUTCOME_OK;
            let index = usize::from(*index) % (n + 2);
            call(world, |e| {
                redlead_error_node_outcome(err, index, &mut node, &mut outcome, &mut message, e)
            });
            read_c(node);
            read_c(message);
        }
        Op::ErrorFree(p) => {
            let err = pick!(world.errors[8], *p);
            redlead_error_free(err);
            world.errors.freed(err);
        }
        Op::StatusText(i) => {
            let status = STATUSES[usize::from(*i) % STATUSES.len()];
            let text = redlead_status_str(status);
            assert!(!text.is_null());
            read_c(text);
        }
    }
}

/// Frees what the input left alive, elections first (they use clients,
/// which are reference-counted anyway).
fn clean_up(world: &mut World) {
    for el in std::mem::take(&mut world.elections.live) {
        let mut e = null_mut();
        redlead_election_free(el, &mut e);
        redlead_error_free(e);
    }
    for l in std::mem::take(&mut world.locks.live) {
        redlead_lock_free(l);
    }
    for c in std::mem::take(&mut world.clients.live) {
        redlead_client_free(c);
    }
    for c in std::mem::take(&mut world.configs.live) {
        redlead_config_free(c);
    }
    for c in std::mem::take(&mut world.election_configs.live) {
        redlead_election_config_free(c);
    }
    for o in std::mem::take(&mut world.options.live) {
        redlead_lock_options_free(o);
    }
    for c in std::mem::take(&mut world.cancels.live) {
        redlead_cancel_free(c);
    }
    for o in std::mem::take(&mut world.outcomes.live) {
        redlead_outcomes_free(o);
    }
    for e in std::mem::take(&mut world.errors.live) {
        redlead_error_free(e);
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut world = World::default();
    for op in ops.iter().take(48) {
        run(&mut world, op);
    }
    clean_up(&mut world);
});
