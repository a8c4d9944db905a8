//! A small Chrome DevTools Protocol client: launches Debian's `chromium` headless on a fresh
//! profile, and drives pages over the protocol's WebSocket with untyped JSON.
//!
//! Why not a typed client such as `chromiumoxide`: its types are generated from one protocol
//! revision, and a newer browser's events that do not match them break its connection
//! (mattsse/chromiumoxide#229, #243), while Debian ships the current Chromium; it also brings
//! 110,000 lines of generated code and a second `reqwest`. The few commands these tests need
//! are stable, and untyped JSON ignores whatever a new browser adds.
//!
//! Every request a page makes is paused (`Fetch.enable`) and let through only when it goes to
//! the origin under test: anything else is failed and recorded, so a test both cuts the page
//! off from the network and sees whether it tried.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// The flags that keep Chromium off the network and away from the machine's profile.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
    "--hide-scrollbars",
    "--mute-audio",
    "--lang=en-US",
    "--window-size=1280,900",
    "--remote-debugging-port=0",
];

/// What happened on a page: its requests, the ones refused, and its errors.
#[derive(Debug, Default, Clone)]
pub(crate) struct PageLog {
    /// Every request the page made, as `METHOD url`, in order.
    pub(crate) requests: Vec<String>,
    /// Requests to another origin, which were failed.
    pub(crate) blocked: Vec<String>,
    /// Console errors, uncaught exceptions, and the browser's own error log entries.
    pub(crate) errors: Vec<String>,
}

struct Session {
    /// `scheme://host:port` the page may reach.
    origin: String,
    log: Arc<Mutex<PageLog>>,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// The WebSocket, shared by the browser and its pages.
struct Connection {
    out: mpsc::UnboundedSender<String>,
    pending: Pending,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
    next_id: Arc<AtomicU64>,
}

impl Connection {
    async fn open(url: &str) -> Connection {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap_or_else(|e| panic!("connect {url}: {e}"));
        let (mut sink, mut stream) = socket.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
        let pending: Pending = Arc::default();
        let sessions: Arc<Mutex<HashMap<String, Session>>> = Arc::default();
        let next_id = Arc::new(AtomicU64::new(1));
        tokio::spawn(async move {
            while let Some(text) = outgoing.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let (reader_pending, reader_sessions, reader_out, reader_ids) =
            (pending.clone(), sessions.clone(), out.clone(), next_id.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(message) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                if let Some(id) = message.get("id").and_then(Value::as_u64) {
                    let answer = match message.get("error") {
                        Some(error) => Err(error.to_string()),
                        None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                    };
                    if let Some(tx) = reader_pending.lock().unwrap().remove(&id) {
                        let _ = tx.send(answer);
                    }
                    continue;
                }
                let Some(session) = message.get("sessionId").and_then(Value::as_str) else { continue };
                let sessions = reader_sessions.lock().unwrap();
                let Some(session_state) = sessions.get(session) else { continue };
                let method = message["method"].as_str().unwrap_or("");
                if let Some(reply) = on_event(session_state, method, &message["params"]) {
                    let id = reader_ids.fetch_add(1, Ordering::Relaxed);
                    let command = json!({ "id": id, "sessionId": session, "method": reply.0, "params": reply.1 });
                    let _ = reader_out.send(command.to_string());
                }
            }
            // The browser went away: fail whatever still waits.
            for (_, tx) in reader_pending.lock().unwrap().drain() {
                let _ = tx.send(Err("the browser closed the connection".to_owned()));
            }
        });
        Connection { out, pending, sessions, next_id }
    }

    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.out.send(command.to_string()).map_err(|_| "the connection is closed".to_owned())?;
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(answer)) => answer.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: no answer")),
            Err(_) => Err(format!("{method}: timed out")),
        }
    }
}

/// Handles one page event; answers a command to send back, if any.
fn on_event(session: &Session, method: &str, params: &Value) -> Option<(&'static str, Value)> {
    let mut log = session.log.lock().unwrap();
    match method {
        "Fetch.requestPaused" => {
            let url = params["request"]["url"].as_str().unwrap_or("").to_owned();
            let request_id = params["requestId"].clone();
            log.requests.push(format!("{} {url}", params["request"]["method"].as_str().unwrap_or("?")));
            if same_origin(&url, &session.origin) {
                Some(("Fetch.continueRequest", json!({ "requestId": request_id })))
            } else {
                log.blocked.push(url);
                Some(("Fetch.failRequest", json!({ "requestId": request_id, "errorReason": "BlockedByClient" })))
            }
        }
        "Runtime.consoleAPICalled" if matches!(params["type"].as_str(), Some("error" | "assert")) => {
            let args: Vec<String> = params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    a.get("value").or_else(|| a.get("description")).map_or_else(|| a.to_string(), Value::to_string)
                })
                .collect();
            log.errors.push(format!("console.{}: {}", params["type"].as_str().unwrap_or(""), args.join(" ")));
            None
        }
        "Runtime.exceptionThrown" => {
            let details = &params["exceptionDetails"];
            let text = details["exception"]["description"].as_str().or_else(|| details["text"].as_str()).unwrap_or("?");
            log.errors.push(format!("exception: {text}"));
            None
        }
        "Log.entryAdded" if params["entry"]["level"] == "error" => {
            let entry = &params["entry"];
            log.errors.push(format!(
                "{}: {} {}",
                entry["source"].as_str().unwrap_or("log"),
                entry["text"].as_str().unwrap_or(""),
                entry["url"].as_str().unwrap_or("")
            ));
            None
        }
        _ => None,
    }
}

