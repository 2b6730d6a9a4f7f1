//! Refusals given by the layers in front of the handlers (credentials, media types, limits),
//! documented on every operation they can meet, so that each handler lists only its own.

use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, OpenApi, Ref, ResponseBuilder};

/// Adds `status`, with the JSON error body (the `ErrorBody` schema), to every operation
/// `applies` picks by method (`get`, `put`, …), path and operation, unless it has that status.
pub fn document_refusal(
    document: &mut OpenApi,
    status: &str,
    description: &str,
    applies: impl Fn(&str, &str, &Operation) -> bool,
) {
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
        .build();
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation
                && applies(method, path, operation)
            {
                let responses = &mut operation.responses.responses;
                responses.entry(status.to_owned()).or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// Whether the operation says it is open (an empty security requirement).
pub fn is_open(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|all| {
        all.iter().all(|requirement| {
            serde_json::to_value(requirement)
                .is_ok_and(|value| value.as_object().is_some_and(serde_json::Map::is_empty))
        })
    })
}
