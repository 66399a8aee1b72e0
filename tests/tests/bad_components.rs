//! Bytes that are not a usable component get a clear error; the compile
//! cache detects corrupt entries and rebuilds them.

use weft_host::HostBuilder;
use weft_runtime::{CompileCache, Component, ComponentSpec, Error, Origin, Runtime, RuntimeConfig};
use weft_tests::guests;

fn runtime() -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig {
        max_instances: 16,
        ..RuntimeConfig::default()
    })?)
}

#[test]
fn malformed_bytes_are_not_a_component() -> anyhow::Result<()> {
    let rt = runtime()?;
    let r = Component::load(
        &rt,
        &CompileCache::disabled(),
        b"definitely not wasm",
        ComponentSpec::new("x"),
    );
    assert!(matches!(r, Err(Error::NotAComponent(_))));
    let mut truncated = guests::bytes("http_hello")?;
    truncated.truncate(truncated.len() / 2);
    let r = Component::load(
        &rt,
        &CompileCache::disabled(),
        &truncated,
        ComponentSpec::new("x"),
    );
    assert!(matches!(r, Err(Error::Compile(_))));
    Ok(())
}

#[test]
fn a_core_module_is_refused_with_a_hint() -> anyhow::Result<()> {
    let rt = runtime()?;
    // The smallest valid core module: magic, version 1, no sections.
    let core = [0x00, b'a', b's', b'm', 0x01, 0x00, 0x00, 0x00];
    match Component::load(
        &rt,
        &CompileCache::disabled(),
        &core,
        ComponentSpec::new("x"),
    ) {
        Err(Error::NotAComponent(msg)) => assert!(msg.contains("wasm32-wasip2")),
        other => panic!(
            "expected NotAComponent, got {:?}",
            other.map(|c| c.id().to_owned())
        ),
    }
    Ok(())
}

#[test]
fn a_component_with_nothing_to_call_is_a_link_error() -> anyhow::Result<()> {
    let rt = runtime()?;
    // The smallest valid component: preamble, version 0x0d, layer 1; no exports.
    let empty = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let r = Component::load(
        &rt,
        &CompileCache::disabled(),
        &empty,
        ComponentSpec::new("empty"),
    );
    match r {
        Err(Error::Link { reason, .. }) => {
            assert!(reason.contains("exports no interface"), "{reason}")
        }
        Err(e) => anyhow::bail!("expected a link error, got {e}"),
        Ok(_) => anyhow::bail!("a component without exports was accepted"),
    }
    Ok(())
}

#[tokio::test]
async fn a_messaging_component_refuses_http_requests_clearly() -> anyhow::Result<()> {
    use weft_capability::http::IncomingHandler;
    let rt = runtime()?;
    let wasm = guests::bytes("pingpong")?;
    let pp = Component::load(
        &rt,
        &CompileCache::disabled(),
        &wasm,
        ComponentSpec::new("pp"),
    )?;
    assert!(pp.handles_messages() && !pp.serves_http());
    use http_body_util::BodyExt;
    let body = http_body_util::Empty::<bytes::Bytes>::new()
        .map_err(|e| -> weft_capability::http::BodyError { match e {} })
        .boxed_unsync();
    let request = http::Request::new(body);
    let err = match pp.handle(request).await {
        Err(e) => e.to_string(),
        Ok(_) => anyhow::bail!("pingpong answered HTTP"),
    };
    assert!(
        err.contains("does not export wasi:http/incoming-handler"),
        "{err}"
    );
    Ok(())
}

#[test]
fn compile_cache_serves_second_load_and_rebuilds_corrupt_entries() -> anyhow::Result<()> {
    let rt = runtime()?;
    let dir = tempfile::tempdir()?;
    let cache = CompileCache::new(dir.path());
    let wasm = guests::bytes("http_hello")?;
    let first = Component::load(&rt, &cache, &wasm, ComponentSpec::new("a"))?;
    assert_eq!(first.origin(), Origin::Compiled);
    // Another copy in this process shares the code in memory; a cache
    // that has not loaded it yet (another process) reads the disk.
    let second = Component::load(&rt, &cache, &wasm, ComponentSpec::new("b"))?;
    assert_eq!(second.origin(), Origin::Shared);
    let cache = CompileCache::new(dir.path());
    let second = Component::load(&rt, &cache, &wasm, ComponentSpec::new("b2"))?;
    assert_eq!(second.origin(), Origin::Cached);

    // Flip bytes in the middle of the artifact: the sidecar digest no longer matches.
    let entry = std::fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .ok_or_else(|| anyhow::anyhow!("no cache entry written"))?;
    let mut bytes = std::fs::read(&entry)?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&entry, &bytes)?;
    cache.forget_loaded();
    let third = Component::load(&rt, &cache, &wasm, ComponentSpec::new("c"))?;
    assert_eq!(third.origin(), Origin::Compiled, "corrupt entry rebuilt");
    let fourth = Component::load(
        &rt,
        &CompileCache::new(dir.path()),
        &wasm,
        ComponentSpec::new("d"),
    )?;
    assert_eq!(fourth.origin(), Origin::Cached);
    Ok(())
}

#[tokio::test]
async fn host_refuses_a_second_component_with_the_same_id() -> anyhow::Result<()> {
    let host = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .build()?;
    let wasm = guests::bytes("http_hello")?;
    host.start_component(&wasm, ComponentSpec::new("hello"))
        .await?;
    let again = host
        .start_component(&wasm, ComponentSpec::new("hello"))
        .await;
    assert!(matches!(again, Err(weft_host::Error::AlreadyRunning(_))));
    assert!(host.stop_component("hello"));
    host.start_component(&wasm, ComponentSpec::new("hello"))
        .await?;
    Ok(())
}

#[test]
fn compiled_code_is_shared_within_an_engine_only() -> anyhow::Result<()> {
    let (one, two) = (runtime()?, runtime()?);
    let cache = CompileCache::disabled();
    let wasm = guests::bytes("http_hello")?;
    let a = Component::load(&one, &cache, &wasm, ComponentSpec::new("a"))?;
    assert_eq!(a.origin(), Origin::Compiled);
    assert_eq!(
        Component::load(&one, &cache, &wasm, ComponentSpec::new("b"))?.origin(),
        Origin::Shared
    );
    // Code compiled for one engine never runs on another.
    let c = Component::load(&two, &cache, &wasm, ComponentSpec::new("c"))?;
    assert_eq!(c.origin(), Origin::Compiled);
    cache.forget_loaded();
    assert_eq!(
        Component::load(&one, &cache, &wasm, ComponentSpec::new("d"))?.origin(),
        Origin::Compiled
    );
    Ok(())
}
