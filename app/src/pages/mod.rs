//! The pages. Their first render in the browser must be the server's HTML, node for node, or
//! hydration fails: they load data only through [`crate::page_data::PageData`] and read the
//! time only through [`crate::time::Clock`].

pub mod audit;
pub mod dashboard;
pub mod drills;
pub mod evidence;
pub mod failover_detail;
pub mod failovers;
pub mod login;
pub mod report;
pub mod servers;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// What renders differently on the server and in the browser, and what to use instead.
    const FORBIDDEN: [(&str, &str); 4] = [
        ("Resource::new", "PageData::new (reads it only inside a Transition)"),
        ("LocalResource", "PageData::new (a local resource renders nothing on the server)"),
        ("Utc::now", "the Clock (use_clock), which hydrates with the server's instant"),
        ("feature = \"hydrate\"", "an Effect, which runs only after hydration"),
    ];

    #[test]
    fn pages_render_nothing_that_differs_between_server_and_browser() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pages");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("the pages' sources") {
            let file = entry.expect("a directory entry").path();
            if file.ends_with("mod.rs") {
                continue;
            }
            let source = std::fs::read_to_string(&file).expect("a page's source");
            for (pattern, instead) in FORBIDDEN {
                assert!(
                    !source.contains(pattern),
                    "{} uses {pattern}: use {instead}",
                    file.display()
                );
            }
            checked += 1;
        }
        assert!(checked >= 6, "every page is checked, found {checked}");
    }
}
