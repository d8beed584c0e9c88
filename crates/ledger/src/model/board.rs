//! The Focus Board record (`board/focus-board.json`): milestones and lanes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::lenient;

pub const BOARD_NAME: &str = "Auralis Codenator Focus Board";
pub const BOARD_DESCRIPTION: &str =
    "Shared backlog, milestones, lanes and progress for the coordinator and its focus slots.";

/// A sort position as written (an integer stays an integer on disk).
pub type Order = Number;

/// The board's sort key of an item: its order, then its id.
pub fn sort_key(order: &Option<Order>, id: &str) -> (i64, String) {
    let o = order.as_ref().and_then(Number::as_f64).unwrap_or(0.0);
    ((o * 1000.0) as i64, id.to_string())
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Milestone {
    #[serde(default, deserialize_with = "lenient::string")]
    pub milestone_id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: String,
    /// planned, active, done, ... (`implicit` for one only tasks name).
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub description: Option<String>,
    #[serde(default)]
    pub order: Option<Order>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub created_at: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Lane {
    #[serde(default, deserialize_with = "lenient::string")]
    pub lane_id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: String,
    /// The slot that owns the lane ("" for none).
    #[serde(default, deserialize_with = "lenient::string")]
    pub owner_slot: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub project: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub description: Option<String>,
    #[serde(default)]
    pub order: Option<Order>,
    /// A lane the board shows for a worker that owns none (never stored).
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "lenient::bool"
    )]
    pub implicit: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub created_at: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The board record.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Board {
    #[serde(default)]
    pub version: u64,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: String,
    #[serde(default, deserialize_with = "lenient::records")]
    pub milestones: Vec<Milestone>,
    #[serde(default, deserialize_with = "lenient::records")]
    pub lanes: Vec<Lane>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Board {
    /// The board a store without a board file shows (never written by a read).
    pub fn new(now: &str) -> Board {
        Board {
            version: 1,
            name: BOARD_NAME.into(),
            description: BOARD_DESCRIPTION.into(),
            milestones: vec![],
            lanes: vec![],
            created_at: Some(now.into()),
            updated_at: Some(now.into()),
            extra: Map::new(),
        }
    }

    /// Show a board named after the legacy product under the current name.
    pub fn normalise_name(&mut self) {
        let name = self.name.to_ascii_lowercase();
        if name.is_empty() || name.contains("codextrator") {
            self.name = BOARD_NAME.into();
            self.description = BOARD_DESCRIPTION.into();
        }
    }
}
