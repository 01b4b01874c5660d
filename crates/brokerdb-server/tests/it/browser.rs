//! Headless Chromium driven through WebDriver (Debian's `chromium` and `chromium-driver`): the
//! test starts its own `chromedriver` on a free loopback port and stops it (and the browser it
//! started) when done. A missing browser or driver fails the test with what to install; it is
//! never skipped.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::support::free_port;

/// Any error, boxed.
pub type Error = Box<dyn std::error::Error>;

/// Where Debian installs the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian installs the driver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running `chromedriver` in a process group of its own; the group (the driver and every
/// browser process it started) is killed when this is dropped.
pub struct Chromedriver {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Chromedriver {
    /// Starts the driver and waits until it answers `/status`.
    pub async fn start() -> Result<Self, Error> {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            if !Path::new(path).exists() {
                return Err(format!(
                    "{path} is missing: the browser tests need the Debian packages chromium and \
                     chromium-driver (`apt-get install chromium chromium-driver`; .ci/run \
                     installs them). Missing package: {package}"
                )
                .into());
            }
        }
        let port = free_port()?;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {CHROMEDRIVER}: {e}"))?;
        let mut driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let status = format!("{}/status", driver.url);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = driver.child.try_wait()? {
                return Err(format!("{CHROMEDRIVER} exited at start: {status}").into());
            }
            if let Ok(answer) = http.get(&status).send().await
                && answer.status().is_success()
            {
                return Ok(driver);
            }
            if Instant::now() > deadline {
                return Err(format!("{CHROMEDRIVER} did not answer /status within 30 s").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless browser session with a private, temporary profile directory.
    pub async fn session(&self, profile: &Path) -> Result<Client, Error> {
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1600",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            return Err("capabilities are not an object".into());
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .map_err(|e| format!("cannot open a Chromium session through chromedriver: {e}"))?;
        Ok(client)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The driver's process group: the driver and the browser processes it started.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/browser-test/<name>.png` (under the build's target directory).
pub fn screenshot_path(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .unwrap_or(tmp)
        .join("browser-test")
        .join(format!("{name}.png"))
}

/// Runs `body` with the browser; if it returns an error or panics (a failed assertion), saves
/// a screenshot of the page to [`screenshot_path`] and prints where, then fails the same way.
/// The browser session is closed either way.
pub async fn with_screenshot_on_failure<T, F, Fut>(
    name: &str,
    client: Client,
    body: F,
) -> Result<T, Error>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let outcome = AssertUnwindSafe(body(client.clone())).catch_unwind().await;
    let failed = !matches!(outcome, Ok(Ok(_)));
    if failed {
        let path = screenshot_path(name);
        match save_screenshot(&client, &path).await {
            Ok(()) => eprintln!("browser test {name} failed; screenshot: {}", path.display()),
            Err(e) => eprintln!("browser test {name} failed; no screenshot: {e}"),
        }
        if let Ok(url) = client.current_url().await {
            eprintln!("page at failure: {url}");
        }
    }
    let _ = client.close().await;
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

async fn save_screenshot(client: &Client, path: &Path) -> Result<(), Error> {
    let png = client.screenshot().await?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, png)?;
    Ok(())
}

/// The text of the element `css`.
pub async fn text(client: &Client, css: &str) -> Result<String, Error> {
    Ok(client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("no element {css}: {e}"))?
        .text()
        .await?)
}

/// Waits (up to 30 s) until the page's `<h1>` starts with `prefix`; returns the heading.
pub async fn wait_for_heading(client: &Client, prefix: &str) -> Result<String, Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let heading = match client.find(Locator::Css("h1")).await {
            Ok(h1) => h1.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if heading.starts_with(prefix) {
            return Ok(heading);
        }
        if Instant::now() > deadline {
            return Err(format!("the page's heading is {heading:?}, not {prefix:?}…").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the button `css` and waits (up to 30 s) until the browser has left the current page
/// (its document element went stale) and the new one has an `<h1>`.
pub async fn click_and_wait(client: &Client, css: &str) -> Result<(), Error> {
    let old = client.find(Locator::Css("html")).await?;
    client
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("no element {css}: {e}"))?
        .click()
        .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while old.tag_name().await.is_ok() {
        if Instant::now() > deadline {
            return Err(format!("clicking {css} did not load a new page within 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.wait().for_element(Locator::Css("h1")).await?;
    Ok(())
}
