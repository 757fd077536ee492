//! rediss:// nodes: real redis-server TLS listeners with a private CA.

use std::time::Duration;

use redlead::{Config, ErrorKind, LockOptions, NodeOutcome, Redlock, Tls};
use redlead_harness::{Node, TlsFiles};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_over_tls_with_a_private_ca_and_refuses_an_unknown_one() {
    let files = TlsFiles::generate();
    let nodes: Vec<Node> = (0..3).map(|_| Node::start_tls(&files)).collect();
    let urls: Vec<String> = nodes.iter().map(|n| n.tls_url().unwrap()).collect();
    println!("TLS nodes: {urls:?}");

    let rl = Redlock::new(
        &urls,
        Config::default().with_tls(Tls::with_root_ca(files.ca_pem.clone())),
    )
    .unwrap();
    let lock = rl
        .acquire_with(
            "tls",
            Duration::from_secs(5),
            Duration::from_secs(2),
            &LockOptions::fenced(),
        )
        .await
        .unwrap();
    assert!(lock.fencing_token().is_some());
    // The plain port shows the key the TLS connection wrote.
    assert!(
        nodes
            .iter()
            .filter(|n| n.get(lock.key()).as_deref() == Some(lock.value()))
            .count()
            >= 2
    );
    lock.release().await.unwrap();

    // Without the CA the server's certificate is not trusted: no quorum, and
    // every node says why.
    let untrusting = Redlock::new(&urls, Config::default()).unwrap();
    let err = untrusting
        .try_acquire("tls", Duration::from_secs(5))
        .await
        .unwrap_err();
    println!("without the CA: {err}");
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(err.outcomes().iter().all(|r| matches!(
        &r.outcome,
        NodeOutcome::Error(_) | NodeOutcome::Timeout | NodeOutcome::NotAwaited
    )));
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[test]
fn tls_material_that_is_not_pem_is_rejected() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _g = rt.enter();
    let bad = Config::default().with_tls(Tls::with_root_ca(b"not a certificate".to_vec()));
    let e = Redlock::new(&["rediss://127.0.0.1:1"], bad).unwrap_err();
    assert!(e.to_string().contains("tls.root_ca_pem"), "{e}");
    let mut half = Tls::with_root_ca(b"-----BEGIN CERTIFICATE-----".to_vec());
    half.client_cert_pem = Some(b"-----BEGIN CERTIFICATE-----".to_vec());
    let e = Redlock::new(&["rediss://127.0.0.1:1"], Config::default().with_tls(half)).unwrap_err();
    assert!(e.to_string().contains("client_key_pem"), "{e}");
}
