//! Reading what a command printed, as the end-to-end tests check it.

use assert_cmd::Command;

/// The `-`/`+` lines of a unified diff, without its `---`/`+++` header.
pub fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---"))
        .filter(|l| !l.starts_with("+++"))
        .collect()
}

/// Runs `cmd`, which must fail with exit code `code` and print nothing on stdout, and returns
/// its stderr: the failure message a test checks.
pub fn failure(cmd: &mut Command, code: i32) -> String {
    let run = cmd.assert().code(code);
    let output = run.get_output();
    assert!(
        output.stdout.is_empty(),
        "a failure printed on stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_leave_out_the_header_and_the_context() {
        let diff = "--- a/revision-2\n+++ b/revision-3\n@@ -1,2 +1,2 @@\n containers:\n\
                    -  - image: nginx:1.17\n+  - image: nginx:1.18\n";
        assert_eq!(
            changed_lines(diff),
            ["-  - image: nginx:1.17", "+  - image: nginx:1.18"]
        );
    }
}
