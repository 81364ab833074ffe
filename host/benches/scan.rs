//! Leak-scan cost at the 2016 list size: build the checks over 383,000 addresses, then scan
//! 383,000 messages of about 1 KiB that mention their own address in three forms.
//!
//! `cargo bench --bench scan [-- N]` (N recipients, default 383000).

use std::time::Instant;

use isomail::checks::Checks;
use isomail::sandbox::Content;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(383_000);
    let addresses: Vec<String> = (0..n)
        .map(|i| format!("user{i}@example{}.com", i % 97))
        .collect();
    let private: Vec<(String, Vec<(String, u32)>)> = vec![(
        "account_id".into(),
        (0..n)
            .map(|i| (format!("AC-{i:08}"), i as u32 + 1))
            .collect(),
    )];
    let started = Instant::now();
    let checks = Checks::new(&addresses, &private).expect("checks");
    let built = started.elapsed();

    let body = "We have updated our subscriber agreement, which governs your use of the service. "
        .repeat(10);
    let started = Instant::now();
    let mut findings = 0;
    for (i, address) in addresses.iter().enumerate() {
        let content = Content {
            subject: format!("Update for {address}"),
            text: format!(
                "Hello {address}, account AC-{i:08}.\n{body}\nUnsubscribe: https://x.org/u?e={}\n",
                address.replace('@', "%40")
            ),
            html: Some(format!(
                "<p>{body}</p><a href=\"mailto:{address}\">{address}</a> &amp; more"
            )),
        };
        findings += checks.message(i + 1, &content).len();
    }
    let scanned = started.elapsed();
    assert_eq!(findings, 0, "clean messages must not be flagged");
    println!(
        "leak scan: {n} recipients; checks built in {:.2} s; {n} messages scanned in {:.2} s ({:.1} µs each, one thread)",
        built.as_secs_f64(),
        scanned.as_secs_f64(),
        scanned.as_secs_f64() * 1e6 / n as f64
    );
}
