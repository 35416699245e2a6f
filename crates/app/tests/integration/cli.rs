//! The `portcullis` binary as an operator runs it.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

fn portcullis(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_SECURITY__BCRYPT_COST", "4");
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn environments_are_created_and_listed_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let created = portcullis(dir.path())
        .args(["environments", "create", "staging"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let stdout = String::from_utf8(created.stdout).unwrap();
    assert!(
        stdout.contains("Created environment `staging` (http://staging.localhost:8080)"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("client_secret:") && l.contains("shown once")),
        "{stdout}"
    );
    let key = std::fs::metadata(dir.path().join("data/master.key")).unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );

    let again = portcullis(dir.path())
        .args(["environments", "create", "staging"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert_eq!(
        String::from_utf8(again.stderr)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("portcullis:"))
            .count(),
        1
    );

    let bad = portcullis(dir.path())
        .args(["environments", "create", "Not_A_Slug"])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let listed = portcullis(dir.path())
        .args(["environments", "list"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let stdout = String::from_utf8(listed.stdout).unwrap();
    assert!(
        stdout.lines().any(|l| l.starts_with("staging ")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("INFO"),
        "logs stay off stdout for CLI commands: {stdout}"
    );
}

#[test]
fn user_mistakes_fail_with_one_line_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case<'_>; 4] = [
        (
            &[
                (
                    "PORTCULLIS_DATABASE__URL",
                    "postgres://postgres@127.0.0.1:1/none",
                ),
                (
                    "PORTCULLIS_SECRETS__MASTER_KEY",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ),
            ],
            &["migrate"],
            "Connection refused",
        ),
        (
            &[("PORTCULLIS_SERVER__BODY_LIMIT", "lots")],
            &["serve"],
            "PORTCULLIS_SERVER__BODY_LIMIT",
        ),
        (
            &[(
                "PORTCULLIS_DATABASE__URL",
                "postgres://postgres@127.0.0.1:1/none",
            )],
            &["serve"],
            "PORTCULLIS_SECRETS__MASTER_KEY is required",
        ),
        (
            &[("PORTCULLIS_LOG__FORMAT", "xml")],
            &["serve"],
            "PORTCULLIS_LOG__FORMAT",
        ),
    ];
    for (env, args, expected) in cases {
        let output = portcullis(dir.path())
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} {env:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        assert!(
            lines[0].starts_with("portcullis: ") && lines[0].contains(expected),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
    assert!(
        !dir.path().join("postgres:").exists(),
        "a postgres URL never becomes a SQLite file"
    );
}

#[test]
fn serve_prints_credentials_once_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = |dir: &std::path::Path| {
        portcullis(dir)
            .env("PORTCULLIS_SERVER__BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let wait_listening = |child: &mut std::process::Child| {
        let stdout = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.contains("listening on http://127.0.0.1:");
            seen.push(line);
            if done {
                return seen;
            }
        }
        panic!("server stopped before listening: {seen:?}");
    };

    let mut first = start(dir.path());
    let lines = wait_listening(&mut first);
    assert!(
        lines.iter().any(|l| l.contains("client_secret:")),
        "{lines:?}"
    );
    let live = reqwest::blocking_get(port);
    assert_eq!(live, 200);
    terminate(&mut first);

    let mut second = start(dir.path());
    let lines = wait_listening(&mut second);
    assert!(
        !lines.iter().any(|l| l.contains("client_secret:")),
        "credentials are printed once: {lines:?}"
    );
    terminate(&mut second);
}

fn terminate(child: &mut std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful stop exits 0: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

mod reqwest {
    /// `GET /health/live` with a bare HTTP/1.1 request (no async runtime in this test).
    pub fn blocking_get(port: u16) -> u16 {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.split(' ').nth(1).unwrap().parse().unwrap()
    }
}

#[test]
fn session_lifetimes_out_of_range_stop_the_start_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 2] = [
        (
            &[
                ("PORTCULLIS_SESSIONS__DEFAULT_TTL_SECONDS", "7200"),
                ("PORTCULLIS_SESSIONS__MAX_TTL_SECONDS", "3600"),
            ],
            "PORTCULLIS_SESSIONS__DEFAULT_TTL_SECONDS",
        ),
        (
            &[("PORTCULLIS_SESSIONS__MAX_TTL_SECONDS", "0")],
            "PORTCULLIS_SESSIONS__MAX_TTL_SECONDS",
        ),
    ];
    for (env, expected) in cases {
        let output = portcullis(dir.path())
            .envs(env.iter().copied())
            .args(["serve"])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{env:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.starts_with("portcullis: ") && stderr.contains(expected),
            "{stderr}"
        );
    }
}
