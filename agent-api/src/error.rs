//! The body of every error answer: `{"error": code, "message": sentence}`, plus `field` when one
//! parameter or body field is at fault.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// `bad_request`, `invalid_field`, `invalid_records`, `wrong_channel_kind`, `not_found`,
    /// `method_not_allowed`, `conflict`, `unsupported_media_type`, `not_implemented`, `internal`.
    pub error: String,
    // Between the two, where the agent has always put it (its bodies used to be sorted maps).
    /// The query parameter or body field at fault, e.g. `channels[2].source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A sentence for a person.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_appears_only_when_there_is_one() {
        let plain = ErrorBody { error: "conflict".into(), field: None, message: "No.".into() };
        assert_eq!(
            serde_json::to_string(&plain).expect("serialises"),
            r#"{"error":"conflict","message":"No."}"#
        );
        let named = ErrorBody { field: Some("from".into()), ..plain };
        assert_eq!(
            serde_json::to_string(&named).expect("serialises"),
            r#"{"error":"conflict","field":"from","message":"No."}"#
        );
    }
}
