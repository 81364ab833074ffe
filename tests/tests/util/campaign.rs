//! Campaigns written into temp dirs: every part with a harmless default.

use std::path::PathBuf;

/// A campaign on disk. Every part has a harmless default; tests change what they are about.
pub struct CampaignDir {
    pub dir: tempfile::TempDir,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// `[message] markdown`: written as templates/body.md, in place of `text`.
    pub markdown: Option<String>,
    /// `[message] mjml`: written as templates/body.mjml, beside `text`.
    pub mjml: Option<String>,
    pub csv: Vec<u8>,
    pub renderer: Option<PathBuf>,
    pub extra: String,
}

impl CampaignDir {
    pub fn new() -> CampaignDir {
        CampaignDir {
            dir: tempfile::tempdir().expect("temp dir"),
            subject: "Hello {{ name }}".into(),
            text: "Dear {{ name }}, this is for {{ email }}.\n".into(),
            html: None,
            markdown: None,
            mjml: None,
            csv: b"email,name\nann@example.com,Ann\nbob@example.com,Bob\n".to_vec(),
            renderer: None,
            extra: String::new(),
        }
    }

    /// A list of `n` recipients `r{i}@list.test` with a name and a unique token per person.
    pub fn numbered(mut self, n: usize) -> CampaignDir {
        let mut csv = String::from("email,name,token\n");
        for i in 1..=n {
            csv.push_str(&format!("r{i}@list.test,Person {i},tok-{i:06}\n"));
        }
        self.csv = csv.into_bytes();
        self
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("campaign.toml")
    }

    /// Writes every file and returns the campaign file's path.
    pub fn write(&self) -> PathBuf {
        let root = self.dir.path();
        std::fs::create_dir_all(root.join("templates")).expect("mkdir");
        std::fs::write(root.join("recipients.csv"), &self.csv).expect("write csv");
        let mut toml = format!(
            "[message]\nfrom = \"Sender <sender@example.org>\"\nsubject = {:?}\n",
            self.subject
        );
        match &self.markdown {
            Some(markdown) => {
                std::fs::write(root.join("templates/body.md"), markdown).expect("write md");
                toml.push_str("markdown = \"templates/body.md\"\n");
            }
            None => {
                std::fs::write(root.join("templates/body.txt"), &self.text).expect("write text");
                toml.push_str("text = \"templates/body.txt\"\n");
            }
        }
        if let Some(mjml) = &self.mjml {
            std::fs::write(root.join("templates/body.mjml"), mjml).expect("write mjml");
            toml.push_str("mjml = \"templates/body.mjml\"\n");
        }
        if let Some(html) = &self.html {
            std::fs::write(root.join("templates/body.html"), html).expect("write html");
            toml.push_str("html = \"templates/body.html\"\n");
        }
        if let Some(renderer) = &self.renderer {
            toml.push_str(&format!(
                "renderer = {:?}\n",
                renderer.display().to_string()
            ));
        }
        toml.push_str("\n[recipients]\npath = \"recipients.csv\"\n");
        toml.push_str(&self.extra);
        std::fs::write(self.path(), toml).expect("write campaign");
        self.path()
    }
}

/// A campaign for `emails` (each with a `name`), with these `[delivery]` lines.
pub fn campaign_with(emails: &[impl AsRef<str>], delivery: &str) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.subject = "Notice for {{ name }}".into();
    let mut csv = String::from("email,name\n");
    for (i, e) in emails.iter().enumerate() {
        csv.push_str(&format!("{},Person {i}\n", e.as_ref()));
    }
    campaign.csv = csv.into_bytes();
    campaign.extra = format!("\n[delivery]\n{delivery}\n");
    campaign
}

/// A campaign that runs each of `probes` for two recipients: `first-<probe>@probe.test`, then
/// `second-…`, with the probe's name in column `probe`.
pub fn probe_campaign(renderer: std::path::PathBuf, subject: &str, probes: &[&str]) -> CampaignDir {
    let mut campaign = CampaignDir::new();
    campaign.renderer = Some(renderer);
    campaign.subject = subject.into();
    let mut csv = String::from("email,probe\n");
    for probe in probes {
        csv.push_str(&format!(
            "first-{probe}@probe.test,{probe}\nsecond-{probe}@probe.test,{probe}\n"
        ));
    }
    campaign.csv = csv.into_bytes();
    campaign
}
