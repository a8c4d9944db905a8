//! `cargo xtask`: the project's automation, written in Rust so it runs wherever cargo does.
//!
//! `cargo xtask test` is the one test command (the README's and CI's): it installs the system
//! parts the tests drive for real, when they are missing, then runs
//! `cargo test --workspace --locked`. Each part is installed from its ordinary registry (Debian
//! packages with `apt-get`), and a part that is already there is left alone, so a warm machine
//! pays nothing.

use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "The project's automation.")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what the tests need, then run the whole suite (`cargo test --workspace --locked`).
    Test {
        /// Extra arguments for `cargo test` (after `--`), e.g. `-- --nocapture`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Install what the tests need, and nothing else.
    Install,
}

/// A system part the tests use: the command that shows it is there, and the Debian packages
/// that bring it.
struct Part {
    what: &'static str,
    command: &'static str,
    packages: &'static [&'static str],
}

/// The parts, with what needs them.
const PARTS: &[Part] = &[
    // The `graphql-http` conformance audit (tests/audit) runs on node; the test npm-installs
    // its locked package itself.
    Part { what: "node (the graphql-http audit)", command: "node", packages: &["nodejs"] },
    Part { what: "npm (the graphql-http audit)", command: "npm", packages: &["npm"] },
    // The browser tests (tests/browser) drive Debian's Chromium headless; without it they fail
    // under CI=true and skip elsewhere.
    Part { what: "chromium (the browser tests)", command: "chromium", packages: &["chromium"] },
    // The replica tests (tests/replicas.rs) start their own redis-server on a free loopback
    // port; without it they fail under CI=true and skip elsewhere.
    Part { what: "redis-server (the replica tests)", command: "redis-server", packages: &["redis-server"] },
];

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Install => install(),
        Task::Test { args } => {
            if install() != ExitCode::SUCCESS {
                return ExitCode::FAILURE;
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            run(Command::new(cargo).args(["test", "--workspace", "--locked"]).args(args))
        }
    }
}

/// Installs every missing part; fails when one is missing and cannot be installed.
fn install() -> ExitCode {
    let missing: Vec<&Part> = PARTS.iter().filter(|p| !on_path(p.command)).collect();
    if missing.is_empty() {
        return install_focus_validator();
    }
    let packages: Vec<&str> = missing.iter().flat_map(|p| p.packages.iter().copied()).collect();
    eprintln!("xtask: installing {} for {}", packages.join(" "), names(&missing));
    if !on_path("apt-get") {
        eprintln!("xtask: no apt-get here; install {} yourself", packages.join(" "));
        return ExitCode::FAILURE;
    }
    let updated = run(Command::new("apt-get").args(["update", "-qq"]));
    let installed = run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&packages)
        .env("DEBIAN_FRONTEND", "noninteractive"));
    if updated != ExitCode::SUCCESS || installed != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    let still: Vec<&Part> = missing.into_iter().filter(|p| !on_path(p.command)).collect();
    if still.is_empty() {
        install_focus_validator()
    } else {
        eprintln!("xtask: still missing after install: {}", names(&still));
        ExitCode::FAILURE
    }
}

/// The FinOps Foundation's FOCUS validator (PyPI `focus_validator`), pinned, in a virtual
/// environment under `target/focus-validator` where `tests/focus.rs` looks for it. Its one
/// release accepts any `multimethod`, yet `pandera` 0.17 needs `multimethod.overload`, which
/// 2.0 removed: the pin keeps the validator importable.
const FOCUS_VALIDATOR: &[&str] = &["focus_validator==1.0.0", "multimethod==1.10"];

/// Where the validator's virtual environment lives: `target/focus-validator` of the workspace.
fn focus_venv() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(std::path::Path::to_path_buf);
    root.unwrap_or_default().join("target").join("focus-validator")
}

/// Creates the validator's virtual environment and installs it, when it is not there yet.
fn install_focus_validator() -> ExitCode {
    let venv = focus_venv();
    if venv.join("bin").join("focus-validator").is_file() {
        return ExitCode::SUCCESS;
    }
    eprintln!("xtask: installing {} in {}", FOCUS_VALIDATOR.join(" "), venv.display());
    if run(Command::new("python3").arg("-m").arg("venv").arg(&venv)) != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    run(Command::new(venv.join("bin").join("pip")).args(["install", "-q"]).args(FOCUS_VALIDATOR))
}

fn names(parts: &[&Part]) -> String {
    parts.iter().map(|p| p.what).collect::<Vec<_>>().join(", ")
}

/// Whether `command` is an executable on `PATH`.
fn on_path(command: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(command).is_file()))
}

/// Runs a command to its end, passing its output through.
fn run(command: &mut Command) -> ExitCode {
    match command.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask: {command:?} failed ({status})");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("xtask: could not run {command:?}: {e}");
            ExitCode::FAILURE
        }
    }
}
