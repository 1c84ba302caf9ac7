//! `[retention]`: how long finished calculations are kept (issue #21). Off by default: a status
//! whose age is unset is kept forever. Shared, preferred and pinned calculations, parents of
//! another and running ones are never removed (models::retention has the rule).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days after its end a failed calculation is removed (unset: kept forever).
    pub failed_after_days: Option<u32>,
    /// Days after its end an aborted calculation is removed (unset: kept forever).
    pub aborted_after_days: Option<u32>,
    /// Days after its end a complete calculation is removed (unset: kept forever).
    pub complete_after_days: Option<u32>,
    /// Days between the owner's email and the removal.
    pub warn_days_before: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            failed_after_days: None,
            aborted_after_days: None,
            complete_after_days: None,
            warn_days_before: 7,
        }
    }
}

impl RetentionConfig {
    /// (status name, days after its end) of each status the policy removes.
    pub fn ages(&self) -> Vec<(&'static str, u32)> {
        [
            ("complete", self.complete_after_days),
            ("failed", self.failed_after_days),
            ("aborted", self.aborted_after_days),
        ]
        .into_iter()
        .filter_map(|(status, days)| days.map(|d| (status, d)))
        .collect()
    }

    /// Whether any calculation can ever be removed.
    pub fn is_on(&self) -> bool {
        !self.ages().is_empty()
    }

    /// What is wrong with these values, each a sentence naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.warn_days_before == 0 {
            out.push("retention.warn_days_before = 0 would remove calculations without notice; set at least 1 (default 7).".into());
        }
        for (status, days) in self.ages() {
            if days == 0 {
                out.push(format!(
                    "retention.{status}_after_days = 0 would remove calculations as they end; set at least 1 day, or leave it unset to keep them forever."
                ));
            } else if days <= self.warn_days_before {
                out.push(format!(
                    "retention.{status}_after_days = {days} must be more than retention.warn_days_before = {}, so owners are warned after the calculation ends.",
                    self.warn_days_before
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::RetentionConfig;

    #[test]
    fn off_by_default_and_checked() {
        let config = RetentionConfig::default();
        assert!(!config.is_on());
        assert!(config.problems().is_empty());
        let config = RetentionConfig {
            failed_after_days: Some(30),
            complete_after_days: Some(5),
            aborted_after_days: Some(0),
            warn_days_before: 7,
        };
        assert_eq!(
            config.ages(),
            [("complete", 5), ("failed", 30), ("aborted", 0)]
        );
        let problems = config.problems().join("\n");
        assert!(
            problems.contains(
                "retention.complete_after_days = 5 must be more than retention.warn_days_before = 7"
            ),
            "{problems}"
        );
        assert!(
            problems.contains("retention.aborted_after_days = 0"),
            "{problems}"
        );
        assert!(!problems.contains("failed"), "{problems}");
    }
}
