struct Mailer;

impl Mailer {
    #[backtick_core::worker]
    async fn send(&self, to: String) {
        let _ = to;
    }
}

fn main() {}
