//! Per-domain ceilings, timed at the server: a domain with a `rate` gets its messages no faster
//! than that while the other domains finish at full speed, and a domain that answers 4.7.1
//! ("slow down") is slowed further without holding up the others.

use std::collections::HashMap;

use crate::util::{FaultySmtp, campaign_with, isomail_path, stderr};

/// When the server stored each message, per recipient domain, in order.
fn stored_times(server: &FaultySmtp) -> HashMap<String, Vec<f64>> {
    let text = std::fs::read_to_string(&server.log).expect("log");
    let mut by_domain: HashMap<String, Vec<f64>> = HashMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("log line");
        let rcpt = v["rcpt"].as_str().expect("rcpt");
        let domain = rcpt.rsplit_once('@').expect("@").1.to_owned();
        by_domain
            .entry(domain)
            .or_default()
            .push(v["ts"].as_f64().expect("ts"));
    }
    for times in by_domain.values_mut() {
        times.sort_by(f64::total_cmp);
    }
    by_domain
}

fn gaps(times: &[f64]) -> Vec<f64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Sends `emails` through a fresh server with these extra `[delivery]` lines; the times.
fn send(emails: &[String], extra: &str) -> HashMap<String, Vec<f64>> {
    let dir = tempfile::tempdir().expect("tmp");
    let server = FaultySmtp::start(dir.path(), 1.0);
    let delivery = format!(
        "smtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\nstages = [\"all\"]\nrate = 1000\nconcurrency = 4\nretry_delay = 0.5\n{extra}",
        server.port
    );
    let campaign = campaign_with(emails, &delivery);
    let out = isomail_path(&["send", "--yes"], &campaign.write());
    out.assert_exit_code(0);
    stored_times(&server)
}

/// 20 to slow.test among 60 to fast.test, slow ones spread through the list.
fn mixed_list() -> Vec<String> {
    (0..80)
        .map(|i| match i % 4 {
            0 => format!("ok-{i}@slow.test"),
            _ => format!("ok-{i}@fast.test"),
        })
        .collect()
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_domain_rate_spaces_its_messages_while_the_others_finish_at_full_speed() {
    let times = send(
        &mixed_list(),
        "[delivery.domains.\"SLOW.test\"]\nrate = 5\nconcurrency = 1",
    );
    let (slow, fast) = (&times["slow.test"], &times["fast.test"]);
    assert_eq!((slow.len(), fast.len()), (20, 60));
    // 5 a second: 0.2 s apart (the server's clock sees some jitter; never half the interval).
    let slow_gaps = gaps(slow);
    assert!(slow_gaps.iter().all(|g| *g > 0.1), "{slow_gaps:?}");
    assert!(slow[19] - slow[0] > 19.0 * 0.2 * 0.9, "{slow:?}");
    // The fast domain never waited behind the slow one's queue: all of it was done long
    // before the slow domain's last message.
    assert!(
        fast[59] < slow[19] - 2.0,
        "fast ended {} slow {}",
        fast[59],
        slow[19]
    );

    // Control: without the ceiling the same list's slow.test messages come bunched together.
    let times = send(&mixed_list(), "");
    let slow = &times["slow.test"];
    assert!(slow[19] - slow[0] < 19.0 * 0.2 * 0.5, "{slow:?}");
}

#[test]
#[cfg_attr(
    isomail_missing = "aiosmtpd",
    ignore = "needs aiosmtpd: run tests/run.sh"
)]
fn a_slow_down_reply_halves_that_domains_rate_and_no_other() {
    // grey.test answers 451 4.7.1 to each address the first time; even.test never does.
    let mut emails = Vec::new();
    for i in 0..10 {
        emails.push(format!("greylist-{i}@grey.test"));
        emails.push(format!("ok-{i}@even.test"));
        for k in 0..4 {
            emails.push(format!("ok-{i}-{k}@fast.test"));
        }
    }
    let times = send(
        &emails,
        "[delivery.domains.\"grey.test\"]\nrate = 10\n[delivery.domains.\"even.test\"]\nrate = 10",
    );
    let (grey, even, fast) = (
        &times["grey.test"],
        &times["even.test"],
        &times["fast.test"],
    );
    assert_eq!((grey.len(), even.len(), fast.len()), (10, 10, 40));
    // even.test keeps its 10 a second; grey.test, told to slow down, goes at half that or less.
    let (grey_gap, even_gap) = (median(gaps(grey)), median(gaps(even)));
    assert!(grey_gap > 0.17, "grey.test median gap {grey_gap}");
    assert!(even_gap < 0.16, "even.test median gap {even_gap} (control)");
    // Nobody else waited for grey.test: fast.test was done before grey.test's retries began.
    assert!(
        fast[39] < grey[0],
        "fast ended {} grey began {}",
        fast[39],
        grey[0]
    );
}

#[test]
fn domain_ceilings_are_checked_when_the_campaign_loads() {
    let list = vec!["ok@a.test".to_owned()];
    for (table, needle) in [
        (
            "[delivery.domains.\"@gmail.com\"]\nrate = 5",
            "domains.\"@gmail.com\": not a domain name",
        ),
        (
            "[delivery.domains.\"gmail.com\"]\nrate = 0",
            "rate must be a positive number",
        ),
        (
            "[delivery.domains.\"gmail.com\"]\nconcurrency = 0",
            "concurrency must be between 1 and 256",
        ),
        (
            "[delivery.domains.\"gmail.com\"]\nrate = 5\n[delivery.domains.\"GMAIL.com\"]\nrate = 6",
            "listed twice",
        ),
        (
            "[delivery.domains.\"gmail.com\"]\nburst = 5",
            "unknown field",
        ),
    ] {
        let campaign = campaign_with(&list, &format!("tls = \"none\"\n{table}"));
        let out = isomail_path(&["check"], &campaign.write()).about(table);
        out.assert_exit_code(2);
        assert!(
            stderr(&out).contains(needle),
            "{needle} not in {}",
            stderr(&out)
        );
    }
    let campaign = campaign_with(
        &list,
        "[delivery.domains.\"gmail.com\"]\nrate = 5\nconcurrency = 2",
    );
    let out = isomail_path(&["check"], &campaign.write());
    out.assert_exit_code(0);
}
