//! The generator's spec: `users=N,domains=N,campaigns=N,phishing=N,seed=S,...`, parsed and printed.

use super::*;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateSpec {
    /// People in the directory (aliases and the per-domain `abuse@`/`postmaster@`
    /// addresses come on top).
    pub users: usize,
    /// Internal domains (at least 1).
    pub domains: usize,
    /// Training campaigns.
    pub campaigns: usize,
    /// Phishing campaigns.
    pub phishing: usize,
    pub seed: u64,
    /// TTP log records of each kind (URL clicks, attachments, impersonation).
    pub threats: usize,
    /// Directory groups (0: none; otherwise the fixed structure of
    /// `sim::directory::generate`, then project groups up to this many).
    pub groups: usize,
    /// The most tracked messages a person sent (Message Finder); 0: none.
    pub activity: usize,
    /// SIEM batch detection events (url protect, impersonation, attachment protect,
    /// av, spam) over the 6 days before `until`; 0: none.
    pub siem: usize,
    /// The end of the 14 days the TTP logs span, in seconds since 1970; `None` is the
    /// end of the generated campaign history. (`mimecast-sim --generate` makes it
    /// the current day, so a worker's look-back window finds them.)
    pub until: Option<i64>,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        GenerateSpec {
            users: 50,
            domains: 2,
            campaigns: 4,
            phishing: 2,
            seed: 1,
            threats: 0,
            groups: 0,
            activity: 0,
            siem: 0,
            until: None,
        }
    }
}

/// A generate spec that could not be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("unknown key {0:?} in generate spec (known: users, domains, campaigns, phishing, seed, threats, groups, activity, siem, until)")]
    UnknownKey(String),
    #[error("{key}={value:?} in generate spec is not a non-negative integer")]
    BadNumber { key: String, value: String },
    #[error("{0:?} in generate spec is not key=value")]
    NotKeyValue(String),
    #[error("domains=0 in generate spec: a tenant needs at least one internal domain")]
    NoDomain,
}

impl FromStr for GenerateSpec {
    type Err = SpecError;

    /// Parses `users=N,domains=N,campaigns=N,phishing=N,seed=S,threats=N,groups=N,activity=N,siem=N,until=T`
    /// (`until` in seconds since 1970); missing keys keep their defaults (50, 2, 4, 2,
    /// 1, 0, 0, 0, 0, none), an empty string is all defaults.
    fn from_str(text: &str) -> Result<Self, SpecError> {
        let mut spec = GenerateSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| SpecError::NotKeyValue(part.to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            let number = || {
                value.parse::<u64>().map_err(|_| SpecError::BadNumber {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
            };
            let count = || {
                number().and_then(|n| {
                    usize::try_from(n).map_err(|_| SpecError::BadNumber {
                        key: key.to_owned(),
                        value: value.to_owned(),
                    })
                })
            };
            match key {
                "users" => spec.users = count()?,
                "domains" => spec.domains = count()?,
                "campaigns" => spec.campaigns = count()?,
                "phishing" => spec.phishing = count()?,
                "seed" => spec.seed = number()?,
                "threats" => spec.threats = count()?,
                "groups" => spec.groups = count()?,
                "activity" => spec.activity = count()?,
                "siem" => spec.siem = count()?,
                "until" => {
                    spec.until = Some(i64::try_from(number()?).map_err(|_| SpecError::BadNumber {
                        key: key.to_owned(),
                        value: value.to_owned(),
                    })?)
                }
                other => return Err(SpecError::UnknownKey(other.to_owned())),
            }
        }
        if spec.domains == 0 {
            return Err(SpecError::NoDomain);
        }
        Ok(spec)
    }
}

impl fmt::Display for GenerateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "users={},domains={},campaigns={},phishing={},seed={}",
            self.users, self.domains, self.campaigns, self.phishing, self.seed
        )?;
        if self.threats > 0 {
            write!(f, ",threats={}", self.threats)?;
        }
        if self.groups > 0 {
            write!(f, ",groups={}", self.groups)?;
        }
        if self.activity > 0 {
            write!(f, ",activity={}", self.activity)?;
        }
        if self.siem > 0 {
            write!(f, ",siem={}", self.siem)?;
        }
        match self.until {
            Some(t) => write!(f, ",until={t}"),
            None => Ok(()),
        }
    }
}
