//! The binary's cold start: a missing required variable, or an invalid one, stops it with a
//! message naming it.

use std::process::Command;

/// The binary with every required variable set, and nothing else from this environment.
fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bulk-invites"));
    command
        .env_clear()
        .env("THIRTYONE_TABLE", "thirtyone")
        .env(
            "NEW_EVENT_INVITE",
            "arn:aws:sns:us-west-2:123456789012:send-bulk-event-invite",
        )
        .env("SYSTEM_EMAIL", "notification@calendarsnack.com");
    command
}

#[test]
fn missing_env_var_fails_the_cold_start_naming_it() {
    for missing in ["THIRTYONE_TABLE", "NEW_EVENT_INVITE", "SYSTEM_EMAIL"] {
        let output = binary()
            .env_remove(missing)
            .output()
            .expect("run the binary");
        assert!(!output.status.success(), "{missing}: must not start");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "environment variable {missing} is required but not set"
            )),
            "{missing}: {stderr}"
        );
    }
}

#[test]
fn an_invalid_log_level_fails_the_cold_start_naming_it() {
    // `loud` is a valid tracing filter (a target name) that would silence every line.
    let output = binary()
        .env("LOG_LEVEL", "loud")
        .output()
        .expect("run the binary");
    assert!(!output.status.success(), "must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment variable LOG_LEVEL has an invalid value \"loud\""),
        "{stderr}"
    );
}