/// Whether `url` is on `origin` (`http://127.0.0.1:PORT`).
fn same_origin(url: &str, origin: &str) -> bool {
    url == origin || url.strip_prefix(origin).is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'))
}

/// A headless Chromium on a fresh profile, closed (and its processes ended) when dropped.
pub(crate) struct Browser {
    child: Child,
    connection: Connection,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("pid", &self.child.id()).finish()
    }
}

/// The browser to run: `$CHROMIUM`, else `chromium` on `PATH`.
pub(crate) fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|p| p.is_file())
}

impl Browser {
    /// Starts `program` headless and connects to it.
    pub(crate) async fn launch(program: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let stderr = std::fs::File::create(profile.path().join("stderr.log")).unwrap();
        let mut command = Command::new(program);
        command
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // Its own process group, so its helper processes can be ended with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap_or_else(|e| panic!("could not start {}: {e}", program.display()));
        // The browser writes its port and path here once it listens.
        let port_file = profile.path().join("profile").join("DevToolsActivePort");
        let started = Instant::now();
        let url = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(profile.path().join("stderr.log")).unwrap_or_default();
                panic!("{} exited ({status}) before listening:\n{log}", program.display());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{} did not start in 60 s", program.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let connection = Connection::open(&url).await;
        Browser { child, connection, _profile: profile }
    }

    /// A new tab whose requests may reach `origin` only.
    pub(crate) async fn page(&self, origin: &str) -> Page<'_> {
        let target = self.connection.call(None, "Target.createTarget", json!({ "url": "about:blank" })).await.unwrap();
        let attached = self
            .connection
            .call(None, "Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true }))
            .await
            .unwrap();
        let session = attached["sessionId"].as_str().unwrap().to_owned();
        let log = Arc::new(Mutex::new(PageLog::default()));
        self.connection
            .sessions
            .lock()
            .unwrap()
            .insert(session.clone(), Session { origin: origin.trim_end_matches('/').to_owned(), log: log.clone() });
        let page = Page { connection: self, session, log };
        page.call("Fetch.enable", json!({ "patterns": [{ "urlPattern": "*", "requestStage": "Request" }] })).await;
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            page.call(domain, json!({})).await;
        }
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
        page
    }

    /// Closes the browser and waits for it to go.
    pub(crate) async fn close(mut self) {
        let _ = self.connection.call(None, "Browser.close", json!({})).await;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Drop ends whatever is left.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser's process group: it and its helpers, which this test started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
pub(crate) struct Page<'b> {
    connection: &'b Browser,
    session: String,
    log: Arc<Mutex<PageLog>>,
}

impl std::fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page").field("session", &self.session).finish()
    }
}

impl Page<'_> {
    async fn call(&self, method: &str, params: Value) -> Value {
        self.connection.connection.call(Some(&self.session), method, params).await.unwrap()
    }

    /// What happened so far.
    pub(crate) fn log(&self) -> PageLog {
        self.log.lock().unwrap().clone()
    }

    /// Navigates and waits for the load event's document to be there.
    pub(crate) async fn goto(&self, url: &str) {
        let answer = self.call("Page.navigate", json!({ "url": url })).await;
        assert!(answer.get("errorText").is_none(), "navigating to {url}: {answer}");
        self.wait_for("document.readyState === 'complete'", Duration::from_secs(30)).await;
    }

    /// Evaluates `expression` (awaiting a promise) and answers its value as JSON.
    pub(crate) async fn eval(&self, expression: &str) -> Value {
        let answer = self
            .call("Runtime.evaluate", json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }))
            .await;
        if let Some(details) = answer.get("exceptionDetails") {
            panic!("evaluating {expression}: {details}");
        }
        answer["result"].get("value").cloned().unwrap_or(Value::Null)
    }

    /// Waits until `expression` is truthy; answers its value. Panics past `timeout` with the
    /// page's log.
    pub(crate) async fn wait_for(&self, expression: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let value = self.eval(expression).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(started.elapsed() < timeout, "waited {timeout:?} for {expression}; {:#?}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A real mouse click at the middle of the element `selector` names (scrolled into view).
    pub(crate) async fn click(&self, selector: &str) {
        let selector_json = serde_json::to_string(selector).unwrap();
        let point = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({selector_json}); if (!e) return null; \
                 e.scrollIntoView({{ block: 'center' }}); const r = e.getBoundingClientRect(); \
                 return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
            ))
            .await;
        let (x, y) = match point.as_array().map(Vec::as_slice) {
            Some([x, y]) => (x.as_f64().unwrap(), y.as_f64().unwrap()),
            _ => panic!("no element {selector} to click"),
        };
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1 }),
            )
            .await;
        }
    }

    /// A real key press (`Enter`, `Escape`, `Tab`, ` `) to the focused element.
    pub(crate) async fn press(&self, key: &str) {
        let (code, key_code, text) = match key {
            "Enter" => ("Enter", 13, "\r"),
            "Escape" => ("Escape", 27, ""),
            "Tab" => ("Tab", 9, ""),
            " " => ("Space", 32, " "),
            other => panic!("no key {other}"),
        };
        let mut down = json!({ "type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": key_code });
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down).await;
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": key_code }),
        )
        .await;
    }

    /// Types text into the focused element.
    pub(crate) async fn type_text(&self, text: &str) {
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// A PNG of the whole page, written to `path`.
    pub(crate) async fn screenshot(&self, path: &Path) {
        let height = self.eval("Math.ceil(document.documentElement.scrollHeight)").await.as_f64().unwrap_or(900.0);
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": 1280, "height": height.max(900.0), "scale": 1 },
                }),
            )
            .await;
        let data = shot["data"].as_str().unwrap();
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}
