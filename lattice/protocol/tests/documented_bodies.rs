//! The literal JSON bodies of ../shared/wasmbus-v1.md (as another client
//! sends them) parse into our wire types, and our replies carry every field
//! a wasmCloud client reads.

use serde_json::{Value, json};
use weft_lattice_protocol::wire::{
    ComponentAuctionAck, ComponentAuctionRequest, ComponentDescription, CtlResponse, DeleteLink,
    Host, HostInventory, HostLabel, Link, ProviderAuctionRequest, ProviderDescription,
    RegistryCredential, ScaleComponent, StartProvider, StopHost, StopProvider, StringMap,
    UpdateComponent,
};

#[test]
fn documented_link_parses_and_round_trips() {
    let body = r#"{"source_id":"http-server","target":"hello","name":"default","wit_namespace":"wasi",
 "wit_package":"http","interfaces":["incoming-handler"],"source_config":["listen-8080"],"target_config":[]}"#;
    let link: Link = serde_json::from_str(body).unwrap();
    assert_eq!(link.interfaces, ["incoming-handler"]);
    assert_eq!(link.source_config, ["listen-8080"]);
    link.validate().unwrap();
    let back: Value = serde_json::to_value(&link).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(body).unwrap());
}

#[test]
fn link_without_name_or_configs_gets_defaults() {
    let link: Link = serde_json::from_value(json!({
        "source_id": "app", "target": "cache", "wit_namespace": "wasi",
        "wit_package": "keyvalue", "interfaces": ["store", "atomics"]
    }))
    .unwrap();
    assert_eq!(link.name, "default");
    assert!(link.source_config.is_empty() && link.target_config.is_empty());
    let del: DeleteLink = serde_json::from_value(json!({
        "source_id": "app", "wit_namespace": "wasi", "wit_package": "keyvalue"
    }))
    .unwrap();
    assert!(link.matches(&del));
}

#[test]
fn documented_inventory_parses() {
    let body = json!({"host_id":"NABC","friendly_name":"quiet-tree","version":"0.1.0","uptime_seconds":30,"uptime_human":"30s",
     "labels":{"hostcore.os":"linux","hostcore.arch":"x86_64","hostcore.osfamily":"unix"},
     "components":[{"id":"app","image_ref":"oci://r/app:1","name":"app","revision":0,"max_instances":1,"annotations":{},"limits":null}],
     "providers":[{"id":"http-server","image_ref":"builtin:http-server","name":"http-server","revision":0,"annotations":{}}]});
    let inv: HostInventory = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(inv.components[0].max_instances, 1);
    assert_eq!(inv.labels["hostcore.os"], "linux");
    assert_eq!(serde_json::to_value(&inv).unwrap(), body);
}

#[test]
fn documented_host_parses() {
    let body = json!({"id":"NABC","friendly_name":"quiet-tree","labels":{},"lattice":"default","ctl_host":"nats://127.0.0.1:4222","rpc_host":"nats://127.0.0.1:4222",
     "uptime_seconds":141,"uptime_human":"2m 21s","version":"0.1.0"});
    let host: Host = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(host.uptime_human, "2m 21s");
    assert_eq!(serde_json::to_value(&host).unwrap(), body);
}

#[test]
fn scale_uses_count_on_the_wire() {
    let scale: ScaleComponent = serde_json::from_value(json!({
        "component_ref": "oci://r/app:1", "component_id": "app", "host_id": "NABC",
        "count": 5, "annotations": {}, "config": ["app-config"], "allow_update": false,
        "component_limits": {"max_memory_limit": "67108864", "max_execution_time": "30"}
    }))
    .unwrap();
    assert_eq!(scale.max_instances, 5);
    let limits = scale.component_limits.as_ref().unwrap();
    assert_eq!(limits["max_memory_limit"], "67108864");
    let out = serde_json::to_value(&scale).unwrap();
    assert_eq!(out["count"], 5);
    assert!(out.get("max_instances").is_none());
    // Minimal bodies from older clients: only what identifies the work.
    let minimal: ScaleComponent = serde_json::from_value(json!({
        "component_ref": "oci://r/app:1", "component_id": "app", "count": 0
    }))
    .unwrap();
    assert_eq!(minimal.max_instances, 0);
    assert!(minimal.config.is_empty() && !minimal.allow_update);
}

#[test]
fn the_other_commands_parse() {
    let a: ComponentAuctionRequest = serde_json::from_value(json!({
        "component_ref": "oci://r/app:1", "component_id": "app", "constraints": {"zone": "eu"}
    }))
    .unwrap();
    assert_eq!(a.constraints["zone"], "eu");
    let p: ProviderAuctionRequest = serde_json::from_value(json!({
        "provider_ref": "builtin:keyvalue-redis", "provider_id": "cache", "constraints": {}
    }))
    .unwrap();
    assert_eq!(p.provider_id, "cache");
    let u: UpdateComponent = serde_json::from_value(json!({
        "component_id": "app", "host_id": "NABC", "new_component_ref": "oci://r/app:2", "annotations": {}
    }))
    .unwrap();
    assert_eq!(u.new_component_ref, "oci://r/app:2");
    let s: StartProvider = serde_json::from_value(json!({
        "provider_id": "cache", "provider_ref": "builtin:keyvalue-redis", "host_id": "NABC",
        "config": ["redis-prod"], "annotations": {}
    }))
    .unwrap();
    assert_eq!(s.config, ["redis-prod"]);
    let _: StopProvider =
        serde_json::from_value(json!({"host_id": "NABC", "provider_id": "cache"})).unwrap();
    let h: StopHost = serde_json::from_value(json!({"host_id": "NABC", "timeout": 5000})).unwrap();
    assert_eq!(h.timeout, Some(5000));
    let l: HostLabel = serde_json::from_value(json!({"key": "zone", "value": "eu"})).unwrap();
    assert_eq!(l.value, "eu");
    let c: StringMap = serde_json::from_value(json!({"url": "redis://127.0.0.1"})).unwrap();
    assert_eq!(c["url"], "redis://127.0.0.1");
    let r: std::collections::BTreeMap<String, RegistryCredential> = serde_json::from_value(
        json!({"registry.example.com": {"username": "u", "password": "p", "registryType": "oci"}}),
    )
    .unwrap();
    assert_eq!(r["registry.example.com"].registry_type, "oci");
}

#[test]
fn unknown_fields_from_newer_clients_are_ignored() {
    let a: ComponentAuctionRequest = serde_json::from_value(json!({
        "component_ref": "r", "component_id": "app", "constraints": {}, "something_new": 1
    }))
    .unwrap();
    assert_eq!(a.component_id, "app");
}

#[test]
fn auction_ack_keeps_wasmclouds_fields_and_adds_capacity() {
    let ack = ComponentAuctionAck {
        component_ref: "r".into(),
        component_id: "app".into(),
        host_id: "NABC".into(),
        constraints: StringMap::new(),
        capacity: None,
    };
    let v = serde_json::to_value(CtlResponse::ok(ack)).unwrap();
    assert_eq!(
        v,
        json!({"success": true, "message": "", "response": {
            "component_ref": "r", "component_id": "app", "host_id": "NABC", "constraints": {}
        }})
    );
}

#[test]
fn descriptions_tolerate_missing_optional_fields() {
    let c: ComponentDescription =
        serde_json::from_value(json!({"id": "app", "image_ref": "r", "max_instances": 1})).unwrap();
    assert_eq!(c.revision, 0);
    let p: ProviderDescription = serde_json::from_value(json!({"id": "cache"})).unwrap();
    assert!(p.image_ref.is_none());
}
