//! What the browser tests share: chromedriver and headless Chromium, a
//! simulated server, and small steps (sign in, click, type, wait, look).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inbox_examples::server::config::ServerConfig;
use inbox_examples::server::launch::Running;
use inbox_examples::server::launch::{Delivery, Launch};
use inbox_examples::server::simulator::FakeMeta;

pub const WAIT: Duration = Duration::from_secs(20);

pub fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// chromedriver on a free port; killed on drop.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn start_driver(path: &Path) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(started.elapsed() < WAIT, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

pub async fn browser(driver: &Driver) -> Client {
    browser_in(driver, "en-US").await
}

/// A headless Chromium whose language is `lang` (`es-ES`).
pub async fn browser_in(driver: &Driver, lang: &str) -> Client {
    let mut caps = serde_json::Map::new();
    let mut chrome = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1280,860", format!("--lang={lang}")],
        "prefs": { "intl.accept_languages": lang },
    });
    if Path::new("/usr/bin/chromium").exists() {
        chrome["binary"] = "/usr/bin/chromium".into();
    }
    caps.insert("goog:chromeOptions".into(), chrome);
    // chromedriver is on localhost: plain HTTP. On a busy machine it may
    // drop a connection while it starts a browser: asked again, a few times.
    let mut tries = 0;
    loop {
        tries += 1;
        let session = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await;
        match session {
            Ok(client) => return client,
            Err(e) if tries < 3 => {
                eprintln!("no browser session yet ({e}); asking again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("a browser session: {e}"),
        }
    }
}

/// What the page shows, for failure messages.
pub async fn page_text(c: &Client) -> String {
    match c.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(e) => format!("(no page: {e})"),
    }
}

