#[backtick_core::worker]
async fn greet(name: &str, tags: Vec<&'static str>, thing: impl serde::Serialize) {
    let _ = (name, tags, &thing);
}

fn main() {}
