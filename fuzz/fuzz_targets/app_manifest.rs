//! App manifests as `weft app deploy` and the wadm API parse them (YAML or
//! JSON), then validate them: an error naming the path, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(manifest) = weft_apps::manifest::parse(text) {
        let _ = weft_apps::validate::validate(&manifest);
    }
});
