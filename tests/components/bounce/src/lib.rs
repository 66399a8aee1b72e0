//! A guest for deadline tests: its `greet(NAME)` calls `greet` on the
//! component its link names with NAME less its first character, and
//! answers "done" for an empty name. Two copies linked to each other bounce
//! a call between them, once per character: A → B → A → …

wit_bindgen::generate!({
    path: "../../../wit",
    world: "weft:platform/bounce-guest",
    generate_all,
});

use exports::weft::platform::greeter::{Greeting, Guest, Shape};
use weft::platform::greeter as next;

struct Bounce;

impl Guest for Bounce {
    fn greet(name: String) -> Greeting {
        let mut rest = name.chars();
        if rest.next().is_none() {
            return Greeting { text: "done".into(), count: 0, tags: vec![] };
        }
        let answer = next::greet(rest.as_str());
        Greeting { text: answer.text, count: answer.count + 1, tags: answer.tags }
    }

    fn add(a: u32, b: u32) -> Result<u32, String> {
        next::add(a, b)
    }

    fn describe(_: Shape, label: Option<String>) -> String {
        label.unwrap_or_default()
    }

    fn blob(size: u32) -> Vec<u8> {
        vec![0; size as usize]
    }
}

export!(Bounce);
