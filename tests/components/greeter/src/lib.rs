//! A guest for component-to-component tests: exports `weft:platform/greeter`
//! and nothing else. Its greeting word comes from wasi:config `greeting`
//! (default "Hello"), so tests can tell two greeters apart.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "weft:platform/greeter-guest",
    generate_all,
});

use exports::weft::platform::greeter::{Greeting, Guest, Shape};
use wasi::config::runtime as config;

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> Greeting {
        let word = config::get("greeting").ok().flatten().unwrap_or_else(|| "Hello".into());
        Greeting {
            text: format!("{word}, {name}!"),
            count: name.chars().count() as u32,
            tags: vec!["greeter".into(), word],
        }
    }

    fn add(a: u32, b: u32) -> Result<u32, String> {
        a.checked_add(b).ok_or_else(|| format!("{a} + {b} overflows u32"))
    }

    fn describe(s: Shape, label: Option<String>) -> String {
        let shape = match s {
            Shape::Dot => "a dot".to_string(),
            Shape::Circle(r) => format!("a circle of radius {r}"),
            Shape::Named(n) => format!("a {n}"),
        };
        match label {
            Some(l) => format!("{shape} ({l})"),
            None => shape,
        }
    }

    fn blob(size: u32) -> Vec<u8> {
        vec![b'x'; size as usize]
    }
}

export!(Greeter);
