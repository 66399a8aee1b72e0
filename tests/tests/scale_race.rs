//! Two scale requests for the same id arriving together (a reconciler's
//! retry, two clients) both succeed: one starts the component, the other
//! finds it running with the same code.

use std::collections::BTreeMap;
use weft_host::{HostBuilder, ScaleRequest, Scaled};
use weft_tests::guests;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scales_of_one_id_both_succeed() -> anyhow::Result<()> {
    let host = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .with_file_refs(true)
        .build()?;
    let image_ref = format!("file://{}", guests::path("http_hello")?.display());
    let request = || ScaleRequest {
        component_id: "twice".into(),
        image_ref: image_ref.clone(),
        max_instances: 2,
        allow_update: false,
        annotations: BTreeMap::new(),
        config: BTreeMap::new(),
        max_memory: None,
        timeout: None,
    };
    for _ in 0..5 {
        let (a, b) = tokio::join!(host.scale(request()), host.scale(request()));
        let mut outcomes = [a?, b?];
        outcomes.sort_by_key(|s| format!("{s:?}"));
        assert!(
            outcomes.contains(&Scaled::Rescaled),
            "one of them finds it running: {outcomes:?}"
        );
        assert_eq!(host.component_ids(), vec!["twice".to_owned()]);
        host.stop_component("twice");
    }
    Ok(())
}
