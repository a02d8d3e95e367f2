//! Browser tests' driver: headless Debian Chromium through ChromeDriver (fantoccini), started fresh
//! per test with an empty profile and the flags that keep it off the network, plus helpers to sign
//! in, fill Stripe.js's card element and write screenshots for the README. Each page loaded, signed
//! into or waited for goes to the secret sweep as its source after the page's scripts ran.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};

use crate::services::ChromeDriver;

/// A browser session; the driver process stops when this drops.
pub struct Browser {
    pub client: Client,
    pub base: String,
    _driver: ChromeDriver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Chromium pointed at `base` (the app under test).
    pub async fn start(base: &str, width: u32) -> Result<Browser> {
        // The WebDriver client speaks plain HTTP to ChromeDriver, but its TLS stack needs a provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let driver = ChromeDriver::start()?;
        let profile = tempfile::tempdir()?;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", format!("--window-size={width},1000"),
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let client = ClientBuilder::rustls()
            .context("the WebDriver client")?
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .context("starting Chromium through ChromeDriver")?;
        Ok(Browser {
            client,
            base: base.trim_end_matches('/').to_string(),
            _driver: driver,
            _profile: profile,
        })
    }

    pub async fn goto(&self, path: &str) -> Result<()> {
        self.client.goto(&format!("{}{path}", self.base)).await?;
        self.record_page().await;
        Ok(())
    }

    /// The page as it is now (its source after scripts) to the secret sweep.
    pub async fn record_page(&self) {
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        if let Ok(source) = self.client.source().await {
            crate::sweep::record(crate::sweep::Kind::Pages, &url, &source);
        }
    }

    /// The page's visible text.
    pub async fn text(&self) -> Result<String> {
        Ok(self.client.find(Locator::Css("body")).await?.text().await?)
    }

    /// Sign in through the login form.
    pub async fn sign_in(
        &self,
        tenant: &str,
        email: &str,
        password: &str,
        agent: bool,
    ) -> Result<()> {
        self.goto("/login").await?;
        self.client
            .find(Locator::Css("input[name=tenant]"))
            .await?
            .send_keys(tenant)
            .await?;
        self.client
            .find(Locator::Css("input[name=email]"))
            .await?
            .send_keys(email)
            .await?;
        self.client
            .find(Locator::Css("input[name=password]"))
            .await?
            .send_keys(password)
            .await?;
        let role = if agent { "agent" } else { "portal" };
        self.client
            .find(Locator::Css(&format!("input[name=role][value={role}]")))
            .await?
            .click()
            .await?;
        self.client
            .find(Locator::Css("form[action='/login'] button"))
            .await?
            .click()
            .await?;
        // Wait (bounded) until the signed-in page has loaded, so the next navigation carries the
        // session cookie and is not overtaken by the sign-in's redirect.
        let deadline = std::time::Instant::now() + crate::EVENT_WAIT;
        loop {
            let path = self.client.current_url().await?.path().to_string();
            let ready = self
                .client
                .execute("return document.readyState", vec![])
                .await?;
            if (path.starts_with("/app") || path.starts_with("/portal")) && ready == "complete" {
                self.record_page().await;
                return Ok(());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "sign-in did not complete: {}",
                self.text().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait (bounded) until the page text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let text = self.text().await.unwrap_or_default();
            if text.contains(needle) {
                self.record_page().await;
                return Ok(text);
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!("`{needle}` did not appear; the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Type a card into localstripe's fake Stripe.js card element inside `container`.
    pub async fn fill_card(&self, container: &str, number: &str) -> Result<()> {
        let inputs = self
            .client
            .find_all(Locator::Css(&format!("{container} .card-element input")))
            .await?;
        anyhow::ensure!(!inputs.is_empty(), "no card element inputs in {container}");
        let values = [number, "12", "30", "123", "75001"];
        for (input, value) in inputs.iter().zip(values) {
            input.send_keys(value).await?;
        }
        Ok(())
    }

    /// Save a PNG of the page as `docs/screenshots/{name}.png` (referenced from the README).
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self.client.screenshot().await?;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}
