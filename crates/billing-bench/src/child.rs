//! The servers under test run as child processes (this binary, re-executed in a server role), so
//! their RSS and CPU time are theirs alone, not the load generator's or the simulator's.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// Kernel clock ticks per second of `/proc/PID/stat` times (100 on Linux unless rebuilt).
const TICKS_PER_SECOND: f64 = 100.0;

/// A server child: where it listens, and its process to read and stop.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    pub(crate) addr: SocketAddr,
    /// Panic messages the child printed so far: a panic in a request's task does not end the
    /// process, so its stderr is the one place it shows.
    panics: Arc<AtomicU64>,
}

/// Resident memory of a process, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    /// `VmRSS`: now.
    pub(crate) rss: u64,
    /// `VmHWM`: the peak.
    pub(crate) peak: u64,
}

impl Server {
    /// Starts this binary as `role` with `args` and waits for it to say where it listens.
    ///
    /// With `BILLING_BENCH_WRAP` set (say `heaptrack -o /tmp/gateway` or `perf record -g -o
    /// /tmp/perf.data`), the child runs under that command: a profile of the server alone.
    pub(crate) async fn start(role: &str, args: &[String]) -> std::io::Result<Server> {
        let exe = std::env::current_exe()?;
        let wrap = std::env::var("BILLING_BENCH_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let mut child = command
            .arg(role)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        let panics = Arc::new(AtomicU64::new(0));
        if let Some(stderr) = child.stderr.take() {
            // Passed through line by line, as if inherited, counting panic messages on the way.
            let panics = panics.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                let mut out = tokio::io::stderr();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains("panicked at") {
                        panics.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = out.write_all(format!("{line}\n").as_bytes()).await;
                }
            });
        }
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        // A wrapper may print first: the announcement is the first line that starts `LISTEN`.
        let announcement = async {
            loop {
                match lines.next_line().await? {
                    Some(line) if line.starts_with("LISTEN ") => return Ok(line),
                    Some(_) => continue,
                    None => return Ok(String::new()),
                }
            }
        };
        let line: String = tokio::time::timeout(Duration::from_secs(30), announcement)
            .await
            .map_err(|_| std::io::Error::other(format!("{role} did not start")))?
            .map_err(|e: std::io::Error| e)?;
        let addr = line
            .strip_prefix("LISTEN ")
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("{role} said {line:?}")))?;
        Ok(Server { child, stdin, addr, panics })
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the child is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Panic messages the child has printed.
    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// The child's resident memory.
    pub(crate) fn memory(&self) -> Memory {
        let Some(status) = self.pid().and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok()) else {
            return Memory::default();
        };
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |k| k * 1024)
        };
        Memory { rss: kib("VmRSS:"), peak: kib("VmHWM:") }
    }

    /// CPU time the child used so far, user and system.
    pub(crate) fn cpu(&self) -> Duration {
        let Some(stat) = self.pid().and_then(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok()) else {
            return Duration::ZERO;
        };
        // Fields after the parenthesized command name: state is the 3rd field, utime the 14th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
        Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND)
    }

    /// Closes the child's stdin (its signal to stop) and waits for it; kills it if it lingers.
    pub(crate) async fn stop(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(3), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// Tells the parent where a server child listens.
#[allow(clippy::print_stdout)]
pub(crate) fn announce(addr: SocketAddr) {
    println!("LISTEN {addr}");
}

/// Completes when the parent closes our stdin (or dies).
pub(crate) async fn parent_gone() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0_u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