/// Waits until an element matching `css` exists and its text satisfies
/// `check`; returns it.
pub async fn wait_for(c: &Client, css: &str, check: impl Fn(&str) -> bool) -> Element {
    let started = Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if check(&t) {
                    return e;
                }
            }
        }
        if started.elapsed() > WAIT {
            let page = page_text(c).await;
            panic!("waited {WAIT:?} for {css}; the page says:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `script` (a function body run in the page) returns `true`;
/// `what` names what was awaited when it never does.
pub async fn until_js(c: &Client, script: &str, what: &str) {
    let started = Instant::now();
    loop {
        if c.execute(script, vec![]).await.ok() == Some(serde_json::Value::Bool(true)) {
            return;
        }
        if started.elapsed() > WAIT {
            let page = page_text(c).await;
            panic!("waited {WAIT:?} for {what}; the page says:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks `css`, finding it again if the page re-rendered meanwhile.
pub async fn click(c: &Client, css: &str) {
    let started = Instant::now();
    loop {
        let e = wait_for(c, css, |_| true).await;
        if e.click().await.is_ok() {
            return;
        }
        assert!(started.elapsed() < WAIT, "could not click {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn sign_in(c: &Client, url: &str, agent: &str) {
    sign_in_with(c, url, agent, agent).await
}

/// Signs `agent` in with `password` and waits for the inbox.
pub async fn sign_in_with(c: &Client, url: &str, agent: &str, password: &str) {
    c.goto(url).await.unwrap();
    wait_for(c, "[data-testid=signin-agent]", |_| true)
        .await
        .send_keys(agent)
        .await
        .unwrap();
    wait_for(c, "[data-testid=signin-password]", |_| true)
        .await
        .send_keys(password)
        .await
        .unwrap();
    click(c, "[data-testid=signin-submit]").await;
    wait_for(c, "[data-testid=me]", |t| !t.is_empty()).await;
}

pub async fn type_into(c: &Client, css: &str, text: &str) {
    let started = Instant::now();
    loop {
        let e = wait_for(c, css, |_| true).await;
        if e.send_keys(text).await.is_ok() {
            return;
        }
        assert!(started.elapsed() < WAIT, "could not type into {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, c.screenshot().await.unwrap()).unwrap();
    path
}

/// chromedriver, or `None` (the test is skipped) where it is missing and
/// `CI` is not set.
pub fn chromedriver_or_skip() -> Option<PathBuf> {
    let path = chromedriver();
    if path.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("chromedriver is missing; .ci/run installs chromium and chromium-driver");
        }
        eprintln!("skipped: no chromedriver (apt-get install chromium chromium-driver)");
    }
    path
}

/// The server with the simulator, waiting `graph_timeout` for the fake
/// Graph API's answers.
pub async fn simulated_server(graph_timeout: Duration) -> Running {
    Launch {
        config: ServerConfig::parse(include_str!("../../server/demo.yaml")).unwrap(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: None,
        delivery: Delivery::Simulate {
            rate: 0,
            status_delay: Duration::from_millis(150),
            graph_timeout,
            late: Default::default(),
        },
        tick: Duration::from_millis(200),
        settings: Default::default(),
    }
    .start()
    .await
    .unwrap()
}

/// Waits until the fake Graph API has accepted `text`.
pub async fn until_received(meta: &FakeMeta, text: &str, page: &Client) {
    let started = Instant::now();
    while !meta
        .received()
        .iter()
        .any(|r| r.text.as_deref() == Some(text))
    {
        if started.elapsed() > WAIT {
            let page = page_text(page).await;
            panic!(
                "{text:?} never reached the customer; received {:?}; the page:\n{page}",
                meta.received()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text in a form field.
pub async fn value_of(c: &Client, css: &str) -> String {
    let e = wait_for(c, css, |_| true).await;
    e.prop("value").await.unwrap().unwrap_or_default()
}

/// Replaces the text of a form field.
pub async fn replace_text(c: &Client, css: &str, text: &str) {
    let e = wait_for(c, css, |_| true).await;
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// A simulated server and a browser signed in to it: what most browser
/// tests start from.
pub struct Desk {
    /// The server (with its simulated customers and Graph API).
    pub server: Running,
    /// The simulator.
    pub meta: std::sync::Arc<FakeMeta>,
    /// The signed-in page.
    pub page: Client,
    /// Chromedriver (more browsers for other agents; stopped when dropped).
    pub driver: Driver,
}

/// A simulated server (Graph answers within 3 s) and a browser signed in
/// as `agent`; `None` (the test is skipped) without chromedriver.
pub async fn desk(agent: &str) -> Option<Desk> {
    let path = chromedriver_or_skip()?;
    let server = simulated_server(Duration::from_secs(3)).await;
    let meta = server.meta.clone().expect("a simulated server");
    let driver = start_driver(&path).await;
    let page = browser(&driver).await;
    sign_in(&page, &server.url, agent).await;
    Some(Desk {
        server,
        meta,
        page,
        driver,
    })
}

/// axe-core's serious and critical findings on the page as it is (WCAG 2
/// A and AA rules), each as "rule: what (where)". `None` where axe-core
/// is not installed (`npm ci --prefix examples/tests/a11y`, which .ci/run
/// does) and `CI` is not set.
pub async fn accessibility_problems(c: &Client) -> Option<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/a11y/node_modules/axe-core/axe.min.js");
    let Ok(axe) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: run npm ci --prefix examples/tests/a11y",
            path.display()
        );
        eprintln!(
            "SKIPPED: the accessibility check needs axe-core (npm ci --prefix examples/tests/a11y)"
        );
        return None;
    };
    c.execute(&axe, vec![]).await.unwrap();
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then((r) => done(r.violations
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`)))
               .catch((e) => done([`axe failed: ${e}`]));",
            vec![],
        )
        .await
        .unwrap();
    Some(
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
    )
}

/// Runs `script` on page `c`: what it returns.
pub async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.unwrap()
}

/// The id of the listed conversation whose row says `who` (read in one
/// step in the page: the list may be redrawn at any time).
pub async fn row_id(c: &Client, who: &str) -> String {
    let started = Instant::now();
    loop {
        let id = c
            .execute(
                "const row = [...document.querySelectorAll('[data-testid=conversation]')].find((r) => r.textContent.includes(arguments[0]));
                 return row ? row.dataset.id : null;",
                vec![json!(who)],
            )
            .await
            .unwrap();
        if let Some(id) = id.as_str() {
            return id.to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no row for {who}: {}",
            page_text(c).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a [`Desk`] for `agent` and binds its server, simulator and page
/// (and, when named, its chromedriver; otherwise it is kept alive unnamed)
/// in the caller's scope; returns from the test (skipped) without
/// chromedriver.
#[allow(unused_macros)]
macro_rules! desk_or_skip {
    ($agent:expr => $server:ident, $meta:ident, $page:ident) => {
        desk_or_skip!($agent => $server, $meta, $page, _driver)
    };
    ($agent:expr => $server:ident, $meta:ident, $page:ident, $driver:ident) => {
        let Some($crate::web::Desk {
            server: $server,
            meta: $meta,
            page: $page,
            driver: $driver,
        }) = $crate::web::desk($agent).await
        else {
            return;
        };
    };
}
