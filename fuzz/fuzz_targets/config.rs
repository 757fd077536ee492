//! Node URLs and configuration through the core: `Redlock::new` with
//! arbitrary URL strings and settings, a first poll of an acquisition (which
//! checks the ttl, owner, resource and auto-extend settings before sending
//! anything), election timing, and every `validate` rule.
//!
//! Nothing is dialled: the client is built inside a current-thread runtime
//! that is never driven, so the connection tasks it spawns never run and
//! are dropped with the runtime at the end of each input.
//!
//! Oracles besides "no panic": every rejection is an `InvalidArgument`; a
//! password given in a URL never shows in an error, in the client's node
//! names or in its `Debug`; accepted durations obey the limits they were
//! checked against.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use futures::FutureExt;
use libfuzzer_sys::fuzz_target;
use redlead_core::validate::{self, Zero};
use redlead_core::{
    AutoExtend, Config, ElectionOverrides, ErrorKind, KeyFormat, LockOptions, Redlock, Tls,
};

#[derive(Arbitrary, Debug)]
enum Scheme {
    Redis,
    Rediss,
    RedisUnix,
    Unix,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Host {
    Loopback,
    V6,
    Name(String),
}

#[derive(Arbitrary, Debug)]
enum Password {
    None,
    /// `Pw<hex>Zq`: found in no fixed text, so if it shows, it leaked.
    Marker(u32),
    Any(String),
}

#[derive(Arbitrary, Debug)]
enum Url {
    Raw(String),
    Built {
        scheme: Scheme,
        user: Option<String>,
        password: Password,
        host: Host,
        port: Option<String>,
        db: Option<String>,
        query: Option<String>,
    },
}

impl Url {
    /// The URL text, and the password it carries when that is a marker
    /// sure to be parsed as (part of) the password: a known scheme and a
    /// user name of unreserved characters before it, so nothing ends the
    /// authority before the marker.
    fn text(&self) -> (String, Option<String>) {
        match self {
            Url::Raw(s) => (s.clone(), None),
            Url::Built {
                scheme,
                user,
                password,
                host,
                port,
                db,
                query,
            } => {
                let mut s = match scheme {
                    Scheme::Redis => "redis://".to_string(),
                    Scheme::Rediss => "rediss://".to_string(),
                    Scheme::RedisUnix => "redis+unix://".to_string(),
                    Scheme::Unix => "unix://".to_string(),
                    Scheme::Other(x) => format!("{x}://"),
                };
                let password = match password {
                    Password::None => None,
                    Password::Marker(n) => Some(format!("Pw{n:08x}Zq")),
                    Password::Any(p) => Some(p.clone()),
                };
                if user.is_some() || password.is_some() {
                    s.push_str(user.as_deref().unwrap_or(""));
                    if let Some(p) = &password {
                        s.push(':');
                        s.push_str(p);
                    }
                    s.push('@');
                }
                match host {
                    Host::Loopback => s.push_str("127.0.0.1"),
                    Host::V6 => s.push_str("[::1]"),
                    Host::Name(n) => s.push_str(n),
                }
                if let Some(p) = port {
                    s.push(':');
                    s.push_str(p);
                }
                if let Some(d) = db {
                    s.push('/');
                    s.push_str(d);
                }
                if let Some(q) = query {
                    s.push('?');
                    s.push_str(q);
                }
                let unreserved = |t: &str| {
                    t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
                };
                let secret = match (scheme, self) {
                    (Scheme::Other(_), _) => None,
                    (
                        _,
                        Url::Built {
                            password: Password::Marker(_),
                            ..
                        },
                    ) if unreserved(user.as_deref().unwrap_or("")) => password,
                    _ => None,
                };
                (s, secret)
            }
        }
    }
}

/// A root CA, and maybe a client certificate and key (PEM, or not).
#[derive(Arbitrary, Debug)]
struct TlsInput {
    root_ca: Vec<u8>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    urls: Vec<Url>,
    node_timeout_ms: u64,
    connect_timeout_ms: u64,
    drift_factor: f64,
    retry_delay_ms: u64,
    retry_jitter_ms: u64,
    retry_count: Option<u32>,
    prefix: String,
    hash_tag: bool,
    tls: Option<TlsInput>,
    resource: String,
    ttl_ms: u64,
    fenced: bool,
    owner: Option<String>,
    auto_extend: Option<(Option<u64>, Option<u32>, Option<u64>)>,
    election: [Option<u64>; 6],
    fractional_ms: f64,
    lock_value: String,
}

fn check_duration(name: &str, ms: u64, zero: Zero) {
    match validate::duration_from_millis(name, ms, zero) {
        Ok(d) => {
            assert_eq!(d, Duration::from_millis(ms));
            assert!(d <= validate::MAX_DURATION);
            assert!(zero == Zero::Allowed || ms > 0);
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.to_string().contains(name), "{e}");
        }
    }
}

