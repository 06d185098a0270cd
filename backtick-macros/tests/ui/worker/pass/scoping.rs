// Generated code must not be confused by what the user's module has in scope: its own
// `Result`, `Option`, `Box` or `String`, private argument types, or an argument named `store`.
#![allow(dead_code)]

type Result<T> = std::result::Result<T, std::fmt::Error>;
struct Box;
struct String;
enum Option {
    Nothing,
}

mod private {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Secret(u32);

    #[backtick_core::worker]
    async fn uses_a_private_type(secret: Secret, store: std::string::String, items: u8) {
        let _ = (secret.0, store, items);
    }

    pub(crate) fn schedule_it() {
        let _ = uses_a_private_type::job(Secret(1), "s".to_owned(), 1);
    }
}

pub mod public {
    #[backtick_core::worker]
    pub async fn visible(n: u64) -> std::result::Result<(), backtick_core::JobError> {
        let _ = n;
        Ok(())
    }
}

#[backtick_core::worker]
async fn patterns((a, b): (u8, u8), _unused: bool, r#type: char) {
    let _ = (a, b, r#type);
}

fn main() {
    private::schedule_it();
    let _ = public::visible::job(1);
    let _ = patterns::job((1, 2), true, 'x');
    let _: Result<()> = Ok(());
}

// A `cfg` after the attribute applies to the generated module too.
#[backtick_core::worker]
#[cfg(any())]
async fn compiled_out(n: u8) {
    let _ = n;
}
