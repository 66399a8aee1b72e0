//! Control-protocol bodies as a host decodes them: every request body type
//! of wasmbus.ctl.v1, the reply envelope, CloudEvents, and subjects. Any
//! input must give a value or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::wire::*;

fn decode<T: serde::de::DeserializeOwned>(data: &[u8]) {
    let _ = serde_json::from_slice::<T>(data);
}

fuzz_target!(|data: &[u8]| {
    decode::<Link>(data);
    decode::<DeleteLink>(data);
    decode::<ComponentAuctionRequest>(data);
    decode::<ProviderAuctionRequest>(data);
    decode::<ComponentAuctionAck>(data);
    decode::<ProviderAuctionAck>(data);
    decode::<ScaleComponent>(data);
    decode::<UpdateComponent>(data);
    decode::<StartProvider>(data);
    decode::<StopProvider>(data);
    decode::<StopHost>(data);
    decode::<HostLabel>(data);
    decode::<HostLabelKey>(data);
    decode::<RegistryCredential>(data);
    decode::<HostInventory>(data);
    decode::<Host>(data);
    decode::<CtlResponse<serde_json::Value>>(data);
    if let Ok(link) = serde_json::from_slice::<Link>(data) {
        let _ = link.validate();
    }
    let _ = weft_lattice_protocol::event::decode(data);
    if let (Ok(text), Ok(subjects)) = (
        std::str::from_utf8(data),
        Subjects::new("wasmbus.ctl", "default"),
    ) {
        let _ = subjects.parse(text);
    }
});
