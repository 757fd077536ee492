//! The rustls crypto provider is the application's choice: building clients
//! must not install one (its own `install_default()` would then fail), and
//! TLS nodes use the one the application installed. One test in its own
//! binary, because the provider is process-wide.

use std::sync::Arc;
use std::time::Duration;

use redlead::{Config, Redlock, Tls};
use redlead_harness::{Node, TlsFiles};
use rustls::crypto::CryptoProvider;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_installs_the_provider_after_building_clients() {
    let plain = Node::start_in_memory();
    let rl = Redlock::new(&[plain.url()], Config::default()).unwrap();
    let lock = rl
        .try_acquire("provider", Duration::from_secs(5))
        .await
        .unwrap();
    lock.release().await.unwrap();
    assert!(
        CryptoProvider::get_default().is_none(),
        "building a client and locking installed a process-wide provider"
    );

    rustls::crypto::ring::default_provider()
        .install_default()
        .expect("the application's own install must succeed");
    let installed = CryptoProvider::get_default().unwrap().clone();

    let files = TlsFiles::generate();
    let tls_node = Node::start_tls(&files);
    let rl = Redlock::new(
        &[tls_node.tls_url().unwrap()],
        Config::default().with_tls(Tls::with_root_ca(files.ca_pem.clone())),
    )
    .unwrap();
    let lock = rl
        .try_acquire("provider", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(tls_node.get(lock.key()).as_deref(), Some(lock.value()));
    lock.release().await.unwrap();
    assert!(
        Arc::ptr_eq(&installed, CryptoProvider::get_default().unwrap()),
        "the TLS client replaced the application's provider"
    );
}
