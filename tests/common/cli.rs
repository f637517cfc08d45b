//! Running the `hetl` binary in the CLI tests: a command, and the output of
//! one that must succeed or fail. Each CLI test file uses some of these.
#![allow(dead_code)]

use assert_cmd::Command;

/// The `hetl` binary built for these tests.
pub fn hetl() -> Command {
    Command::cargo_bin("hetl").expect("hetl binary")
}

/// Runs `cmd`, asserts success, returns its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().clone();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd`, asserts failure, returns its stderr.
pub fn stderr_of(cmd: &mut Command) -> String {
    let out = cmd.assert().failure().get_output().clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cmd`, asserts success, parses every stdout line as JSON.
pub fn json_lines(cmd: &mut Command) -> Vec<serde_json::Value> {
    stdout_of(cmd).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}
