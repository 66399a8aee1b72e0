//! `weft call` arguments and component-to-component calls between hosts
//! carry values as WAVE text, decoded against the export's types by the
//! same parser wasmtime uses (wasm-wave, the version in Cargo.lock). Any
//! text must give a value or an error, never a panic, and a value must
//! write back to text that reads as the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use wasm_wave::value::{Type, Value};

/// Types like those of the test guests' exports (greeter: records, lists,
/// options, results, variants) and the primitives.
fn types() -> &'static [Type] {
    static TYPES: OnceLock<Vec<Type>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let shape = Type::variant([("circle", Some(Type::F64)), ("named", Some(Type::STRING))])
            .expect("a variant");
        let greeting = Type::record([
            ("text", Type::STRING),
            ("count", Type::U32),
            ("tags", Type::list(Type::STRING)),
        ])
        .expect("a record");
        vec![
            Type::BOOL,
            Type::S8,
            Type::U16,
            Type::S32,
            Type::U64,
            Type::S64,
            Type::F32,
            Type::F64,
            Type::CHAR,
            Type::STRING,
            Type::list(Type::U8),
            Type::option(Type::STRING),
            Type::result(Some(Type::U32), Some(Type::STRING)),
            Type::result(None, None),
            Type::tuple(vec![Type::STRING, Type::option(Type::U32)]).expect("a tuple"),
            Type::enum_ty(["red", "green"]).expect("an enum"),
            Type::flags(["read", "write"]).expect("flags"),
            shape.clone(),
            greeting.clone(),
            Type::list(Type::option(greeting)),
            Type::option(Type::list(shape)),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let types = types();
    let ty = &types[usize::from(pick) % types.len()];
    let text = String::from_utf8_lossy(text);
    if let Ok(value) = wasm_wave::from_str::<Value>(ty, &text) {
        let written = wasm_wave::to_string(&value).expect("a parsed value writes");
        let again = wasm_wave::from_str::<Value>(ty, &written).expect("written text parses");
        assert_eq!(
            wasm_wave::to_string(&again).ok().as_deref(),
            Some(written.as_str())
        );
    }
});
