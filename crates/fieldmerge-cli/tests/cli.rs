//! The `fieldmerge` command at its boundary: exit codes, output forms, and
//! the errors it prints. Each test runs the built binary.

use std::path::PathBuf;

use serde_json::json;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/vectors")
}

fn write_vector(title: &str) -> serde_json::Value {
    json!({
        "description": "a create stamps every field",
        "rules": ["R5.1"],
        "replicas": {"phone": {"client_id": "phone"}},
        "steps": [{
            "op": "write", "table": "tasks", "id": "t1",
            "actor": {"kind": "user"}, "now": "2026-04-26T10:00:00.000Z",
            "patch": {"title": "a"},
            "expect": {"records": [{"table": "tasks", "id": "t1", "fields": {
                "title": {"value": title, "at": "2026-04-26T10:00:00.000Z",
                          "origin": "user", "by": "phone", "base": null}},
                "updated_at_index": "2026-04-26T10:00:00.000Z"}]}
        }]
    })
}

fn fieldmerge(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fieldmerge"))
        .args(args)
        .output()
        .expect("the fieldmerge binary runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

#[test]
fn the_vectors_command_ends_with_the_tally_line_and_fails_on_a_failing_vector() {
    let dir = vectors_dir();
    let (code, out) = fieldmerge(&["vectors", dir.to_str().expect("utf-8 path")]);
    let last = out.lines().last().unwrap_or_default().to_owned();
    assert_eq!(code, 0, "{out}");
    assert!(last.ends_with(" passed, 0 failed"), "last line: {last}");

    let tmp = scratch("vectors-cli");
    let good = serde_json::to_vec(&write_vector("a")).expect("JSON");
    let bad = serde_json::to_vec(&write_vector("b")).expect("JSON");
    std::fs::write(tmp.join("a_good.json"), good).expect("write");
    std::fs::write(tmp.join("b_bad.json"), bad).expect("write");
    std::fs::write(tmp.join("c_broken.json"), b"{").expect("write");
    let (code, out) = fieldmerge(&["vectors", tmp.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.lines().last(), Some("1 passed, 2 failed"), "{out}");
    assert!(out.contains("b_bad.json"), "{out}");
    assert!(out.contains("step 0 (write): records"), "{out}");
    assert!(
        out.contains("expected:") && out.contains("actual:"),
        "{out}"
    );
    assert!(
        out.contains("ERROR") && out.contains("c_broken.json"),
        "{out}"
    );

    let single = tmp.join("a_good.json");
    let (code, out) = fieldmerge(&["vectors", single.to_str().expect("utf-8 path")]);
    assert_eq!((code, out.lines().last()), (0, Some("1 passed, 0 failed")));
    assert_eq!(fieldmerge(&["vectors"]).0, 2);
    assert_eq!(fieldmerge(&["vectors", "--help"]).0, 0);
}

#[test]
fn the_apply_command_prints_the_state_and_the_reports_or_a_typed_error() {
    let tmp = scratch("apply-cli");
    let state = json!({"client_id": "phone", "records": [{"table": "tasks", "id": "t1", "fields": {
        "title": {"value": "mine", "at": "2026-04-26T10:00:01.000Z", "origin": "user", "by": "phone",
                  "base": {"at": "2026-04-26T10:00:00.000Z", "by": "laptop"}}}}]});
    let changes = json!([{"table": "tasks", "id": "t1", "op": "update", "data": {"title": "theirs"},
        "field_meta": {"title": {"at": "2026-04-26T10:00:02.000Z", "origin": "user", "base": null}},
        "client_id": "laptop"}]);
    let state_path = tmp.join("state.json");
    let changes_path = tmp.join("changes.json");
    std::fs::write(&state_path, state.to_string()).expect("write");
    std::fs::write(&changes_path, changes.to_string()).expect("write");
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut v = vec![
            "apply".to_owned(),
            "--state".to_owned(),
            state_path.display().to_string(),
            "--changes".to_owned(),
            changes_path.display().to_string(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: Vec<String>| fieldmerge(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, out) = run(args(&[]));
    assert_eq!(code, 0, "{out}");
    let result: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(result["conflicts"][0]["rule"], json!("unwitnessed"));
    assert_eq!(result["conflicts"][0]["loser_is_local"], json!(true));
    assert_eq!(result["tally"]["conflict_unwitnessed"], json!(1));
    assert_eq!(
        result["state"]["records"][0]["fields"]["title"]["value"],
        json!("theirs")
    );
    let (code, out) = run(args(&["--hydration"]));
    assert_eq!(code, 0, "{out}");

    std::fs::write(&changes_path, br#"[{"table": "tasks"}]"#).expect("write");
    let (code, out) = run(args(&[]));
    assert_eq!(code, 1, "{out}");
    let error: serde_json::Value = serde_json::from_str(&out).expect("JSON error");
    assert_eq!(error["error"]["code"], json!("missing"));
    assert_eq!(error["error"]["index"], json!(0));

    std::fs::write(&state_path, br#"{"client_id": "phone", "extra": 1}"#).expect("write");
    let (code, out) = run(args(&[]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(r#""code":"state_json""#), "{out}");
    assert_eq!(fieldmerge(&["apply", "--state"]).0, 2);
    assert_eq!(fieldmerge(&["apply", "--help"]).0, 0);
}

fn fieldmerge_with_stderr(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fieldmerge"))
        .args(args)
        .output()
        .expect("the fieldmerge binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn help_and_version_exit_0_and_document_every_subcommand_and_the_exit_codes() {
    let (code, out) = fieldmerge(&["--help"]);
    assert_eq!(code, 0, "{out}");
    for word in ["sim", "vectors", "apply", "Exit codes", "--version"] {
        assert!(out.contains(word), "--help lacks {word}: {out}");
    }
    let (code, out) = fieldmerge(&["--version"]);
    assert_eq!(
        (code, out.trim()),
        (0, concat!("fieldmerge ", env!("CARGO_PKG_VERSION")))
    );
    let (code, out) = fieldmerge(&["sim", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--seeds",
        "--seed",
        "--until",
        "--shard",
        "--jobs",
        "--scenarios",
        "--check-determinism",
        "--mutation",
        "--json",
        "Exit codes",
    ] {
        assert!(out.contains(flag), "sim --help lacks {flag}");
    }
    // Bad arguments exit 2.
    assert_eq!(fieldmerge(&["sim", "--seeds", "5..5"]).0, 2);
    assert_eq!(fieldmerge(&["sim", "--until", "3"]).0, 2);
    assert_eq!(fieldmerge(&["nonsense"]).0, 2);
    assert_eq!(fieldmerge(&[]).0, 2);
}

#[test]
fn sim_json_prints_one_object_and_no_progress_bar_goes_to_a_stderr_that_is_not_a_terminal() {
    let (code, out, err) =
        fieldmerge_with_stderr(&["sim", "--seeds", "0..4", "--steps", "40", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(summary["seeds"], json!(4));
    assert_eq!(summary["violations"], json!(0));
    assert!(summary["faults"]["server-restart"].is_u64(), "{summary}");
    assert!(
        summary["marks"]["decision_insert"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{summary}"
    );
    // Four short seeds do not fire everything, so the campaign fails, and
    // says what never fired.
    assert_eq!(code, 1);
    assert_eq!(summary["passed"], json!(false));
    assert!(!summary["never_fired"]
        .as_array()
        .expect("a list")
        .is_empty());
    // The table form, with stderr captured (not a terminal): no bar.
    let (_, out, err2) = fieldmerge_with_stderr(&["sim", "--seeds", "0..2", "--steps", "20"]);
    assert!(out.contains("violations"), "{out}");
    for stderr in [err, err2] {
        assert!(
            !stderr.contains("seeds,"),
            "a progress bar went to a pipe: {stderr}"
        );
    }
}

#[test]
fn vectors_json_prints_one_object_a_test_can_parse() {
    let dir = vectors_dir();
    let (code, out) = fieldmerge(&["vectors", "--json", dir.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{out}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert!(
        summary["passed"].as_u64().is_some_and(|n| n > 100),
        "{summary}"
    );
    assert_eq!(summary["failed"], json!(0));
    let tmp = scratch("vectors-json");
    std::fs::write(tmp.join("broken.json"), b"{").expect("write");
    let (code, out) = fieldmerge(&["vectors", "--json", tmp.to_str().expect("utf-8 path")]);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!((code, summary["failed"].clone()), (1, json!(1)));
    assert!(summary["failures"][0]["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("broken.json")));
}

#[test]
fn vectors_does_not_follow_a_symbolic_link_cycle_and_apply_refuses_an_endless_input() {
    let tmp = scratch("vectors-loop");
    std::fs::write(
        tmp.join("a.json"),
        serde_json::to_vec(&write_vector("a")).expect("JSON"),
    )
    .expect("write");
    std::os::unix::fs::symlink(&tmp, tmp.join("loop")).expect("symlink");
    let (code, out) = fieldmerge(&["vectors", tmp.to_str().expect("utf-8 path")]);
    assert_eq!(
        (code, out.lines().last()),
        (0, Some("1 passed, 0 failed")),
        "{out}"
    );
    let (code, out) = fieldmerge(&[
        "apply",
        "--state",
        "/dev/zero",
        "--changes",
        "/dev/null",
        "--input-bytes-max",
        "1000",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(r#""code":"too_large""#), "{out}");
}

fn import_data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fieldmerge-import/tests/data")
        .join(name)
        .display()
        .to_string()
}

/// SPEC R14: `fieldmerge import` documents its three inputs, prints one
/// canonical object, gives the same bytes for the same input, and exits 1
/// when a row was refused (the result still printed) or the input was.
#[test]
fn the_import_command_is_documented_deterministic_and_says_when_a_row_was_refused() {
    let (code, help) = fieldmerge(&["import", "--help"]);
    assert_eq!(code, 0);
    for word in [
        "rows",
        "served",
        "device",
        "--client-id",
        "sync_changes",
        "__fieldMeta",
        "Exit codes",
    ] {
        assert!(help.contains(word), "import --help lacks {word}");
    }
    let rows = import_data("rows.jsonl");
    let (code, first) = fieldmerge(&["import", "rows", &rows]);
    assert_eq!(code, 1, "the fixture has a bad row and a bad line: {first}");
    let (_, second) = fieldmerge(&["import", "rows", &rows]);
    assert_eq!(first, second, "importing twice gives the same bytes");
    let out: serde_json::Value = serde_json::from_str(&first).expect("one JSON object");
    assert_eq!(out["log"].as_array().map(Vec::len), Some(7));
    assert_eq!(
        first.trim(),
        fieldmerge::canonical_json(&out),
        "canonical form"
    );

    let d2 = import_data("device-d2.json");
    let (code, out) = fieldmerge(&["import", "device", &d2, "--client-id", "c-d2"]);
    assert_eq!(code, 0, "{out}");
    let out: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(out["state"]["client_id"], "c-d2");
    assert_eq!(
        fieldmerge(&["import", "device", &d2]).0,
        2,
        "a device needs its client id"
    );
    let (code, out) = fieldmerge(&["import", "served", &rows]);
    assert_eq!(code, 1, "rows are not served changes: every row refused");
    let out: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(out["log"], json!([]));
}
