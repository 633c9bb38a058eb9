//! SPEC R12.6: a page is read entry by entry. An entry that is not a valid
//! change, by R11.5 or by a fault of its own text (R11.7), is quarantined
//! at its place; a fault of the page's own text refuses the page. One
//! `check` per text: what the page reader makes of it.

use fieldmerge::{Page, PushReply};

const VALID: &str = r#"{"table":"tasks","id":"t1","op":"insert","data":{"title":"a"},"field_meta":{"title":{"at":"2026-04-26T10:00:00.000Z","origin":"user","base":null}},"client_id":"phone","server_seq":1}"#;

/// What reading a page gave: its changes' count and each quarantined
/// entry as `(server_seq, code, index, field)`, or the page's error code.
type Read = Result<(usize, Vec<(u64, String, Option<usize>, Option<String>)>), String>;

fn read(text: &[u8]) -> Read {
    let page = Page::from_json(text).map_err(|e| e.kind.code().to_owned())?;
    let quarantined = page
        .quarantined
        .iter()
        .map(|q| {
            (
                q.server_seq,
                q.error.code.clone(),
                q.error.index,
                q.error.field.clone(),
            )
        })
        .collect();
    Ok((page.changes.len(), quarantined))
}

fn check(entries: &str, want: Read) {
    let text = format!(r#"{{"after":0,"changes":{entries},"head":9}}"#);
    assert_eq!(read(text.as_bytes()), want, "{entries}");
}

fn q(seq: u64, code: &str, field: Option<&str>) -> (u64, String, Option<usize>, Option<String>) {
    (
        seq,
        code.to_owned(),
        Some(seq as usize - 1),
        field.map(str::to_owned),
    )
}

#[test]
fn r12_6_an_entry_whose_own_text_breaks_r11_7_is_quarantined_at_its_place() {
    let bad_number = VALID.replace(r#""title":"a""#, r#""title":1e400"#);
    check(
        &format!("[{VALID},{bad_number}]"),
        Ok((1, vec![q(2, "bad_number", Some("title"))])),
    );
    let twice = VALID.replace(r#""title":"a""#, r#""title":"a","title":"b""#);
    check(
        &format!("[{twice}, {VALID}]"),
        Ok((1, vec![q(1, "duplicate_member", Some("title"))])),
    );
    let surrogate = VALID.replace(r#""title":"a""#, r#""title":"\ud800""#);
    check(&format!("[{surrogate}]"), Ok((0, vec![q(1, "json", None)])));
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let deep = VALID.replace(r#""title":"a""#, &format!(r#""title":{deep}"#));
    check(
        &format!(" [ {VALID} ,\n{deep} ] "),
        Ok((1, vec![q(2, "too_deep", Some("title"))])),
    );
}

#[test]
fn r12_6_an_entry_refused_by_r11_5_is_quarantined_and_the_rest_read() {
    let unknown = VALID.replace(r#""op":"insert""#, r#""op":"upsert""#);
    check(
        &format!(r#"[{unknown},"x",null,{VALID},[]]"#),
        Ok((
            1,
            vec![
                q(1, "unknown_op", None),
                q(2, "wrong_type", None),
                q(3, "wrong_type", None),
                q(5, "wrong_type", None),
            ],
        )),
    );
    check("[]", Ok((0, vec![])));
}

#[test]
fn r12_6_the_page_is_found_by_its_unescaped_member_name() {
    // `changes` spelt with an escape still names the list of entries.
    let bad_number = VALID.replace(r#""title":"a""#, r#""title":1e400"#);
    let text = format!(r#"{{"after":0,"chan\u0067es":[{bad_number}],"head":1}}"#);
    assert_eq!(
        read(text.as_bytes()),
        Ok((0, vec![q(1, "bad_number", Some("title"))]))
    );
}

#[test]
fn r12_6_a_fault_of_the_page_itself_refuses_it() {
    let bad_number = VALID.replace(r#""title":"a""#, r#""title":1e400"#);
    let refused = |text: &[u8], code: &str| assert_eq!(read(text), Err(code.to_owned()));
    refused(
        format!(r#"{{"after":0,"changes":[{bad_number}],"head":1,"head":1}}"#).as_bytes(),
        "duplicate_member",
    );
    refused(
        format!(r#"{{"after":1e400,"changes":[{bad_number}],"head":1}}"#).as_bytes(),
        "bad_number",
    );
    refused(
        format!(r#"{{"after":0,"changes":[{bad_number},],"head":1}}"#).as_bytes(),
        "json",
    );
    refused(
        format!(r#"{{"after":0,"changes":[{bad_number}],"head":1,"extra":0}}"#).as_bytes(),
        "unknown_member",
    );
    refused(br#"{"after":0,"changes":{},"head":1}"#, "wrong_type");
    refused(br#"{"after":0,"changes":[1e400,"\xff"],"head":1}"#, "json");
    refused(b"{\"after\":0,\"changes\":[1e400],\"head\":1}\xff", "json");
    refused(br#"{"after":0,"changes":[1e400]"#, "json");
}

#[test]
fn r12_6_a_push_reply_reads_its_page_entry_by_entry() {
    let bad_number = VALID.replace(r#""title":"a""#, r#""title":1e400"#);
    let report = r#"{"conflicts":[],"anomalies":[],"hidden_edits":[],"changed":[],"tally":{"inserted":0,"duplicate":0,"stale":0,"twin":0,"overwrite_not_user":0,"overwrite_same_value":0,"overwrite_witnessed":0,"overwrite_legacy_hydration":0,"conflict_unwitnessed":0,"conflict_legacy":0}}"#;
    let text = format!(
        r#"{{"acked_through":null,"appended":0,"page":{{"after":0,"changes":[{VALID},{bad_number}],"head":2}},"report":{report}}}"#
    );
    let reply = PushReply::from_json(text.as_bytes()).expect("a reply");
    assert_eq!(reply.page.changes.len(), 1);
    assert_eq!(reply.page.quarantined[0].server_seq, 2);
    assert_eq!(
        reply.page.quarantined[0].entry,
        serde_json::Value::String(bad_number)
    );
    let twice = text.replace(r#""appended":0"#, r#""appended":0,"appended":0"#);
    assert_eq!(
        PushReply::from_json(twice.as_bytes())
            .map(|_| ())
            .map_err(|e| e.kind.code()),
        Err("duplicate_member")
    );
}

#[test]
fn r12_6_a_quarantined_entry_is_served_at_its_place_and_skipped_by_every_replica() {
    use crate::support::{key, obj, replica, t};
    use fieldmerge::{Actor, Server, ServerConfig};
    use serde_json::json;

    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(0))
        .expect("write");
    server.push(&phone.push(), t(0)).expect("accepted");
    assert!(
        server.append_quarantined(json!(VALID)).is_some(),
        "a string is no change"
    );
    let valid: serde_json::Value = serde_json::from_str(VALID).expect("JSON");
    assert!(
        server.append_quarantined(valid).is_none(),
        "a valid change comes through a push"
    );
    // An entry is kept as a replica reads it back (R4.4); one no JSON text
    // holds is not kept at all.
    let kept = server
        .append_quarantined(json!({"n": 1.0, "z": -0.0}))
        .map(|q| q.entry.clone());
    assert_eq!(kept, Some(json!({"n": 1, "z": 0})));
    assert!(server
        .append_quarantined(json!({"n": 9_007_199_254_740_993u64}))
        .is_none());
    let deep = fieldmerge_harness::gen::nested(json!(1), 129, false);
    assert!(server.append_quarantined(deep).is_none());
    phone
        .write(&key("t2"), &Actor::User, &obj(json!({"title": "b"})), t(1))
        .expect("write");
    server.push(&phone.push(), t(1)).expect("accepted");
    assert_eq!(server.head(), 4);

    // Through the page's text, in pages of one: the cursor steps past it.
    let mut laptop = replica("laptop");
    let mut seen = Vec::new();
    while laptop.cursor().unwrap_or(0) < server.head() {
        let page = server.pull(laptop.cursor().unwrap_or(0), 1);
        let page =
            Page::from_json(fieldmerge::canonical_json(&page.to_json()).as_bytes()).expect("reads");
        seen.extend(laptop.apply_page(&page).expect("applies").quarantined);
    }
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].server_seq, seen[0].error.index), (2, Some(0)));
    assert_eq!(seen[1].entry, json!({"n": 1, "z": 0}));
    assert_eq!(laptop.records(), server.records());

    // A server rebuilt from its stored parts keeps the entry in its place.
    let clients: Vec<_> = server
        .clients()
        .map(|(id, row)| (id.clone(), row))
        .collect();
    let rebuilt = Server::from_log_quarantined(
        server.config(),
        server.log().to_vec(),
        server.quarantined().to_vec(),
        clients,
    )
    .expect("rebuilds");
    assert_eq!(rebuilt, server);
    assert_eq!(rebuilt.pull(0, 10), server.pull(0, 10));

    // The log's JSON form holds the entry at its place and reads back the
    // same (R13.2): what a server over storage stores and reloads.
    let text =
        fieldmerge::canonical_json(&fieldmerge::encode_log(server.log(), server.quarantined()));
    let (log, quarantined) = fieldmerge::decode_log(text.as_bytes()).expect("reads");
    assert_eq!(
        (log.as_slice(), quarantined.as_slice()),
        (server.log(), server.quarantined())
    );
    assert_eq!(quarantined[0].server_seq, 2);
    assert_eq!(quarantined[0].entry, json!(VALID));
    assert_eq!(
        fieldmerge::decode_log(b"{}")
            .map(|_| ())
            .map_err(|e| e.kind.code()),
        Err("wrong_type")
    );
}

/// SPEC R11.7 on the fast path of issue #13: a member named twice at any
/// level of a page or a push is `duplicate_member`, as the one reader says,
/// never the second value read over the first. One text per member.
#[test]
fn r11_7_a_member_twice_at_any_level_of_a_page_or_a_push_is_refused() {
    let change = r#"{"table":"tasks","id":"t1","op":"update","data":{"title":"a"},"field_meta":{"title":{"at":"2026-04-26T10:00:00.000Z","origin":"user","by":"phone","base":{"at":"2026-04-26T09:00:00.000Z","by":"laptop"}}},"client_id":"phone","client_seq":1,"server_seq":1}"#;
    let page = |c: &str| format!(r#"{{"after":0,"changes":[{c}],"head":1}}"#);
    let push =
        |c: &str| format!(r#"{{"client_id":"phone","changes":[{c}],"cursor":0,"clock_epoch":0}}"#);
    // The valid texts read, so each duplicate below is what refuses.
    assert!(Page::from_json(page(change).as_bytes()).is_ok());
    assert!(fieldmerge::Push::from_json(push(change).as_bytes()).is_ok());
    // The text with `member` written twice where it first appears.
    let twice = |text: &str, member: &str| text.replacen(member, &format!("{member},{member}"), 1);
    let code = |r: Result<(), fieldmerge::ChangeError>| r.map_err(|e| e.kind.code());
    for member in [
        r#""table":"tasks""#,
        r#""id":"t1""#,
        r#""op":"update""#,
        r#""client_id":"phone""#,
        r#""client_seq":1"#,
        r#""server_seq":1"#,
        r#""data":{"title":"a"}"#,
        r#""title":"a""#,
        r#""at":"2026-04-26T10:00:00.000Z""#,
        r#""origin":"user""#,
        r#""by":"phone""#,
        r#""base":{"at":"2026-04-26T09:00:00.000Z","by":"laptop"}"#,
        r#""at":"2026-04-26T09:00:00.000Z""#,
        r#""by":"laptop""#,
    ] {
        let bad = twice(change, member);
        assert_ne!(bad, change, "{member}");
        let page = page(&bad);
        assert_eq!(
            code(Page::from_json(page.as_bytes()).map(|_| ())),
            Ok(()),
            "a page quarantines it: {member}"
        );
        let quarantined = Page::from_json(page.as_bytes()).map(|p| p.quarantined.len());
        assert_eq!(quarantined.map_err(|e| e.kind.code()), Ok(1), "{member}");
        assert_eq!(
            code(fieldmerge::Push::from_json(push(&bad).as_bytes()).map(|_| ())),
            Err("duplicate_member"),
            "a push refuses it: {member}"
        );
    }
    let field_meta = change.replace(
        r#""field_meta":{"#,
        r#""field_meta":{"title":{"at":"2026-04-26T10:00:00.000Z","origin":"user"},"#,
    );
    assert_eq!(
        code(fieldmerge::Push::from_json(push(&field_meta).as_bytes()).map(|_| ())),
        Err("duplicate_member")
    );
    for (text, member) in [
        (page(change), r#""after":0"#),
        (page(change), r#""head":1"#),
        (push(change), r#""client_id":"phone""#),
        (push(change), r#""cursor":0"#),
        (push(change), r#""clock_epoch":0"#),
    ] {
        let bad = twice(&text, member);
        let read = if text.starts_with(r#"{"after""#) {
            code(Page::from_json(bad.as_bytes()).map(|_| ()))
        } else {
            code(fieldmerge::Push::from_json(bad.as_bytes()).map(|_| ()))
        };
        assert_eq!(read, Err("duplicate_member"), "{member}");
    }
    // Text after the message is no message (R11.7), whichever path reads it.
    assert_eq!(
        code(Page::from_json(format!("{} x", page(change)).as_bytes()).map(|_| ())),
        Err("json")
    );
    assert_eq!(
        code(fieldmerge::Push::from_json(format!("{}}}", push(change)).as_bytes()).map(|_| ())),
        Err("json")
    );
    let changes_twice = page(change).replacen(r#""changes":"#, r#""changes":[],"changes":"#, 1);
    assert_eq!(
        code(Page::from_json(changes_twice.as_bytes()).map(|_| ())),
        Err("duplicate_member")
    );
    let changes_twice = push(change).replacen(r#""changes":"#, r#""changes":[],"changes":"#, 1);
    assert_eq!(
        code(fieldmerge::Push::from_json(changes_twice.as_bytes()).map(|_| ())),
        Err("duplicate_member")
    );
}
