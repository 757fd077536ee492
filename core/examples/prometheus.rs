//! Serves redlead's metrics to Prometheus while a loop takes and releases a
//! lock and a candidate leads: `cargo run -p redlead --example prometheus --
//! redis://127.0.0.1:7001 ...` then `curl http://127.0.0.1:9898/metrics`.
//! The library records through the `metrics` facade; the application picks
//! the exporter (here metrics-exporter-prometheus, served by a few lines of
//! std so that the example needs no web framework).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use redlead::{Config, Election, ElectionConfig, Redlock};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        eprintln!("usage: prometheus URL... (one per Redis master)");
        std::process::exit(2);
    }
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9898".into());
    let listener = TcpListener::bind(&addr)?;
    println!("metrics on http://{addr}/metrics");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut request_line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut request_line);
            let body = prometheus.render();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });

    let client = Redlock::new(&urls, Config::default())?;
    let _election = Election::start(
        &client,
        "prometheus-example",
        "example-1",
        ElectionConfig::with_ttl(Duration::from_secs(5)),
        |event| println!("{event:?}"),
    )?;
    loop {
        match client
            .try_acquire("prometheus-example-job", Duration::from_secs(2))
            .await
        {
            Ok(lock) => {
                let _ = lock.release().await;
            }
            Err(e) => println!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
