//! An SMTP reply, or what isomail saw happen to a message instead: what the transport returns,
//! the journal keeps and `status` shows.

/// What the server said about one message, or what isomail saw happen to it (`code` is then
/// `None`: a lost connection, a file written to the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The SMTP reply code: 250, 451, 550, …
    pub code: Option<u16>,
    /// The RFC 3463 enhanced status code (`5.1.1`), when the server gave one.
    pub status: Option<String>,
    /// One line, as the journal and `status` show it.
    pub text: String,
}

impl Reply {
    /// Something isomail observed itself, with no server reply.
    pub fn local(text: impl Into<String>) -> Reply {
        Reply {
            code: None,
            status: None,
            text: text.into(),
        }
    }

    /// A server's reply: `code`, and `text` in which the enhanced status, if any, follows the
    /// code (`550 5.1.1 no such user`, or lettre's `permanent error (550): 5.1.1 …`).
    pub fn smtp(code: u16, text: impl Into<String>) -> Reply {
        let text = text.into();
        let status = text
            .split_whitespace()
            .take(4)
            .find(|word| is_enhanced_status(word, code))
            .map(str::to_owned);
        Reply {
            code: Some(code),
            status,
            text,
        }
    }

    /// A 5xx reply or a 5.x.x status: the server will never take this message.
    pub fn is_permanent(&self) -> bool {
        self.code.is_some_and(|c| (500..600).contains(&c))
    }
}

/// `class.subject.detail` (RFC 3463): class 2, 4 or 5 agreeing with the reply code, then two
/// numbers of one to three digits.
fn is_enhanced_status(word: &str, code: u16) -> bool {
    let mut parts = word.split('.');
    let class_agrees = parts
        .next()
        .is_some_and(|c| c.len() == 1 && c.parse::<u16>().ok() == Some(code / 100));
    let number = |p: Option<&str>| {
        p.is_some_and(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    class_agrees && number(parts.next()) && number(parts.next()) && parts.next().is_none()
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::Reply;

    #[test]
    fn replies_keep_code_and_enhanced_status() {
        let r = Reply::smtp(550, "550 5.1.1 <x@y.test>: no such user");
        assert_eq!((r.code, r.status.as_deref()), (Some(550), Some("5.1.1")));
        assert!(r.is_permanent());
        let r = Reply::smtp(451, "451 4.7.1 greylisted, try again");
        assert_eq!(r.status.as_deref(), Some("4.7.1"));
        assert!(!r.is_permanent());
        let r = Reply::smtp(550, "permanent error (550): 5.7.1 relaying denied");
        assert_eq!(r.status.as_deref(), Some("5.7.1"));
        // A status whose class disagrees with the code, or no status at all, is not one.
        assert_eq!(Reply::smtp(250, "250 5.1.1 odd").status, None);
        assert_eq!(Reply::smtp(250, "250 OK queued as 1.2.3").status, None);
        assert_eq!(Reply::smtp(550, "550 5.1.1234 x").status, None);
        assert_eq!(Reply::local("written").code, None);
    }
}
