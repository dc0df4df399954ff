//! The web inbox: static files compiled into the binary, served at
//! `/` (no JavaScript build step). No inline script or style: the pages
//! live under the server's Content-Security-Policy ([`super::http::CSP`]),
//! set with the other security headers on every answer.

use axum::http::header;
use axum::routing::get;
use axum::Router;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of the pages: (path, content type, content).
pub const FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../web/index.html")),
    ("/style.css", CSS, include_str!("../web/style.css")),
    ("/dom.js", JS, include_str!("../web/dom.js")),
    ("/api.js", JS, include_str!("../web/api.js")),
    ("/list.js", JS, include_str!("../web/list.js")),
    ("/messages.js", JS, include_str!("../web/messages.js")),
    (
        "/conversation.js",
        JS,
        include_str!("../web/conversation.js"),
    ),
    ("/attach.js", JS, include_str!("../web/attach.js")),
    ("/composer.js", JS, include_str!("../web/composer.js")),
    ("/contact.js", JS, include_str!("../web/contact.js")),
    ("/dashboard.js", JS, include_str!("../web/dashboard.js")),
    ("/admin.js", JS, include_str!("../web/admin.js")),
    ("/live.js", JS, include_str!("../web/live.js")),
    ("/notices.js", JS, include_str!("../web/notices.js")),
    ("/keys.js", JS, include_str!("../web/keys.js")),
    ("/app.js", JS, include_str!("../web/app.js")),
    ("/platform", HTML, include_str!("../web/platform.html")),
    ("/platform.js", JS, include_str!("../web/platform.js")),
];

/// Every file of [`FILES`] at its path: the inbox at `/` (its scripts,
/// `/dom.js` first, shared with the operator's page, `/app.js` last) and
/// the operator's `/platform` with `/platform.js`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for &(path, content_type, body) in FILES {
        let answer = move || async move {
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
        };
        router = router.route(path, get(answer));
    }
    router
}

#[cfg(test)]
mod tests {
    use super::FILES;

    /// Every script and style sheet a page names is served, and every file
    /// served is named by a page (none forgotten, none left over).
    #[test]
    fn the_pages_name_exactly_the_files_served() {
        let pages: String = FILES
            .iter()
            .filter(|(_, kind, _)| kind.starts_with("text/html"))
            .map(|(_, _, body)| *body)
            .collect();
        for (path, kind, _) in FILES {
            if kind.starts_with("text/html") {
                continue;
            }
            assert!(
                pages.contains(&format!("\"{path}\"")),
                "{path} is served but no page names it"
            );
        }
        for link in pages
            .split("src=\"")
            .skip(1)
            .chain(pages.split("href=\"").skip(1))
        {
            let path = &link[..link.find('"').unwrap_or(0)];
            if path.starts_with('/') {
                assert!(
                    FILES.iter().any(|(p, _, _)| p == &path),
                    "{path} is named but not served"
                );
            }
        }
    }
}
