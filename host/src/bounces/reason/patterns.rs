//! The phrases the classifier reads, and the one pass that finds them in a diagnostic.

use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet, RegexSetBuilder};

/// What one pattern of [`PATTERNS`] is evidence of. The classifier (the parent module) reads the
/// groups in the order of its documented precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    Grey,
    NoPtr,
    Block,
    Reputation,
    Auth,
    Relay,
    Rate,
    Spam,
    Big,
    Policy,
    DelayFirst,
    InactiveFirst,
    RcptDenied,
    User,
    Disabled,
    Moved,
    Domain,
    Full,
    Inactive,
    Delay,
    WeakGone,
    WeakRetry,
}

/// A word standing alone, where '.', '-', '_' and '@' join words: "dkim" in "mx.dkim.example",
/// "spf" in "tspf" or "spam" in "spam@example.org" is no token.
macro_rules! token {
    ($words:literal) => {
        concat!(
            r"(?:^|[^a-z0-9_.@\-])(?:",
            $words,
            r")(?:$|[^a-z0-9_.@\-]|[.\-](?:$|[^a-z0-9_@]))"
        )
    };
}

/// The phrases each signal is read from, matched case-insensitively in the normalised text (one
/// space for each run of white space, SMTP continuation prefixes and addresses removed).
/// Learnt from the wordings of Postfix, Exim, Sendmail, qmail, Exchange and the large providers'
/// published error pages; written as patterns of our own.
#[rustfmt::skip]
const PATTERNS: &[(Signal, &str)] = &[
    (Signal::Grey, r"gr[ae]y[ -]?list|postgrey"),
    // Reverse DNS of our sending IP.
    (Signal::NoPtr, r"(?-u:\b)ptr(?-u:\b)|reverse (?:dns|lookup|hostname|name)|(?-u:\b)r-?dns(?-u:\b)"),
    (Signal::NoPtr, r"cannot find your (?:reverse )?hostname|ip name lookup failed|dns check failure"),
    (Signal::NoPtr, r"forward dns entry|generic dns|unresolvable relay host name|host ?name (?:lookup|mismatch)"),
    // Block lists, public and the receiver's own.
    (Signal::Block, r"(?:black|block|deny|ban)[ -]?list|(?-u:\b)(?:rbl|dnsbl|dnsrbl)(?-u:\b)|blocked using"),
    (Signal::Block, r"spamhaus|spamcop|(?-u:\b)sorbs(?-u:\b)|uceprotect|barracudacentral|barracuda reputation"),
    (Signal::Block, r"abuseat|(?-u:\b)psbl(?-u:\b)|mailspike|invaluement|backscatterer|cloudmark|senderscore"),
    (Signal::Block, r"(?:blocked|refused) - see|access denied,? banned|banned sending|banned sender"),
    (Signal::Block, concat!(
        r"(?:client|sending|sender|source|your|remote|connecting|the) (?:host|ip|ip address|server|mta|network)",
        r"(?: \[?[0-9a-f.:]+\]?)? (?:is |has been |was )?(?:temporarily )?(?:blocked|banned|listed|refused|rejected)",
    )),
    (Signal::Block,
        r"(?:ip|address|host|server|you) (?:is |are |was |has been )?(?:currently )?listed (?:at|in|on|by)"),
    (Signal::Block, r"traffic not accepted from this ip|not (?:currently )?accepting mail from your ip"),
    (Signal::Block, r"(?:from|relay) dynamic(?:ally)?[ -](?:assigned )?ip|(?-u:\b)(?:sc|dy)-00[0-9](?-u:\b)"),
    (Signal::Block, r"(?-u:\b)s3(?:140|150)(?-u:\b)|(?-u:\b)(?:tss09|ts03)(?-u:\b)|permanently deferred"),
    (Signal::Block, r"adresse ip source bloqu|(?:ofr|lpn)[0-9]*_(?:101|102|103|510|999)(?-u:\b)"),
    (Signal::Block, r"(?-u:\b)(?:bl0000[0-9]{2}|cxbl|cdrbl|ipbl[01]{4,5})(?-u:\b)"),
    // Reputation and complaints.
    (Signal::Reputation, r"reputation|(?:user|spam) complaints|too many complaints|unexpected volume"),
    (Signal::Reputation, r"rate of unsolicited|(?-u:\b)(?:tss04|ts0[12])(?-u:\b)|suspicious activity"),
    // Authentication of our mail.
    (Signal::Auth, token!("spf|dkim|dmarc|dkim-signature|domainkeys")),
    (Signal::Auth, r"sender policy framework|unauthenticated|authenticate (?:with|their)|authentication checks"),
    (Signal::Auth, r"fail(?:s|ed)? (?:to pass )?authentication|authentication (?:required|failed|failure|credentials)"),
    (Signal::Auth, r"domain authentication|authentification|(?:ofr|lpn)[0-9]*_(?:401|517)(?-u:\b)"),
    // Relaying.
    (Signal::Relay,
        r"relay(?:ing)? (?:access )?(?:is )?(?:denied|not permitted|not allowed|prohibited|refused|rejected)"),
    (Signal::Relay, r"(?:not permitted|not allowed|unable|not authori[sz]ed) to relay|(?-u:\b)no relaying"),
    (Signal::Relay, r"not an open relay|open relay (?:is )?not allowed|(?:does not|doesn't|do not|don't) relay"),
    (Signal::Relay, r"relaying (?:mail )?to [^.;]{0,60}not allowed|list of allowed rcpthosts|not configured to relay"),
    (Signal::Relay, r"client was not authenticated|insecure mail relay"),
    // Rate limits on us.
    (Signal::Rate, r"rate[ -]?limit|throttl|frequency limited|slow down|trop de connexions|unusual rate of mail"),
    (Signal::Rate, concat!(
        r"too many (?:connections|concurrent|sessions|messages|mails|e-?mails|recipients|simultaneous|smtp|errors",
        r"|invalid recipients)",
    )),
    (Signal::Rate, r"(?:sending|submission|daily|hourly) (?:rate|quota|limit)|daily (?:user )?sending"),
    (Signal::Rate, r"(?:messages|e-?mails|mails|connections|recipients) (?:sent )?per (?:hour|day|minute|second)"),
    (Signal::Rate, r"sent per (?:hour|day)|max(?:imum)? (?:number of )?(?:messages|connections) per"),
    (Signal::Rate, r"try again in [0-9]+ (?:sec|min|hour)|excessive (?:volume|connections)|server busy"),
    (Signal::Rate, r"(?-u:\b)(?:rl0000[0-9]{2}|s77719|rp-00[0-9])(?-u:\b)|(?:ofr|lpn)[0-9]*_104(?-u:\b)"),
    // Spam, viruses and content.
    (Signal::Spam,
        token!("spam|spams|spamming|spammer|spammy|spamassassin|antispam|anti-spam|junk|bulk|virus|viruses|malware" )),
    (Signal::Spam, r"spam-?like|(?-u:\b)phish|(?-u:\b)(?:uribl|surbl)(?-u:\b)|unsolicited|dt:spm|suspected spam"),
    (Signal::Spam, concat!(
        r"content (?:filter|rejected|policy|restriction)|(?:message|mail|email) content|(?:unacceptable|banned",
        r"|prohibited) content",
    )),
    (Signal::Spam, r"nature of the (?:content|links)|potential security issue|mail rejete|(?:ofr|lpn)[0-9]*_506"),
    // Size.
    (Signal::Big, concat!(
        r"(?:message|mail|e-?mail) (?:size|length) (?:exceeds|exceeded|too)|(?:message|mail|e-?mail) (?:is |was )?too",
        r" (?:large|big)",
    )),
    (Signal::Big, r"(?:maximum|max|fixed) (?:message|e-?mail|mail) size|message size limit|recipsizelimit"),
    (Signal::Big, r"exceeds? (?:the )?(?:maximum|max) (?:allowed )?(?:message )?size|message size limits"),
    (Signal::Big, r"taille limite|message trop (?:gros|volumineux)|(?:ofr|lpn)[0-9]*_514"),
    // Other policy, including rejections of our envelope sender.
    (Signal::Policy, token!("policy|policies")),
    (Signal::Policy, r"administrative prohibition|envelope blocked"),
    (Signal::Policy, concat!(
        r"sender address rejected|sender (?:domain|address|e-?mail)[^.;]{0,30}(?:rejected|invalid|unknown|not found",
        r"|does not exist|doesn't exist|not verified|must exist|must resolve|denied)",
    )),
    (Signal::Policy,
        r"sender verif|verification failed for|invalid sender|unverified sender|sender (?:rejected|denied)"),
    (Signal::Policy, r"sender not (?:allowed|authori[sz]ed|pre-approved|in)|domain of sender|unroutable sender"),
    (Signal::Policy, r"bad sender|unknown sender|emetteur invalide|mail from[^.;]{0,40}(?:rejected|refused|denied)"),
    (Signal::Policy, r"not rfc ?(?:5322|5321|2822|822) compliant|headers? (?:are |is )?not rfc|message is malformed"),
    (Signal::Policy, r"(?:missing|invalid|duplicate|same|valid) message-id|bare ?line ?feeds?"),
    (Signal::Policy, r"(?:helo|ehlo)[^.;]{0,30}(?:rejected|invalid|not allowed|required|denied|refused)"),
    (Signal::Policy, r"(?:invalid|bad|empty) (?:helo|ehlo)|tls (?:is )?required|requires? (?:tls|starttls)"),
    (Signal::Policy, r"starttls (?:is )?required|delivery not authori[sz]ed|resolver\.rst\.|external forwarding"),
    (Signal::Policy, r"not authori[sz]ed to send|message refused|:blocked\)|message sending for this account"),
    (Signal::Policy, r"(?:your|sender's|sending) account (?:is |has been )?(?:disabled|suspended|blocked|locked)"),
    (Signal::Policy,
        r"sending (?:is |has been )?(?:disabled|suspended|paused)|(?-u:\b)(?:ph01|cs01|ou-00[0-9])(?-u:\b)"),
    (Signal::Policy, r"(?:ofr|lpn)[0-9]*_(?:403|405|415|421|630)(?-u:\b)|this (?:e-?)?mail system has been rejected"),
    // Temporary causes that a gone-looking phrase would hide.
    (Signal::DelayFirst, r"host not found, try again|try again[^.;]{0,20}(?:dns|lookup)|servfail"),
    (Signal::DelayFirst, r"temporary (?:failure|error) in name resolution|temporary lookup failure"),
    (Signal::DelayFirst, r"(?:dns|name ?server|lookup) (?:query |lookup )?(?:failed|failure|timed out|timeout|error)"),
    (Signal::DelayFirst, r"delivery temporarily suspended|temporar(?:il)?y (?:unavailable|not available|deferred)"),
    (Signal::InactiveFirst,
        r"temporar(?:il)?y (?:disabled|suspended|locked|inactive|deactivated|frozen|blocked|on hold)"),
    // The recipient is gone.
    (Signal::RcptDenied, r"recipient address(?:es)? rejected ?: ?access denied"),
    (Signal::User, concat!(
        r"(?:user|recipient|addressee|mailbox|alias|local part|username|user name|destination address|e-?mail address",
        r"|address|account)(?: name)? (?:is |was )?(?:unknown|not known|nonexistent|non-existent|inexistent|not found)",
    )),
    (Signal::User, concat!(
        r"unknown (?:user|recipient|mailbox|address|local[ -]part|alias|addressee|e-?mail|account|destination",
        r"|virtual user|or illegal alias)",
    )),
    (Signal::User, r"no such (?:user|recipient|mailbox|address|person|account|local user|e-?mail|addressee)"),
    (Signal::User, concat!(
        r"(?:user|recipient|addressee|mailbox|account|address|e-?mail|person|alias)[^;!?]{0,60} (?:does not",
        r"|doesn['’`]?t|did not|didn['’`]?t) exists?",
    )),
    (Signal::User, r"(?:does not|doesn['’`]?t) have an? [^;!?]{0,40}account|(?-u:\b)dd this user"),
    (Signal::User, r"invalid (?:recipient|mailbox|user|address|e-?mail address|destination)|invalid-recipient"),
    (Signal::User, r"not (?:a |an )?(?:valid|known|local|active) (?:user|recipient|mailbox|address|e-?mail)"),
    (Signal::User, r"no (?:mailbox|account|user) (?:here )?(?:by|with|under) (?:that|this) name|no mailbox here"),
    (Signal::User,
        r"no mail ?box (?:available|found)|bad destination mailbox|mailbox (?:is )?(?:not present|invalid|nonexist)"),
    (Signal::User, r"there is no one at this address|not our customer|badrcptto|validrcptto|no valid recipients"),
    (Signal::User, r"not listed in (?:the )?(?:domino|public name)|inactive (?:e-?mail )?address|recipient no longer"),
    (Signal::User, r"resolver\.adr\.(?:ex)?recip(?:ient)?notfound|(?-u:\b)s2017062302(?-u:\b)|p=nosuchuser"),
    (Signal::User, r"(?:ofr|lpn)[0-9]*_416(?-u:\b)|adresse d'? ?au moins un destinataire invalide"),
    (Signal::User, concat!(
        r"benutzer (?:ist )?(?:unbekannt|nicht bekannt)|unbekannte[rn]? (?:benutzer|empf[äa]nger|adresse)",
        r"|empf[äa]nger (?:ist )?(?:unbekannt|nicht bekannt)|(?:adresse|postfach|benutzer|konto|empf[äa]nger)",
        r"(?: ist)? (?:existiert nicht|nicht vorhanden|gibt es nicht)",
    )),
    (Signal::User, concat!(
        r"utilisateur inconnu|destinataire (?:inconnu|invalide)|adresse (?:e-?mail )?(?:inconnue|invalide|inexistante)",
        r"|(?:compte|adresse|utilisateur|destinataire|bo[iî]te)[^;!?]{0,40}n['’]existe pas",
    )),
    (Signal::User, concat!(
        r"usuario (?:desconocido|inexistente|no existe|no encontrado)|destinatario (?:desconocido|inexistente",
        r"|no existe)|(?:cuenta|direcci[óo]n|buz[óo]n)[^;!?]{0,30} no existe|no existe (?:dicha persona|ese usuario)",
    )),
    (Signal::User, concat!(
        r"utente (?:sconosciuto|inesistente)|nessun utente|indirizzo (?:inesistente|non valido)|usu[áa]rio",
        r" (?:desconhecido|inexistente|n[ãa]o existe|n[ãa]o encontrado)|destinat[áa]rio (?:desconhecido|inexistente)",
    )),
    (Signal::User, r"onbekende (?:gebruiker|ontvanger)|u[żz]ytkownik nie istnieje|nieznany (?:u[żz]ytkownik|adresat)"),
    (Signal::User, concat!(
        r"пользовател[ья]? (?:не существует|не найден)|нет такого (?:пользователя|адреса|ящика)|неизвестн(?:ый|ого)",
        r" (?:пользовател|получател|адрес)|(?:адрес|ящик|аккаунт)[^;!?]{0,30} не (?:существует|найден)",
    )),
    (Signal::User, r"(?:用户|用戶|收件人|邮箱|账号|帐号|账户|地址)不存在|存在しない|宛先(?:が)?不明|ユーザー?(?:が|は)?存在しません"),
    (Signal::Disabled, concat!(
        r"(?:account|mailbox|address|user|e-?mail address|inbox|recipient)(?: has been| is| was)?(?: permanently)?",
        r"(?: been)? (?:disabled|deactivated|closed|terminated|discontinued|deleted|removed)",
    )),
    (Signal::Disabled, r"tried to reach is disabled|deactivated mailbox|(?-u:\b)is no longer valid"),
    (Signal::Disabled, r"no longer (?:in use|active|valid|available|exists?|accepts? (?:e-?mail|mail|messages))"),
    (Signal::Disabled, concat!(
        r"(?:konto|postfach) (?:wurde )?(?:deaktiviert|gel[öo]scht)|compte (?:d[ée]sactiv|supprim|ferm)",
        r"|cuenta (?:desactivada|deshabilitada|cerrada|eliminada)",
        r"|(?:аккаунт|ящик)[^;!?]{0,20} (?:удал[её]н|отключ[её]н)",
    )),
    (Signal::Moved,
        r"(?:has|have) moved|(?-u:\b)moved (?:to|permanently)|has been replaced by|user not local; please try"),
    (Signal::Moved,
        r"(?:new|forwarding) (?:e-?mail )?address (?:is|:)|address has changed|no longer (?:with|at|employed)"),
    (Signal::Domain, concat!(
        r"host or domain name not found|domain name not found|(?:no such|unknown|nonexistent|non-existent)",
        r"(?: mail)? (?:domain|host)(?-u:\b)",
    )),
    (Signal::Domain,
        r"domain (?:does not|doesn['’`]?t) exist|domain (?:is )?(?:unknown|not found)|(?:host|domain) unknown"),
    (Signal::Domain,
        r"unrou?teable|unroutable|bad destination system|(?:couldn['’`]?t|could not|unable to) find any host named"),
    (Signal::Domain, r"(?-u:\b)host not found|name or service not known|nxdomain|(?:null|nulled) ?mx(?-u:\b)"),
    (Signal::Domain, r"(?:domain|host)[^;!?]{0,60}does not accept (?:e-?)?mail|nonexistent ?domain"),
    (Signal::Domain, r"(?-u:\b)(?:no|missing) (?:valid )?mx(?-u:\b)|mx records? points? to (?:non-?existent|invalid)"),
    (Signal::Domain, concat!(
        r"domaine?[^;!?]{0,30} (?:n['’]existe pas|inexistant|inconnu|existiert nicht|no existe|n[ãa]o existe",
        r"|не существует)|域名不存在",
    )),
    // The recipient fails for now.
    (Signal::Full, concat!(
        r"(?:mailbox|mail box|inbox|mailfolder|mail folder|maildir|account|user|recipient|storage|disk)[^;!?]{0,30}",
        r"(?:is |are )?(?:full|over (?:the )?(?:allowed )?quota|overquota)",
    )),
    (Signal::Full, concat!(
        r"(?-u:\b)(?:over|exceed(?:s|ed|ing)?|reached) (?:the |its |their |his |her |your |allowed |storage |disk",
        r"|mailbox |maximum )*quota|quota (?:exceeded|exceed|full|violation|limit exceeded)|(?-u:\b)overquota",
    )),
    (Signal::Full, r"out of (?:storage|disk|space)|(?:insufficient|not enough|no) (?:free )?(?:disk |storage )?space"),
    (Signal::Full, r"disk quota|storage (?:space|quota|limit|allocation)|mailbox size limit|full mailbox"),
    (Signal::Full, r"(?:number of )?messages in (?:the )?(?:recipient'?s? )?mailbox exceeded|mailbox exceeded"),
    (Signal::Full, r"too many messages (?:on the server|in (?:the |this )?mailbox)|(?:ofr|lpn)[0-9]*_417"),
    (Signal::Full, concat!(
        r"(?-u:\b)speicher(?:platz|volumen|kapazit[äa]t)|postfach (?:ist )?voll|quota (?:überschritten",
        r"|ueberschritten|dépassé|depasse|superada|excedida|excedido|superata)|bo[iî]te[^;!?]{0,30} pleine",
    )),
    (Signal::Full, concat!(
        r"buz[óo]n (?:est[áa] )?lleno|casilla llena|casella (?:di posta )?piena|caixa (?:postal )?(?:cheia|lotada)",
        r"|переполнен|превышен[ао]? (?:квота|лимит)|квот[аы]|邮箱(?:已满|空间不足|容量)|空间不足|容量(?:が|を)?(?:超過",
        r"|オーバー|不足|いっぱい)|メールボックスがいっぱい",
    )),
    (Signal::Inactive, r"(?-u:\b)inactiv(?:e|ity)(?-u:\b)|suspended|(?-u:\b)on hold|frozen|(?-u:\b)dormant"),
    (Signal::Inactive, r"(?:account|mailbox|user|recipient)[^;!?]{0,20} (?:is |has been )?(?:locked|blocked)"),
    (Signal::Inactive, r"archived recipient|destinataire archiv|mailbox cannot be accessed|(?:ofr|lpn)[0-9]*_42[06]"),
    (Signal::Inactive, r"(?:account|mailbox|user) (?:is )?not (?:active|activated)|compte du destinataire est bloqu"),
    (Signal::Delay, r"(?-u:\b)delayed|(?-u:\b)deferr(?:ed|al)|timed? ?out|time-?out|(?-u:\b)expired|in (?:the )?queue"),
    (Signal::Delay,
        r"will (?:be )?retr|retry (?:time|timeout)|giving up|given up|have been failing|could not be delivered for"),
    (Signal::Delay,
        r"connection (?:refused|reset|timed out|dropped|lost|closed|failed)|lost connection|no route to host"),
    (Signal::Delay,
        r"network is unreachable|host (?:is )?unreachable"),
    (Signal::Delay, r"(?:could not|couldn['’`]?t|unable to|failed to) (?:connect|establish)"),
    (Signal::Delay,
        r"no answer from host|temporary (?:local )?(?:problem|failure|error)|temporarily|not reachable|read error"),
    (Signal::Delay,
        r"service (?:is |currently )?(?:temporarily )?(?:unavailable|not available)"),
    (Signal::Delay, r"(?:server|system) (?:is )?(?:busy|overloaded)"),
    (Signal::Delay, r"insufficient system|mail system full|too many hops|hop count|(?:mail|routing) loop|loops back"),
    (Signal::Delay, r"receiving mail (?:too quickly|at a rate)|receive limit|receiving limits|mailbox (?:is )?busy"),
    (Signal::Delay, r"essayer plus tard|sp[äa]ter (?:erneut|nochmal)|m[áa]s tarde"),
    // Weak evidence, read only when nothing above matched.
    (Signal::WeakGone,
        r"recipient address rejected|(?:recipient|rcpt)(?: to)? (?:was |is )?(?:rejected|refused|denied|not accepted)"),
    (Signal::WeakGone, r"rejected recipient|(?-u:\b)address rejected|undeliverable address"),
    (Signal::WeakGone,
        r"mailbox (?:is |currently )?(?:unavailable|not available)|(?:user|recipient) (?:is )?unavailable"),
    (Signal::WeakGone,
        r"requested action not taken: mailbox|postfach nicht verf[üu]gbar"),
    (Signal::WeakGone, r"cannot deliver to (?:this )?(?:user|recipient)|(?:recipient|rcpt) not ok"),
    (Signal::WeakRetry, r"try (?:again )?later|please (?:try again|retry)|retry later"),
];

/// The normaliser: runs of white space, with an SMTP continuation prefix ("550-5.1.1 ") after a
/// line break, become one space; an address becomes "addr" (its local part is no evidence).
static NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?P<a>[^\s<>"'()\[\],;:]+@[^\s<>"'()\[\],;:]+)"#,
        r"|\s+(?:[245][0-9]{2}-(?:[245]\.[0-9]{1,3}\.[0-9]{1,3}\s+)?|[245][0-9]{2} [245]\.[0-9]{1,3}\.[0-9]{1,3}\s+)?",
    ))
    .expect("noise regex")
});

static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSetBuilder::new(PATTERNS.iter().map(|(_, p)| *p))
        .case_insensitive(true)
        .build()
        .expect("bounce patterns")
});

pub(super) fn bit(s: Signal) -> u32 {
    1 << s as u32
}

/// The signals found in `text`, as a set of bits.
pub(super) fn signals(text: &str) -> u32 {
    let text = NOISE.replace_all(
        text,
        |c: &Captures<'_>| if c.name("a").is_some() { "addr" } else { " " },
    );
    SET.matches(&text)
        .iter()
        .fold(0, |found, i| found | bit(PATTERNS[i].0))
}
