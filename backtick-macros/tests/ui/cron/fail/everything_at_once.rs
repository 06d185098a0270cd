// A bad spec, a bad zone, a bad option and a bad signature are all reported together.
#[backtick_core::cron("0 0 12 * * 8L", tz = "Europe/Londres", catch_up = "always", every = "5m")]
fn report(day: u8) {
    let _ = day;
}

fn main() {}
