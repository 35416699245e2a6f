//! The README's walk-through, run as a newcomer runs it: every `sh` block
//! between `<!-- walkthrough:start` and `<!-- walkthrough:end -->`, in order,
//! in one bash, from a fresh directory. The blocks start the server
//! themselves (`cargo run --release &`); here `cargo run --release [-- ARGS]`
//! is played by this build's debug binary, `PORT` (which the README defaults
//! to 8080) is a free port, and bcrypt runs at cost 4. Fails when a command
//! fails (`bash -euo pipefail`) or when an output block that directly follows
//! a command block is not found in what that block printed.
//!
//! Matching an output block: whitespace is ignored (the README wraps long
//! JSON), `:8080` stands for the port of the run, `…` (with the
//! start of a value cut short before it) matches anything, and the values
//! that differ on every run match their shape: ULIDs, RFC 3339 timestamps,
//! 32-hex client ids, 43-character base64url secrets and key ids, numbers of
//! 9 digits or more (`iat`, `exp`). Cargo's own status lines (`Finished`,
//! `Running`) are not the program's output and are skipped.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::receiver::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");
const START: &str = "<!-- walkthrough:start";
const END: &str = "<!-- walkthrough:end -->";
const MARKER: &str = "@@walkthrough-block@@";

/// A command block and the output block right after it, if any.
#[derive(Debug)]
struct Step {
    /// The line of the README where the command block starts (1-based).
    line: usize,
    commands: String,
    expected: Option<String>,
}

/// The walk-through's steps, in order.
fn steps(readme: &str) -> Vec<Step> {
    let start = readme
        .find(START)
        .expect("README.md has a walkthrough:start marker");
    let end = readme
        .find(END)
        .expect("README.md has a walkthrough:end marker");
    assert!(
        start < end,
        "walkthrough:start comes before walkthrough:end"
    );
    let first_line = readme[..start].lines().count();
    let lines: Vec<&str> = readme[start..end].lines().collect();
    // Fenced blocks: (language, body, first line, line after the closing fence).
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(language) = lines[i].strip_prefix("```") {
            let open = i;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && lines[i] != "```" {
                body.push_str(lines[i]);
                body.push('\n');
                i += 1;
            }
            blocks.push((language.trim().to_owned(), body, open, i + 1));
        }
        i += 1;
    }
    let mut steps = Vec::new();
    for (index, (language, body, open, after)) in blocks.iter().enumerate() {
        if language != "sh" {
            continue;
        }
        let expected = blocks
            .get(index + 1)
            .and_then(|(next, text, next_open, _)| {
                (*next_open == *after && matches!(next.as_str(), "json" | "text"))
                    .then(|| text.clone())
            });
        steps.push(Step {
            line: first_line + open + 1,
            commands: body.clone(),
            expected,
        });
    }
    steps
}

/// What an output block matches, as a regular expression over the output
/// with its whitespace removed.
fn pattern(expected: &str, port: u16) -> Regex {
    let text: String = expected
        .lines()
        .filter(|line| {
            let trimmed = line.trim_start();
            !(line.starts_with(' ')
                && (trimmed.starts_with("Finished ") || trimmed.starts_with("Running ")))
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(":8080", &format!(":{port}"));
    // Whitespace is dropped from the literal text between tokens, after
    // tokenizing: dropped first, it would glue neighbouring values together.
    let literal = |text: &str| regex::escape(&text.split_whitespace().collect::<String>());
    let tokens = Regex::new(
        r"(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)|(?P<cut>[A-Za-z0-9_-]*…)|(?P<word>[A-Za-z0-9_-]+)",
    )
    .unwrap();
    let mut regex = String::new();
    let mut last = 0;
    for token in tokens.captures_iter(&text) {
        let whole = token.get(0).unwrap();
        regex.push_str(&literal(&text[last..whole.start()]));
        last = whole.end();
        if token.name("time").is_some() {
            regex.push_str(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z");
        } else if token.name("cut").is_some() {
            regex.push_str(".*?");
        } else {
            regex.push_str(&word(whole.as_str()));
        }
    }
    regex.push_str(&literal(&text[last..]));
    Regex::new(&regex).unwrap()
}

/// A word of an output block: its shape when it is a value that differs
/// on every run, else itself.
fn word(word: &str) -> String {
    let crockford = |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c));
    if word.len() == 26 && word.chars().all(crockford) {
        "[0-9A-HJKMNP-TV-Z]{26}".to_owned()
    } else if word.len() == 32 && word.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        "[0-9a-f]{32}".to_owned()
    } else if word.len() == 43 {
        "[A-Za-z0-9_-]{43}".to_owned()
    } else if word.len() >= 9 && word.chars().all(|c| c.is_ascii_digit()) {
        r"\d+".to_owned()
    } else {
        regex::escape(word)
    }
}

