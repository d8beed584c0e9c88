//! The task envelope: a self-contained prompt, because a worker shares no
//! context with whoever dispatched it.

/// The parts of a prompt; sections appear in the order Task, Context,
/// Goal, Constraints, Expected Output, each only when given.
#[derive(Clone, Debug, Default)]
pub struct Envelope {
    /// What to do.
    pub task: String,
    pub context: Option<String>,
    pub goal: Option<String>,
    pub constraints: Vec<String>,
    pub expected: Option<String>,
}

impl Envelope {
    /// Does it have more than the task (so it is laid out in sections)?
    fn has_sections(&self) -> bool {
        self.context.is_some()
            || self.goal.is_some()
            || !self.constraints.is_empty()
            || self.expected.is_some()
    }

    /// The prompt: the task alone when nothing else is given, else the
    /// sections in order.
    pub fn prompt(&self) -> String {
        if !self.has_sections() {
            return self.task.clone();
        }
        let mut out = String::new();
        let mut section = |title: &str, body: &str| {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str("## ");
            out.push_str(title);
            out.push('\n');
            out.push_str(body.trim_end());
            out.push('\n');
        };
        section("Task", &self.task);
        if let Some(c) = &self.context {
            section("Context", c);
        }
        if let Some(g) = &self.goal {
            section("Goal", g);
        }
        if !self.constraints.is_empty() {
            let list: Vec<String> = self.constraints.iter().map(|c| format!("- {c}")).collect();
            section("Constraints", &list.join("\n"));
        }
        if let Some(e) = &self.expected {
            section("Expected Output", e);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_in_order_and_only_when_given() {
        let plain = Envelope {
            task: "do it".into(),
            ..Envelope::default()
        };
        assert_eq!(plain.prompt(), "do it");
        let full = Envelope {
            task: "Add a parser".into(),
            context: Some("src/ holds the code".into()),
            goal: Some("parse JSONL".into()),
            constraints: vec!["no new deps".into(), "keep tests green".into()],
            expected: Some("a summary".into()),
        };
        let p = full.prompt();
        let at = |s: &str| p.find(s).unwrap_or(usize::MAX);
        assert!(at("## Task") < at("## Context"));
        assert!(at("## Context") < at("## Goal"));
        assert!(at("## Goal") < at("## Constraints"));
        assert!(at("## Constraints") < at("## Expected Output"));
        assert!(at("## Expected Output") < p.len());
        assert!(p.contains("- no new deps\n- keep tests green"));
    }
}
