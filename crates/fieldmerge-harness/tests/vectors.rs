//! Conformance vectors (issue #3): every file of `spec/vectors/` run through
//! the public runner against the kernel, and proof that the runner can fail.

use std::path::PathBuf;

use fieldmerge_harness::vectors::{
    collect_files, run_file, run_paths, run_vector, FileOutcome, KernelEngine,
};
use serde_json::json;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/vectors")
}

#[test]
fn every_vector_in_spec_vectors_passes_against_the_kernel() {
    let files = collect_files(&[vectors_dir()]).expect("spec/vectors exists");
    assert!(
        files.len() >= 100,
        "expected at least 100 vectors, found {}",
        files.len()
    );
    let mut engine = KernelEngine::default();
    let failures: Vec<String> = files
        .iter()
        .map(|f| run_file(&mut engine, f))
        .filter(|o| !o.passed())
        .map(|o| match o {
            FileOutcome::Ran(r) => r.render(),
            FileOutcome::Error(e) => format!("ERROR {e}\n"),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.concat()
    );
}

#[test]
fn every_rule_of_the_spec_is_pinned_by_some_vector() {
    let spec = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/SPEC.md"),
    )
    .expect("spec/SPEC.md");
    let rules: Vec<String> = spec
        .lines()
        .filter_map(|l| l.strip_prefix("- **R"))
        .filter_map(|l| l.split("**").next())
        .map(|r| format!("R{r}"))
        .collect();
    assert!(rules.len() > 40, "parsed only {} rules", rules.len());
    let mut pinned = std::collections::BTreeSet::new();
    for file in collect_files(&[vectors_dir()]).expect("spec/vectors exists") {
        let text = std::fs::read(&file).expect("readable");
        let v: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
        for r in v["rules"].as_array().into_iter().flatten() {
            pinned.insert(r.as_str().unwrap_or_default().to_owned());
        }
    }
    let missing: Vec<&String> = rules.iter().filter(|r| !pinned.contains(*r)).collect();
    assert!(missing.is_empty(), "rules no vector pins: {missing:?}");
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

#[test]
fn a_deliberately_wrong_expectation_makes_the_runner_fail() {
    let mut engine = KernelEngine::default();
    let right = run_vector(&mut engine, &write_vector("a"), "right").expect("valid");
    assert!(right.passed(), "{}", right.render());
    let wrong = run_vector(&mut engine, &write_vector("b"), "wrong").expect("valid");
    assert!(!wrong.passed());
    let rendered = wrong.render();
    assert!(rendered.contains("step 0 (write): records"), "{rendered}");
    assert!(rendered.contains(r#""value":"b""#), "{rendered}");
    assert!(rendered.contains(r#""value":"a""#), "{rendered}");
}

#[test]
fn an_unexpected_error_and_a_missing_error_both_fail() {
    let mut engine = KernelEngine::default();
    let mut v = write_vector("a");
    v["steps"][0]["patch"] = json!({"_updatedAtIndex": 1});
    let got = run_vector(&mut engine, &v, "unexpected").expect("valid");
    assert!(
        !got.passed(),
        "a refused write must fail a vector expecting none"
    );
    v["steps"][0]["expect"] = json!({"error": "reserved_field"});
    let got = run_vector(&mut engine, &v, "expected").expect("valid");
    assert!(got.passed(), "{}", got.render());
    v["steps"][0]["expect"] = json!({"error": "bad_name"});
    let got = run_vector(&mut engine, &v, "wrong code").expect("valid");
    assert!(!got.passed());
    let mut ok = write_vector("a");
    ok["steps"][0]["expect"] = json!({"error": "reserved_field"});
    let got = run_vector(&mut engine, &ok, "missing").expect("valid");
    assert!(
        !got.passed(),
        "a success must fail a vector expecting an error"
    );
}

#[test]
fn integer_and_float_spellings_are_one_expectation() {
    let mut engine = KernelEngine::default();
    let mut v = write_vector("a");
    v["steps"][0]["patch"] = json!({"n": 1});
    v["steps"][0]["expect"] = json!({"records": [{"table": "tasks", "id": "t1", "fields": {
        "n": {"value": 1.0, "at": "2026-04-26T10:00:00.000Z", "origin": "user", "by": "phone", "base": null}},
        "updated_at_index": "2026-04-26T10:00:00.000Z"}]});
    let got = run_vector(&mut engine, &v, "float").expect("valid");
    assert!(got.passed(), "1.0 matches 1 (R4.4)");
    v["steps"][0]["expect"]["records"][0]["fields"]["n"]["value"] = json!(1.5);
    let got = run_vector(&mut engine, &v, "float").expect("valid");
    assert!(!got.passed(), "1.5 must not match 1");
}

#[test]
fn malformed_vectors_are_typed_errors_naming_the_file_and_step() {
    let mut engine = KernelEngine::default();
    let cases = [
        (json!([]), None, "object"),
        (
            json!({"description": "x", "rules": [], "steps": []}),
            None,
            "rules",
        ),
        (
            json!({"description": "x", "rules": ["6.3"], "steps": [{"op": "check"}]}),
            None,
            "rule number",
        ),
        (
            json!({"description": "x", "rules": ["R1"], "steps": [{"op": "fly"}]}),
            Some(0),
            "unknown op",
        ),
        (
            json!({"description": "x", "rules": ["R1"], "replicas": {"p": {"client_id": "p"}},
                "steps": [{"op": "check"}, {"op": "write", "table": "t"}]}),
            Some(1),
            "missing",
        ),
        (
            json!({"description": "x", "rules": ["R1"], "replicas": {"p": {"client_id": "p"}},
                "steps": [{"op": "check", "expect": {"recrods": []}}]}),
            Some(0),
            "unknown expectation",
        ),
        (
            json!({"description": "x", "rules": ["R1"], "replicas": {"p": {"client_id": "p"}},
                "steps": [{"op": "ack", "replica": "q", "through": 1}]}),
            Some(0),
            "no replica",
        ),
        (
            json!({"description": "x", "rules": ["R1"], "replicas": {"p": {"client_id": "p"}},
                "steps": [{"op": "write", "table": "t", "id": "i", "actor": {"kind": "user"},
                           "patch": {}, "now": "yesterday"}]}),
            Some(0),
            "now",
        ),
        (
            json!({"description": "x", "rules": ["R1"], "replicas": {"p": {"client_id": "p"}},
                "steps": [{"op": "ack", "through": 1, "thru": 2}]}),
            Some(0),
            "unknown member",
        ),
    ];
    for (vector, step, needle) in cases {
        let err = run_vector(&mut engine, &vector, "bad.json").expect_err("malformed");
        assert_eq!(err.file, "bad.json");
        assert_eq!(err.step, step, "{err}");
        assert!(err.to_string().contains(needle), "{err} lacks {needle:?}");
    }
}

#[test]
fn a_missing_path_is_an_error_and_a_bad_file_is_a_failed_outcome() {
    let mut engine = KernelEngine::default();
    assert!(run_paths(&mut engine, &[PathBuf::from("/no/such/vectors")]).is_err());
    let readme = vectors_dir().join("README.md");
    assert!(matches!(
        run_file(&mut engine, &readme),
        FileOutcome::Error(_)
    ));
}

#[test]
fn damaged_vectors_never_panic_the_runner() {
    // Every step member of every vector, removed or replaced by a value of
    // the wrong type: the runner must answer with a result or a typed error.
    let mut engine = KernelEngine::default();
    let mut runs = 0;
    for file in collect_files(&[vectors_dir()]).expect("spec/vectors exists") {
        let text = std::fs::read(&file).expect("readable");
        let vector: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
        let steps = vector["steps"].as_array().cloned().unwrap_or_default();
        for (i, step) in steps.iter().enumerate().take(3) {
            let members: Vec<String> = step
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .collect();
            for member in members {
                for damage in [
                    None,
                    Some(json!(null)),
                    Some(json!([7])),
                    Some(json!({"$nested_array": 2000})),
                ] {
                    let mut bad = vector.clone();
                    let target = bad["steps"][i].as_object_mut().expect("a step object");
                    match damage {
                        None => {
                            target.remove(&member);
                        }
                        Some(v) => {
                            target.insert(member.clone(), v);
                        }
                    }
                    let _ = run_vector(&mut engine, &bad, "damaged");
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 1000, "only {runs} damaged vectors were run");
}

/// Every stable error code of SPEC R11.5, the write, push, page and state
/// boundaries, as listed in `spec/vectors/README.md`.
const ERROR_CODES: [&str; 34] = [
    "json",
    "duplicate_member",
    "bad_number",
    "wrong_type",
    "missing",
    "unknown_member",
    "unknown_op",
    "unknown_origin",
    "bad_timestamp",
    "meta_without_data",
    "data_without_meta",
    "empty_change",
    "bad_name",
    "local_only_field",
    "too_deep",
    "too_many_fields",
    "delete_without_tombstone",
    "not_at_cursor",
    "not_consecutive",
    "head_behind",
    "other_log",
    "reserved_field",
    "no_such_record",
    "clock_exhausted",
    "foreign_change",
    "missing_seq",
    "seq_order",
    "seq_gap",
    "clock_ahead",
    "stale_clock",
    "ext_too_large",
    "seq_reused",
    "state_json",
    "state_inconsistent",
];

fn expected_codes(value: &serde_json::Value, codes: &mut std::collections::BTreeSet<String>) {
    match value {
        serde_json::Value::Object(m) => {
            if let Some(e) = m.get("expect").and_then(|e| e.get("error")) {
                let code = e
                    .as_str()
                    .or_else(|| e["code"].as_str())
                    .unwrap_or_default();
                codes.insert(code.to_owned());
            }
            m.values().for_each(|v| expected_codes(v, codes));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| expected_codes(v, codes)),
        _ => {}
    }
}

#[test]
fn every_error_code_is_expected_by_some_vector_and_no_other() {
    let mut codes = std::collections::BTreeSet::new();
    for file in collect_files(&[vectors_dir()]).expect("spec/vectors exists") {
        let text = std::fs::read(&file).expect("readable");
        expected_codes(&serde_json::from_slice(&text).expect("JSON"), &mut codes);
    }
    let missing: Vec<&&str> = ERROR_CODES
        .iter()
        .filter(|c| !codes.contains(**c))
        .collect();
    assert!(
        missing.is_empty(),
        "error codes no vector expects: {missing:?}"
    );
    let unknown: Vec<&String> = codes
        .iter()
        .filter(|c| !ERROR_CODES.contains(&c.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "vectors expect codes that do not exist: {unknown:?}"
    );
}

/// The step table of `spec/vectors/README.md` lists every member any vector
/// uses, for every op (issue #12): a runner written from the README alone
/// must not meet a member it was never told about.
#[test]
fn the_readme_step_table_lists_every_member_a_vector_uses() {
    let readme = std::fs::read_to_string(vectors_dir().join("README.md")).expect("README");
    let mut table: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let (Some(op), Some(members)) = (cells.first(), cells.get(1)) else {
            continue;
        };
        let op = op.trim_start_matches("| ").trim_matches('`').to_owned();
        // Members are the backticked words of the cell; "key" stands for
        // `table` and `id`, or `kind` and `scope` (R10.2).
        let mut names: Vec<String> = members
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        if members.contains("key") {
            names.extend(["table", "id", "kind", "scope"].map(str::to_owned));
        }
        table.entry(op).or_insert(names);
    }
    let mut missing = Vec::new();
    for file in collect_files(&[vectors_dir()]).expect("spec/vectors exists") {
        let vector: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).expect("readable")).expect("JSON");
        for step in vector["steps"].as_array().into_iter().flatten() {
            let op = step["op"].as_str().unwrap_or_default();
            let listed = table.get(op);
            for member in step.as_object().into_iter().flat_map(|m| m.keys()) {
                if member == "op" || member == "expect" {
                    continue;
                }
                if !listed.is_some_and(|names| names.contains(member)) {
                    missing.push(format!("{op}.{member} ({})", file.display()));
                }
            }
        }
    }
    missing.sort();
    missing.dedup_by(|a, b| a.split(' ').next() == b.split(' ').next());
    assert!(
        missing.is_empty(),
        "members the step table does not list: {missing:#?}"
    );
}
