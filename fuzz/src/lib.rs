//! What the fuzz targets share: one client connection to the HTTP server
//! provider, fed raw bytes.

use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_http_server::{ConnectionConfig, Router, serve_connection};

/// The single-threaded tokio runtime every input runs on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Sends `data` as a client would on one connection served by `router`
/// (bodies up to `max_body`), shuts down its sending side, and returns what
/// the server answered until it closed (or `wait` passed).
pub fn exchange(data: &[u8], router: Arc<Router>, max_body: usize, wait: Duration) -> Vec<u8> {
    runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let (_stop, stop) = tokio::sync::watch::channel(false);
        let config = ConnectionConfig {
            router,
            max_body,
            header_timeout: Duration::from_secs(1),
        };
        let serving = tokio::spawn(serve_connection(server, config, stop));
        let _ = client.write_all(data).await;
        let _ = client.shutdown().await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(wait, client.read_to_end(&mut answer)).await;
        drop(client);
        let _ = serving.await;
        answer
    })
}