/// Kills the walk-through's process group (bash and the server it started).
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn the_readme_walk_through_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let steps = steps(&readme);
    assert!(
        steps.len() > 20 && steps.iter().filter(|s| s.expected.is_some()).count() > 20,
        "the walk-through has its commands and outputs: {steps:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\n# The README's `cargo run --release [-- ARGS]`, played by the debug binary.\n\
             [ \"$1\" = run ] && [ \"$2\" = --release ] || {{ echo \"unexpected: cargo $*\" >&2; exit 2; }}\n\
             shift 2\n[ \"${{1:-}}\" = -- ] && shift\nexec '{BIN}' \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut script = String::new();
    for step in &steps {
        script.push_str(&format!("printf '\\n{MARKER}\\n'\n"));
        script.push_str(&step.commands);
    }
    std::fs::write(dir.path().join("walkthrough.sh"), &script).unwrap();

    let port = free_port();
    let output_path = dir.path().join("output.txt");
    let output = std::fs::File::create(&output_path).unwrap();
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "walkthrough.sh"])
        .current_dir(dir.path())
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", dir.path())
        .env("PORT", port.to_string())
        .env("PORTCULLIS_SECURITY__BCRYPT_COST", "4")
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .process_group(0)
        .spawn()
        .unwrap();
    let _group = Group(child.id());
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut printed = String::new();
    std::fs::File::open(&output_path)
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    let server_log =
        std::fs::read_to_string(dir.path().join("walkthrough.log")).unwrap_or_default();
    let outputs: Vec<&str> = printed.split(MARKER).skip(1).collect();
    let failed_at = steps
        .get(outputs.len().saturating_sub(1))
        .map_or(0, |step| step.line);
    match status {
        Some(status) => assert!(
            status.success(),
            "the walk-through failed ({status}) in the block at README.md line {failed_at}:\n{printed}\n--- walkthrough.log:\n{server_log}"
        ),
        None => panic!(
            "the walk-through did not finish in 3 minutes, in the block at README.md line {failed_at}:\n{printed}\n--- walkthrough.log:\n{server_log}"
        ),
    }
    assert_eq!(outputs.len(), steps.len(), "every block ran:\n{printed}");
    assert!(
        !printed.contains('\u{1b}') && !server_log.contains('\u{1b}'),
        "no ANSI colour codes in output that is not a terminal:\n{printed}"
    );
    for (step, output) in steps.iter().zip(&outputs) {
        let Some(expected) = &step.expected else {
            continue;
        };
        let actual: String = output.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            pattern(expected, port).is_match(&actual),
            "the output of the block at README.md line {} is not the one the README shows.\nREADME:\n{expected}\nprinted:\n{output}",
            step.line
        );
    }
}

#[test]
fn the_start_up_sample_of_run_it_is_what_a_first_start_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let marker = readme
        .find("<!-- startup-sample")
        .expect("README.md marks its start-up sample");
    let block = &readme[marker..];
    let open = block.find("```text\n").unwrap() + "```text\n".len();
    let sample = &block[open..open + block[open..].find("```").unwrap()];

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("out.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env_clear()
        .env("PORTCULLIS_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_SERVER__WORKERS", "2")
        .env("PORTCULLIS_SECURITY__BCRYPT_COST", "4")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    // The sample ends with the delivery worker's line; no request is made,
    // so no request line can come between.
    let last = "webhook delivery worker started";
    let deadline = Instant::now() + Duration::from_secs(60);
    let printed = loop {
        let printed = std::fs::read_to_string(&log).unwrap_or_default();
        if printed.contains(last) || Instant::now() > deadline {
            break printed;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(sample.contains(last), "the sample ends with: {last}");
    let actual: String = printed.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        pattern(sample, port).is_match(&actual),
        "README's start-up sample is not what a first start prints.\nREADME:\n{sample}\nprinted:\n{printed}"
    );
}

#[test]
fn an_output_block_matches_its_shape_not_its_values() {
    let expected = r#"    Finished `release` profile [optimized] target(s) in 0.21s
{"data":{"id":"01M8YGX94Q7CPYKHBRNDPB8AK3","at":"2026-12-03T17:58:19.543143Z",
 "kid":"VXOXgCj0…","self":"http://localhost:8080/x","iat":1796320698,…}}"#;
    let re = pattern(expected, 4321);
    let actual = r#"{"data":{"id":"01M8YGXCV6TJHFVA4SYFM442E3","at":"2026-12-04T01:02:03Z","kid":"abc-def","self":"http://localhost:4321/x","iat":1800000000,"more":1}}"#;
    assert!(re.is_match(actual), "{re}");
    let wrong_port = actual.replace("4321", "8080");
    assert!(!re.is_match(&wrong_port));
    let other_value = actual.replace(r#""id":"01M8YGXCV6TJHFVA4SYFM442E3""#, r#""id":"nope""#);
    assert!(!re.is_match(&other_value));
    let other_literal = actual.replace("data", "dota");
    assert!(!re.is_match(&other_literal));
}
