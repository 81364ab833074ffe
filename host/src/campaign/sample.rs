//! The sample campaign `isomail init` writes: small, realistic, and clean under `check`.

use std::path::Path;

use super::CampaignError;

const CAMPAIGN: &str = r#"# isomail campaign: every key is described in docs/configuration.md.
[message]
from = "Example Service <noreply@example.org>"
subject = "Update to our subscriber agreement, {{ name }}"
text = "templates/body.txt"
html = "templates/body.html"

[recipients]
path = "recipients.csv"
private = ["account_id"]

[delivery]
# No smtp relay configured: messages go to the Maildir below.
outbox = "outbox"
stages = [1, 5, "all"]
rate = 50
concurrency = 4
max_failure_rate = 0.05
"#;

const TEXT: &str = "Hello {{ name }},\n\n\
We have updated our subscriber agreement. Your account {{ account_id }} is on the {{ plan }} plan.\n\
{% if plan == \"pro\" %}\nAs a pro subscriber, your renewal date does not change.\n{% endif %}\n\
This message was sent to {{ email }}.\n";

const HTML: &str = "<p>Hello {{ name }},</p>\n\
<p>We have updated our subscriber agreement. Your account <b>{{ account_id }}</b> is on the {{ plan }} plan.</p>\n\
{% if plan == \"pro\" %}<p>As a pro subscriber, your renewal date does not change.</p>{% endif %}\n\
<p>This message was sent to <a href=\"mailto:{{ email }}\">{{ email }}</a>.</p>\n";

const NAMES: [&str; 20] = [
    "Ada", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena",
    "Marta", "Noor", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tomás",
];

/// Writes the sample into `dir`, which must not exist or be empty.
pub fn write(dir: &Path) -> Result<(), CampaignError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| CampaignError::unreadable(dir, "cannot read the directory", e))?;
        if entries.next().is_some() {
            return Err(CampaignError::file(
                dir.display().to_string(),
                "the directory is not empty; init writes only into a new or empty one",
            ));
        }
    }
    let mut csv = String::from("email,name,plan,account_id\n");
    for (i, name) in NAMES.iter().enumerate() {
        let plan = if i % 3 == 0 { "pro" } else { "basic" };
        let local: String = name
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect();
        csv.push_str(&format!(
            "{local}@example.com,{name},{plan},AC-{:05}\n",
            10_007 * (i + 3) % 99_991
        ));
    }
    let files = [
        ("campaign.toml", CAMPAIGN.to_owned()),
        ("recipients.csv", csv),
        ("templates/body.txt", TEXT.to_owned()),
        ("templates/body.html", HTML.to_owned()),
    ];
    for (name, contents) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CampaignError::unwritable(parent, "cannot create", e))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| CampaignError::unwritable(&path, "cannot write", e))?;
    }
    Ok(())
}
