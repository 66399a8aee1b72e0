//! A compiled component's world for people: each import and export, and
//! each function's signature written the way WIT writes it (`weft inspect`).

use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};

/// What a component imports and exports, sorted by name.
pub struct World {
    /// Its imports.
    pub imports: Vec<Item>,
    /// Its exports.
    pub exports: Vec<Item>,
}

impl World {
    /// The world of `component`, compiled by `engine`.
    pub fn of(engine: &Engine, component: &wasmtime::component::Component) -> Self {
        let ty = component.component_type();
        Self {
            imports: items(engine, ty.imports(engine).map(|(n, e)| (n, e.ty))),
            exports: items(engine, ty.exports(engine).map(|(n, e)| (n, e.ty))),
        }
    }
}

/// One import or export of a component: an interface and its functions
/// (name, WIT-like signature), or a lone function.
pub struct Item {
    /// The interface (`wasi:keyvalue/store@0.2.0-draft`) or function.
    pub name: String,
    /// Each function: its name (empty for a lone function) and signature.
    pub functions: Vec<(String, String)>,
}

fn signature(ty: &ComponentFunc) -> String {
    let params: Vec<String> = ty
        .params()
        .map(|(n, t)| format!("{n}: {}", type_name(&t)))
        .collect();
    let results: Vec<String> = ty.results().map(|t| type_name(&t)).collect();
    match results.as_slice() {
        [] => format!("func({})", params.join(", ")),
        [one] => format!("func({}) -> {one}", params.join(", ")),
        many => format!("func({}) -> ({})", params.join(", "), many.join(", ")),
    }
}

/// A WIT-like rendering of a type (records and variants inline, as the
/// binary does not keep their names).
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::Record(r) => format!(
            "record {{ {} }}",
            r.fields()
                .map(|f| format!("{}: {}", f.name, type_name(&f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Tuple(t) => format!(
            "tuple<{}>",
            t.types()
                .map(|t| type_name(&t))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Variant(v) => format!(
            "variant {{ {} }}",
            few(v.cases().map(|c| match &c.ty {
                Some(t) => format!("{}({})", c.name, type_name(t)),
                None => c.name.to_string(),
            }))
        ),
        Type::Enum(e) => format!("enum {{ {} }}", few(e.names().map(str::to_owned))),
        Type::Option(o) => format!("option<{}>", type_name(&o.ty())),
        Type::Result(r) => match (r.ok(), r.err()) {
            (None, None) => "result".into(),
            (Some(ok), None) => format!("result<{}>", type_name(&ok)),
            (None, Some(err)) => format!("result<_, {}>", type_name(&err)),
            (Some(ok), Some(err)) => format!("result<{}, {}>", type_name(&ok), type_name(&err)),
        },
        Type::Flags(f) => format!("flags {{ {} }}", few(f.names().map(str::to_owned))),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        _ => "…".into(),
    }
}

/// Cases or names, the first few and how many more.
fn few(names: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = names.collect();
    if all.len() <= 8 {
        return all.join(", ");
    }
    format!("{}, … {} more", all[..4].join(", "), all.len() - 4)
}

fn items<'a>(engine: &Engine, list: impl Iterator<Item = (&'a str, ComponentItem)>) -> Vec<Item> {
    let mut out: Vec<Item> = list
        .map(|(name, item)| {
            let functions = match item {
                ComponentItem::ComponentInstance(instance) => instance
                    .exports(engine)
                    .filter_map(|(f, e)| match e.ty {
                        ComponentItem::ComponentFunc(ty) => Some((f.to_owned(), signature(&ty))),
                        ComponentItem::Resource(_) => Some((f.to_owned(), "resource".into())),
                        _ => None,
                    })
                    .collect(),
                ComponentItem::ComponentFunc(ty) => vec![(String::new(), signature(&ty))],
                _ => Vec::new(),
            };
            Item {
                name: name.to_owned(),
                functions,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