fn check_rejection(e: &redlead_core::Error, secrets: &[String]) {
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let shown = format!("{e} {e:?}");
    for s in secrets {
        assert!(
            !shown.contains(s.as_str()),
            "password {s:?} shows in {shown:?}"
        );
    }
}

fuzz_target!(|input: Input| {
    for (zero, ms) in [
        (Zero::Rejected, input.ttl_ms),
        (Zero::Allowed, input.retry_delay_ms),
    ] {
        check_duration("fuzzed_ms", ms, zero);
    }
    match validate::duration_from_fractional_millis("fuzzed_ms", input.fractional_ms, Zero::Allowed)
    {
        Ok(d) => assert!(d <= validate::MAX_DURATION + Duration::from_millis(1)),
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument),
    }
    if validate::resource(&input.resource).is_ok() {
        assert!(!input.resource.is_empty() && input.resource.len() <= validate::MAX_RESOURCE_LEN);
    }
    let _ = validate::drift_factor(input.drift_factor);
    let _ = redlead_core::owner_of(&input.lock_value);
    if let Some(owner) = &input.owner {
        let _ = validate::owner(owner);
    }

    let mut config = Config::default()
        .with_node_timeout(Duration::from_millis(input.node_timeout_ms))
        .with_connect_timeout(Duration::from_millis(input.connect_timeout_ms))
        .with_drift_factor(input.drift_factor)
        .with_retry(
            Duration::from_millis(input.retry_delay_ms),
            Duration::from_millis(input.retry_jitter_ms),
            input.retry_count,
        )
        .with_key_format(KeyFormat::new(input.prefix.clone(), input.hash_tag));
    if let Some(t) = &input.tls {
        let mut tls = Tls::with_root_ca(t.root_ca.clone());
        if let Some((cert, key)) = &t.client {
            tls = tls.with_client_cert(cert.clone(), key.clone());
        }
        config = config.with_tls(tls);
    }
    let _ = config.validate();

    let (urls, secrets): (Vec<String>, Vec<Option<String>>) =
        input.urls.iter().map(Url::text).unzip();
    let secrets: Vec<String> = secrets.into_iter().flatten().collect();

    // Never driven: nothing spawned here runs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let _entered = runtime.enter();
    let client = match Redlock::new(&urls, config.clone()) {
        Ok(client) => client,
        Err(e) => {
            check_rejection(&e, &secrets);
            return;
        }
    };
    let shown = format!("{client:?} {:?}", client.node_names());
    for s in &secrets {
        assert!(
            !shown.contains(s.as_str()),
            "password {s:?} shows in {shown:?}"
        );
    }

    let ttl = Duration::from_millis(input.ttl_ms);
    if config.check_ttl(ttl).is_ok() {
        assert!(ttl >= Duration::from_millis(1) && ttl <= validate::MAX_DURATION);
        assert!(config.node_timeout < ttl);
    }
    let mut options = if input.fenced {
        LockOptions::fenced()
    } else {
        LockOptions::default()
    };
    if let Some(owner) = &input.owner {
        options = options.with_owner(owner.clone());
    }
    if let Some((max_hold, max_extensions, interval)) = input.auto_extend {
        let mut auto = match (max_hold, max_extensions) {
            (Some(h), _) => AutoExtend::for_at_most(Duration::from_millis(h)),
            (None, Some(n)) => AutoExtend::times(n),
            (None, None) => AutoExtend::times(0),
        };
        if let Some(i) = interval {
            auto = auto.with_interval(Duration::from_millis(i));
        }
        options = options.with_auto_extend(auto);
    }
    // The first poll checks every argument and then waits on the attempt's
    // task, which never runs.
    if let Some(Err(e)) = client
        .try_acquire_with(&input.resource, ttl, &options)
        .now_or_never()
    {
        check_rejection(&e, &secrets);
    }

    let [ttl, renew, retry, jitter, margin, stop] =
        input.election.map(|ms| ms.map(Duration::from_millis));
    let mut overrides = ElectionOverrides::default();
    overrides.ttl = ttl;
    overrides.renew_interval = renew;
    overrides.retry_interval = retry;
    overrides.retry_jitter = jitter;
    overrides.step_down_margin = margin;
    overrides.stop_timeout = stop;
    if let Err(e) = overrides.to_config().validate(client.config()) {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
});
