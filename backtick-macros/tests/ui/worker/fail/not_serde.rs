struct Invoice {
    id: u64,
}

#[backtick_core::worker]
async fn send_invoice(invoice: Invoice, copies: u8) {
    let _ = (invoice.id, copies);
}

fn main() {}
